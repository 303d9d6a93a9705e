import { sql } from 'drizzle-orm';
import type { AccountsContext, Tx } from './context';

/**
 * Runs a change to one account (or its secrets) in a transaction that also NOTIFYs every process sharing
 * the database, so caches everywhere drop that account if and only if the change commits. Resolves once
 * this process has received the notification back; PostgreSQL signalled every listener at the same commit,
 * so the other processes receive theirs at about the same moment (scheduling may delay one by milliseconds).
 */
export async function changeAccount<T>(
  ctx: AccountsContext,
  accountId: string,
  change: (tx: Tx) => Promise<T>,
): Promise<T> {
  const announcement = ctx.credentials.announce(accountId);
  let result: T;
  try {
    result = await ctx.db.transaction(async (tx) => {
      const value = await change(tx);
      await tx.execute(sql`select pg_notify(${announcement.channel}, ${announcement.payload})`);
      return value;
    });
  } catch (error) {
    ctx.credentials.abandon(announcement);
    throw error;
  }
  await announcement.seen();
  return result;
}

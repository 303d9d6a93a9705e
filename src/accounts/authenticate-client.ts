import { and, desc, eq } from 'drizzle-orm';
import { clientSecrets, serviceAccounts, type ClientSecretRow, type ServiceAccountRow } from '../db/schema';
import type { AccountsContext } from './context';
import { secretIdOf } from './secret-format';

/** Why a client authentication failed. Clients only ever see `invalid_client`; the audit trail sees this. */
export type AuthFailureReason =
  | 'unknown_client'
  | 'bad_secret'
  | 'secret_disabled'
  | 'secret_revoked'
  | 'secret_expired'
  | 'account_disabled'
  | 'account_revoked';

export type ClientAuthResult =
  | { ok: true; account: ServiceAccountRow; secret: ClientSecretRow }
  | { ok: false; reason: AuthFailureReason; clientId: string; accountId?: string | undefined; secretId?: string | undefined };

/**
 * Checks a client_id and secret. Costs one indexed query and at most one argon2 verify (skipped when this
 * process verified the same secret recently); an unknown client costs the same argon2 work as a wrong
 * secret. The status of the account and secret is read from the database on every call, so a disable or
 * revoke takes effect on the very next request on every instance.
 */
export async function authenticateClient(
  ctx: AccountsContext,
  clientId: string,
  presented: string,
): Promise<ClientAuthResult> {
  const secretId = secretIdOf(presented);
  const [found] = await ctx.db
    .select({ account: serviceAccounts, secret: clientSecrets })
    .from(serviceAccounts)
    .leftJoin(
      clientSecrets,
      secretId
        ? and(eq(clientSecrets.accountId, serviceAccounts.id), eq(clientSecrets.id, secretId))
        : and(eq(clientSecrets.accountId, serviceAccounts.id), eq(clientSecrets.origin, 'supplied')),
    )
    .where(eq(serviceAccounts.clientId, clientId))
    .orderBy(desc(clientSecrets.createdAt))
    .limit(1);

  const fail = (reason: AuthFailureReason): ClientAuthResult => ({
    ok: false,
    reason,
    clientId,
    accountId: found?.account.id,
    secretId: found?.secret?.id,
  });

  if (!found?.secret) {
    await ctx.hasher.burn(presented);
    return fail(found ? 'bad_secret' : 'unknown_client');
  }
  const { account, secret } = found;
  if (!(await ctx.hasher.verify(secret.hash, presented, secret.id))) return fail('bad_secret');

  // The secret is genuine; now the states, most permanent first.
  if (account.status === 'revoked') return fail('account_revoked');
  if (secret.status === 'revoked') return fail('secret_revoked');
  if (account.status === 'disabled') return fail('account_disabled');
  if (secret.status === 'disabled') return fail('secret_disabled');
  if (secret.expiresAt.getTime() <= ctx.clock().getTime()) return fail('secret_expired');
  return { ok: true, account, secret };
}

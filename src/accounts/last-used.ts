import { sql, type SQL } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Database } from '../db/connect';
import type { Credential } from './authenticate-client';
import { loggableError } from '../logger';

interface Use {
  accountId: string;
  credential: Credential;
  at: Date;
  ip: string | null;
}

const BATCH_SIZE = 500;

/**
 * last_used_at / last_used_ip of secrets and accounts, kept off the hot path: `touch` coalesces uses in
 * memory (one entry per secret, the latest wins) and `flush` writes them in batches. Times never move
 * backwards, so instances flushing in any order agree. A failed write keeps the uses for the next flush.
 */
export class LastUsedTracker {
  private pending = new Map<string, Use>();
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
  ) {}

  touch(accountId: string, credential: Credential, at: Date, ip: string | undefined): void {
    const key = `${credential.kind}:${credential.id}`;
    const current = this.pending.get(key);
    if (!current || current.at.getTime() <= at.getTime()) this.pending.set(key, { accountId, credential, at, ip: ip ?? null });
  }

  get size(): number {
    return this.pending.size;
  }

  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeAll());
    return this.writing;
  }

  private async writeAll(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    const entries = [...taken];
    try {
      for (let i = 0; i < entries.length; i += BATCH_SIZE) {
        const batch = entries.slice(i, i + BATCH_SIZE).map(([, use]) => use);
        for (const kind of ['secret', 'key'] as const) {
          const rows = batch.filter((u) => u.credential.kind === kind).map((u) => ({ id: u.credential.id, at: u.at, ip: u.ip }));
          if (rows.length > 0) await this.db.execute(updateLastUsed(kind === 'secret' ? 'client_secrets' : 'client_keys', rows));
        }
        const byAccount = new Map<string, Use>();
        for (const use of batch) {
          const seen = byAccount.get(use.accountId);
          if (!seen || seen.at.getTime() < use.at.getTime()) byAccount.set(use.accountId, use);
        }
        await this.db.execute(
          updateLastUsed('service_accounts', [...byAccount].map(([id, use]) => ({ id, at: use.at, ip: use.ip }))),
        );
      }
    } catch (error) {
      this.logger.warn({ err: loggableError(error) }, 'last-used write failed; will retry');
      // Put back what we took, unless newer uses arrived meanwhile.
      for (const use of taken.values()) this.touch(use.accountId, use.credential, use.at, use.ip ?? undefined);
    }
  }
}

function updateLastUsed(table: 'client_secrets' | 'client_keys' | 'service_accounts', rows: Array<{ id: string; at: Date; ip: string | null }>): SQL {
  const values = sql.join(
    rows.map((r) => sql`(${r.id}::uuid, ${r.at.toISOString()}::timestamptz, ${r.ip}::text)`),
    sql`, `,
  );
  const t = sql.identifier(table);
  return sql`update ${t} as t
    set last_used_at = v.at, last_used_ip = v.ip
    from (values ${values}) as v(id, at, ip)
    where t.id = v.id and (t.last_used_at is null or t.last_used_at <= v.at)`;
}

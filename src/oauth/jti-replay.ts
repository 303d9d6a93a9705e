import { createHash } from 'node:crypto';
import { lt, sql } from 'drizzle-orm';
import type { Database } from '../db/connect';
import { usedJtis } from '../db/schema';

/**
 * Remembers one-time values (private_key_jwt assertion and DPoP proof `jti`s) until they expire, in the
 * database so that every instance refuses a replay. One insert per use; expired rows are reused or purged.
 */
export class JtiReplayGuard {
  constructor(private readonly db: Database) {}

  /** True the first time `jti` is seen in `scope` before `expiresAt`; false for a replay. */
  async firstUse(scope: string, jti: string, expiresAt: Date, now: Date): Promise<boolean> {
    const key = createHash('sha256').update(`${scope}\u0000${jti}`).digest('base64url');
    const rows = await this.db
      .insert(usedJtis)
      .values({ key, expiresAt })
      .onConflictDoUpdate({
        target: usedJtis.key,
        set: { expiresAt: sql`excluded.expires_at` },
        setWhere: lt(usedJtis.expiresAt, now),
      })
      .returning({ key: usedJtis.key });
    return rows.length === 1;
  }

  /** Deletes entries that expired before `now`; returns how many. */
  async purge(now: Date): Promise<number> {
    const deleted = await this.db.delete(usedJtis).where(lt(usedJtis.expiresAt, now)).returning({ key: usedJtis.key });
    return deleted.length;
  }
}

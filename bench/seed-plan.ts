/**
 * What `bench/seed-accounts.ts` writes, and what the bench may therefore expect, in one place.
 *
 * Account i (1..count):
 *   id          md5('bench-account-' || i)::uuid
 *   client_id   sa_ + i as 24 hex digits (the shape of a generated client_id)
 *   name        bench-<team>-<i, 6 digits>, team one of 20 words (i % 20): each word is in 5% of the accounts
 *   created_at  base - (count - i) seconds: account `count` is the newest, account 1 the oldest
 *   status      disabled when i % 50 = 0 (2%), revoked when i % 97 = 0 and not disabled (~1%), active otherwise
 *   secret      one each, id md5('bench-secret-' || i)::uuid, origin "supplied", status active; every account
 *               has the SAME plaintext and the same argon2id hash string (hashed once), so any of them can
 *               authenticate without one argon2 hash per account at seeding time
 *   expires_at  base + (((i * 7919) % 760) - 30) days + 12 h: uniform from 30 days ago to two years ahead,
 *               so ~3.9% are expired and ~3.9% expire within 30 days (EXPIRING_SOON_DAYS' default)
 */
import { createHash } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';

export const TEAMS = [
  'payments', 'billing', 'search', 'checkout', 'inventory', 'shipping', 'ledger', 'reports', 'identity', 'catalog',
  'pricing', 'notify', 'analytics', 'fraud', 'support', 'orders', 'media', 'profile', 'gateway', 'ingest',
] as const;

export const SEED_SCOPE = 'api:read';
export const SEED_AUDIENCE = 'https://api.example.com';

/**
 * The argon2id cost of the one shared hash. Deliberately light (1 MiB, one pass) so that verifying each of
 * 10,000 seeded accounts once takes seconds, not the ~2 minutes the service's own parameters would take on
 * a small machine. Accounts created over the admin API (warm, failure and cold scenarios) are hashed by the
 * service with its real parameters, so the service process has run full-cost argon2 as well.
 */
export const SEED_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;

const DAY_MS = 86_400_000;

/** PostgreSQL's md5(text)::uuid, in JavaScript. */
function md5Uuid(text: string): string {
  const h = createHash('md5').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const seededClientId = (i: number) => `sa_${i.toString(16).padStart(24, '0')}`;
export const seededAccountId = (i: number) => md5Uuid(`bench-account-${i}`);
export const seededName = (i: number) => `bench-${TEAMS[i % TEAMS.length]}-${String(i).padStart(6, '0')}`;
export const seededCreatedAt = (base: Date, count: number, i: number) => new Date(base.getTime() - (count - i) * 1000);
export const seededStatus = (i: number) => (i % 50 === 0 ? 'disabled' : i % 97 === 0 ? 'revoked' : 'active');
export const seededExpiryDays = (i: number) => ((i * 7919) % 760) - 30;
export const seededExpiresAt = (base: Date, i: number) => new Date(base.getTime() + seededExpiryDays(i) * DAY_MS + DAY_MS / 2);

/** What POST /oauth/token answers for account i with the shared secret, at `now`. */
export function expectedTokenStatus(base: Date, i: number, now: Date): 200 | 401 {
  return seededStatus(i) === 'active' && seededExpiresAt(base, i).getTime() > now.getTime() ? 200 : 401;
}

const teamOf = sql.raw(`(array['${TEAMS.join("','")}'])[1 + i % ${TEAMS.length}]`);

/** Inserts accounts `from`..`to` of `count`, each with its secret; `hash` is the shared argon2id string. */
export function seedStatements(base: Date, from: number, to: number, count: number, hash: string): SQL[] {
  const at = sql`${base.toISOString()}::timestamptz`;
  const created = sql`${at} - (${count}::int - i) * interval '1 second'`;
  const series = sql`generate_series(${from}::int, ${to}::int) as i`;
  return [
    sql`
      insert into service_accounts (id, client_id, name, description, status, scopes, audiences, created_at, updated_at)
      select md5('bench-account-' || i)::uuid,
             'sa_' || lpad(to_hex(i), 24, '0'),
             'bench-' || ${teamOf} || '-' || lpad(i::text, 6, '0'),
             'seeded by npm run bench for the ' || ${teamOf} || ' team',
             case when i % 50 = 0 then 'disabled' when i % 97 = 0 then 'revoked' else 'active' end,
             array[${SEED_SCOPE}::text], array[${SEED_AUDIENCE}::text],
             ${created}, ${created}
      from ${series}`,
    sql`
      insert into client_secrets (id, account_id, prefix, hash, origin, description, status, expires_at, created_at, updated_at)
      select md5('bench-secret-' || i)::uuid,
             md5('bench-account-' || i)::uuid,
             'supplied', ${hash}::text, 'supplied', '', 'active',
             ${at} + (((i::bigint * 7919) % 760) - 30) * interval '1 day' + interval '12 hours',
             ${created}, ${created}
      from ${series}`,
  ];
}

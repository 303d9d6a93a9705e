/**
 * Seeds service accounts (one secret each) straight into the service's database with SQL, as described in
 * bench/seed-plan.ts: no admin API, one argon2id hash for all of them. Child process of
 * bench/token-endpoint.ts, run BEFORE the service starts: PGlite admits one process per data folder, so this
 * one opens it (src/db/connect.ts, which also applies the migrations), writes, and closes it.
 *
 * Env: DATA_DIR (PGlite) or DATABASE_URL (PostgreSQL); BENCH_SEED_COUNT; BENCH_SEED_BASE (ISO time: the
 * newest account's created_at); BENCH_SEED_SECRET (the shared plaintext).
 * Prints one JSON line: { accounts, secrets, hashMs, insertMs, serverVersion }.
 */
import { hash } from '@node-rs/argon2';
import { sql } from 'drizzle-orm';
import { connectDatabase } from '../src/db/connect';
import { SEED_ARGON2, seedStatements } from './seed-plan';

const BATCH = 20_000;

const count = Number(process.env.BENCH_SEED_COUNT);
const base = new Date(process.env.BENCH_SEED_BASE ?? '');
const secret = process.env.BENCH_SEED_SECRET ?? '';
if (!Number.isInteger(count) || count < 1) throw new Error('BENCH_SEED_COUNT must be a positive integer');
if (Number.isNaN(base.getTime())) throw new Error('BENCH_SEED_BASE must be an ISO date-time');
if (secret.length < 32) throw new Error('BENCH_SEED_SECRET must be at least 32 characters');

const database = await connectDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: process.env.DATA_DIR ?? '' });
try {
  await database.migrate();
  let started = performance.now();
  const shared = await hash(secret, SEED_ARGON2);
  const hashMs = performance.now() - started;

  started = performance.now();
  for (let from = 1; from <= count; from += BATCH) {
    const to = Math.min(count, from + BATCH - 1);
    await database.db.transaction(async (tx) => {
      for (const statement of seedStatements(base, from, to, count, shared)) await tx.execute(statement);
    });
  }
  const insertMs = performance.now() - started;
  // As an operator would after a bulk load: without it PostgreSQL plans the first minutes of queries on
  // empty-table statistics, while autovacuum's own ANALYZE competes for the CPU being measured.
  await database.db.execute(sql`analyze`);

  const [accounts] = rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from service_accounts`));
  const [secrets] = rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from client_secrets`));
  const [version] = rowsOf<{ server_version: string }>(await database.db.execute(sql`show server_version`));
  const summary = { accounts: accounts?.n, secrets: secrets?.n, hashMs, insertMs, serverVersion: version?.server_version };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
} finally {
  await database.close();
}

/** drizzle's execute answers `{ rows }` on PGlite and an array on postgres.js. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}

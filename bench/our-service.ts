/**
 * Our service as the bench runs it: `node dist/main.js` in a child process, on a fresh PGlite folder or a
 * throw-away PostgreSQL database, with accounts seeded by SQL before it starts (bench/seed-accounts.ts), the
 * protections' thresholds raised out of the load's reach; and the admin API calls the bench makes to it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import postgres from 'postgres';
import { runToEnd, startChild, waitUntilListening, type Child } from './child-process';
import { addCleanup, notInterrupted, tempDir } from './cleanup';
import { freePort } from './free-port';
import { log } from './log';
import type { Alg, DbKind, SeedResult } from './report';
import { DATABASE_SERVER_URL } from './settings';
import { RESOURCE, SCOPE, basicAuth, postToken } from './token-request';

/** The service as the Dockerfile runs it: the esbuild bundle of src/ (`npm run build`), on plain node. */
export const SERVICE_SCRIPT = 'dist/main.js';

/**
 * The protections stay on (every request still passes the rate limiter and the brute-force guard), with
 * thresholds the load cannot reach: otherwise the warm path would measure 429 answers after 600 requests a
 * minute, and the failure path blocks after 10 wrong secrets.
 */
export const SERVICE_LIMITS: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  BRUTE_FORCE_MAX_FAILURES: '10000',
  BRUTE_FORCE_MAX_FAILURES_PER_IP: '1000000',
  BRUTE_FORCE_WINDOW_SECONDS: '1',
  BRUTE_FORCE_BLOCK_SECONDS: '1',
};

export interface OurService {
  child: Child;
  base: string;
  tokenUrl: string;
  adminId: string;
  adminSecret: string;
  /** Its own throw-away PostgreSQL database (none on PGlite): whose backends' CPU counts as the service's. */
  databaseName?: string;
  /** What was seeded before the service started (none when `seeded.accounts` is 0). */
  seeded: { accounts: number; base: Date; secret: string; result?: SeedResult };
}

async function freshPostgresDatabase(serverUrl: string): Promise<string> {
  notInterrupted();
  const name = `bench_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await admin.unsafe(`create database ${name}`);
  } catch (error) {
    await admin.end({ timeout: 5 });
    throw error;
  }
  addCleanup({
    name: `drop database ${name}`,
    run: async () => {
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end({ timeout: 5 });
      }
    },
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * `count` accounts with SQL (bench/seed-accounts.ts), into the service's database before it starts: PGlite
 * admits one process per data folder. One argon2id hash for all of them (see bench/seed-plan.ts).
 */
async function seedAccounts(
  target: { dataDir: string; databaseUrl?: string | undefined },
  count: number,
  base: Date,
  secret: string,
): Promise<SeedResult> {
  const started = Date.now();
  log(`  seeding ${count.toLocaleString('en-US')} accounts with SQL`);
  const env: Record<string, string> = {
    DATA_DIR: target.dataDir,
    BENCH_SEED_COUNT: String(count),
    BENCH_SEED_BASE: base.toISOString(),
    BENCH_SEED_SECRET: secret,
  };
  if (target.databaseUrl) env.DATABASE_URL = target.databaseUrl;
  const line = await runToEnd('seed-accounts', 'bench/seed-accounts.ts', env, 180_000);
  const result = { ...(JSON.parse(line) as Omit<SeedResult, 'seconds'>), seconds: (Date.now() - started) / 1000 };
  if (result.accounts !== count || result.secrets !== count) {
    throw new Error(`seeding: expected ${count} accounts and secrets, found ${result.accounts} and ${result.secrets}`);
  }
  log(`  seeded in ${result.seconds.toFixed(1)} s (inserts ${(result.insertMs / 1000).toFixed(1)} s)`);
  return result;
}

/**
 * Starts the service with `seedCount` accounts seeded, and waits until it listens. The PostgreSQL version the
 * seeding found is recorded in `serverVersions` (per database kind).
 */
export async function startOurs(alg: Alg, database: DbKind, seedCount: number, serverVersions: Map<DbKind, string>): Promise<OurService> {
  const port = await freePort();
  const adminId = 'bench-admin';
  const adminSecret = randomBytes(32).toString('base64url');
  const dataDir = join(await tempDir('cc-bench-data-'), 'pglite');
  const databaseUrl = database === 'postgres' ? await freshPostgresDatabase(DATABASE_SERVER_URL!) : undefined;
  // Whole seconds, so the created_at of every seeded account is exact in a cursor.
  const seeded: OurService['seeded'] = {
    accounts: seedCount,
    base: new Date(Math.floor(Date.now() / 1000) * 1000),
    secret: randomBytes(32).toString('base64url'),
  };
  if (seedCount > 0) seeded.result = await seedAccounts({ dataDir, databaseUrl }, seedCount, seeded.base, seeded.secret);
  if (seeded.result?.serverVersion) serverVersions.set(database, seeded.result.serverVersion);
  const env: Record<string, string> = {
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    KEYS_DIR: await tempDir('cc-bench-keys-'),
    SIGNING_ALG: alg,
    BOOTSTRAP_ADMIN_CLIENT_ID: adminId,
    BOOTSTRAP_ADMIN_CLIENT_SECRET: adminSecret,
    LOG_LEVEL: 'warn',
    ...SERVICE_LIMITS,
  };
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  const child = startChild(`ours-${database}-${alg}`, SERVICE_SCRIPT, env);
  const base = `http://127.0.0.1:${port}`;
  await waitUntilListening(child, `${base}/.well-known/jwks.json`);
  const svc: OurService = { child, base, tokenUrl: `${base}/oauth/token`, adminId, adminSecret, seeded };
  if (databaseUrl) svc.databaseName = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  return svc;
}

export async function adminToken(svc: OurService): Promise<string> {
  const res = await postToken(svc.tokenUrl, basicAuth(svc.adminId, svc.adminSecret), 'grant_type=client_credentials');
  if (res.status !== 200) throw new Error(`admin token: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json.access_token as string;
}

export async function createAccount(svc: OurService, bearer: string, name: string): Promise<{ clientId: string; secret: string }> {
  const res = await fetch(`${svc.base}/admin/v1/service-accounts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, scopes: [SCOPE], audiences: [RESOURCE] }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`create account: ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { client_id: string; secret: { secret: string } };
  return { clientId: body.client_id, secret: body.secret.secret };
}

/**
 * `npm run bench`: load on POST /oauth/token, reported as RATIOS against baselines measured in the same run,
 * plus the service's memory with many accounts and the admin list pages on a large database.
 *
 *   floor          bench/floor-server.ts: node:http + URLSearchParams + our signing code on the same claims; no client
 *                  authentication, no database, no framework. What signing a token costs on this machine.
 *   oidc-provider  bench/peer-server.ts: panva's oidc-provider, client_credentials + client_secret_basic + RFC 8707
 *                  resource, JWT access tokens with the same alg. What a mature server spends on the same job.
 *   ours warm      src/main.ts as a child process, BENCH_ACCOUNTS accounts seeded into its database; the same
 *                  valid client_secret_basic credentials every request (answered from the credential cache).
 *   ours failure   a valid client_id with a wrong secret every request (argon2id verify, then 401).
 *   ours cold      a different, never verified secret every request (argon2id verify, then a token).
 *   memory         in the RS256 run: the service process's VmRSS when idle, after the warm load, after each
 *                  seeded account authenticated once (all of them cached), and at the end.
 *   admin lists    src/main.ts on a database of BENCH_SCALE_ACCOUNTS seeded accounts: sequential requests to the
 *                  list pages (bench/admin-lists.ts).
 *
 * Accounts are seeded with SQL by bench/seed-accounts.ts before the service starts (bench/seed-plan.ts says
 * what they look like). Every server runs in its own child process; autocannon runs in this one. Nothing here
 * is a pass/fail timing assertion: absolute numbers depend on the machine (and on autocannon sharing its
 * cores), the ratios much less; the issue-4 targets are judged in the report, never by the exit code.
 *
 * Env: BENCH_DURATION_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_WARMUP_SECONDS (2),
 *      BENCH_COLD_MAX_ACCOUNTS (3000), BENCH_ACCOUNTS (10000), BENCH_SCALE_ACCOUNTS (100000; 0 skips),
 *      BENCH_ADMIN_REQUESTS (30), BENCH_MARKDOWN (BENCHMARKS.md; another path, or 0 for none),
 *      BENCH_DATABASE_URL (a PostgreSQL server where throw-away databases may be created and dropped; adds
 *      every "ours" part on PostgreSQL).
 * Output: a table on stdout, everything as JSON in bench/results/latest.json, and the results section of
 * BENCHMARKS.md (between its markers; the hand-written notes below them are kept).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import postgres from 'postgres';
import { measureAdminLists } from './admin-lists';
import { cpuSnapshot, othersCpuPercent } from './cpu-contention';
import { processMemory } from './process-memory';
import {
  writeBenchmarksMarkdown,
  type Alg,
  type BenchReport,
  type DbKind,
  type MemoryReport,
  type PathKind,
  type Role,
  type Sample,
  type ScaleReport,
  type Scenario,
  type SeedResult,
} from './report';
import { expectedTokenStatus, seededClientId } from './seed-plan';
import { freePort } from './free-port';

// ---------------------------------------------------------------------------------------------- settings

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

const DURATION = intEnv('BENCH_DURATION_SECONDS', 10, 1, 600);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 32, 1, 1000);
const WARMUP = intEnv('BENCH_WARMUP_SECONDS', 2, 0, 60);
const COLD_MAX_ACCOUNTS = intEnv('BENCH_COLD_MAX_ACCOUNTS', 3000, 10, 100_000);
/** Seeded (SQL, not the admin API) into every database the token endpoint is measured on. */
const ACCOUNTS = intEnv('BENCH_ACCOUNTS', 10_000, 0, 1_000_000);
/** Seeded into the database the admin list pages are measured on; 0 skips that part. */
const SCALE_ACCOUNTS = intEnv('BENCH_SCALE_ACCOUNTS', 100_000, 0, 1_000_000);
const ADMIN_REQUESTS = intEnv('BENCH_ADMIN_REQUESTS', 30, 1, 1000);
const DATABASE_SERVER_URL = process.env.BENCH_DATABASE_URL?.trim() || undefined;
/** Where the results are written as Markdown (between two markers): BENCHMARKS.md, another path, or 0 for nowhere. */
const MARKDOWN_SETTING = process.env.BENCH_MARKDOWN?.trim() || 'BENCHMARKS.md';

const ALGS = ['RS256', 'ES256'] as const satisfies readonly Alg[];

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_FILE = join(ROOT, 'bench', 'results', 'latest.json');
const MARKDOWN_FILE = MARKDOWN_SETTING === '0' ? undefined : resolve(ROOT, MARKDOWN_SETTING);

const SCOPE = 'api:read';
const RESOURCE = 'https://api.example.com';
/** The same body for every server: grant, scope, and an RFC 8707 resource (oidc-provider needs it for a JWT). */
const TOKEN_BODY = new URLSearchParams({ grant_type: 'client_credentials', scope: SCOPE, resource: RESOURCE }).toString();
const FORM = 'application/x-www-form-urlencoded';

/** The service's own settings: never inherited from the caller's environment into a child. */
const SERVICE_VARS = [
  'PORT', 'HOST', 'ISSUER', 'DATABASE_URL', 'DATA_DIR', 'KEYS_DIR', 'SIGNING_ALG', 'TOKEN_TTL_SECONDS',
  'MAX_TOKEN_TTL_SECONDS', 'DEFAULT_AUDIENCE', 'ADMIN_AUDIENCE', 'SECRET_TTL_DAYS', 'MAX_ACTIVE_SECRETS',
  'JWKS_MAX_AGE_SECONDS', 'BODY_LIMIT_BYTES', 'ARGON2_MEMORY_KIB', 'ARGON2_TIME_COST', 'ARGON2_PARALLELISM',
  'ARGON2_MAX_CONCURRENCY', 'BOOTSTRAP_ADMIN_CLIENT_ID', 'BOOTSTRAP_ADMIN_CLIENT_SECRET', 'LOG_LEVEL',
  'RATE_LIMIT_PER_MINUTE', 'RATE_LIMIT_STORE', 'BRUTE_FORCE_MAX_FAILURES', 'BRUTE_FORCE_MAX_FAILURES_PER_IP',
  'BRUTE_FORCE_WINDOW_SECONDS', 'BRUTE_FORCE_BLOCK_SECONDS', 'TRUST_PROXY', 'EXPIRING_SOON_DAYS',
  'AUDIT_RETENTION_DAYS', 'FLUSH_INTERVAL_MS', 'CREDENTIAL_CACHE_TTL_SECONDS', 'CREDENTIAL_CACHE_MAX_ENTRIES',
  'WORKERS',
];

/**
 * The protections stay on (every request still passes the rate limiter and the brute-force guard), with
 * thresholds the load cannot reach: otherwise the warm path would measure 429 answers after 600 requests a
 * minute, and the failure path blocks after 10 wrong secrets.
 */
const SERVICE_LIMITS: Record<string, string> = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  BRUTE_FORCE_MAX_FAILURES: '10000',
  BRUTE_FORCE_MAX_FAILURES_PER_IP: '1000000',
  BRUTE_FORCE_WINDOW_SECONDS: '1',
  BRUTE_FORCE_BLOCK_SECONDS: '1',
};

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `work`, or `onTimeout()` after `ms`; the timer is cleared either way so it never holds the process open. */
async function within<T>(work: Promise<T>, ms: number, onTimeout: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((r) => (timer = setTimeout(() => r('expired'), ms)));
  try {
    const first = await Promise.race([work, expired]);
    return first === 'expired' ? await onTimeout() : (first as T);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------- cleanup

/** Last in, first out; every entry idempotent. Run from `finally`, from SIGINT/SIGTERM, and (sync part) at exit. */
const cleanups: Array<{ name: string; run: () => Promise<void> }> = [];
const liveGroups = new Set<number>();
const tempDirs = new Set<string>();
let currentLoad: autocannon.Instance | undefined;

let cleaning: Promise<void> | undefined;

/** One run at a time: the signal handler and `finally` share it, so neither exits while the other still works. */
function runCleanups(): Promise<void> {
  cleaning ??= drainCleanups().finally(() => (cleaning = undefined));
  return cleaning;
}

async function drainCleanups(): Promise<void> {
  currentLoad?.stop();
  while (cleanups.length > 0) {
    const { name, run } = cleanups.pop()!;
    try {
      await within(run(), 20_000, () => Promise.reject(new Error('timed out after 20 s')));
    } catch (error) {
      log(`cleanup "${name}" failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

process.on('exit', () => {
  // Last resort (an uncaught error, process.exit elsewhere): nothing async can run here.
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

let interrupted = false;
let interruptedAt = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ctrl-C reaches this process twice (from the terminal and relayed by the tsx wrapper): only a second
    // signal a while later means "stop waiting for the cleanup".
    if (interrupted) {
      if (Date.now() - interruptedAt > 3_000) process.exit(130);
      return;
    }
    interrupted = true;
    interruptedAt = Date.now();
    log(`${signal}: stopping every child process`);
    void runCleanups().finally(() => process.exit(130));
  });
}

function notInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

async function tempDir(prefix: string): Promise<string> {
  notInterrupted();
  const dir = await mkdtemp(join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  cleanups.push({
    name: `rm ${dir}`,
    run: async () => {
      rmSync(dir, { recursive: true, force: true });
      tempDirs.delete(dir);
    },
  });
  return dir;
}

// ---------------------------------------------------------------------------------------------- child processes

interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  tail(): string;
  stop(): Promise<void>;
}

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
  }
}

/** The service as the Dockerfile runs it: the esbuild bundle of src/ (`npm run build`), on plain node. */
const SERVICE_SCRIPT = 'dist/main.js';

/**
 * `node --import tsx <script>` for a TypeScript file, `node <script>` for a built one (the service runs as
 * `node dist/main.js`, as in the Dockerfile: one process, whose RSS is the service's)
 * in its own process group, so stopping signals the group: the process and anything it started, and nothing
 * we did not start.
 */
function startChild(name: string, script: string, env: Record<string, string>): Child {
  notInterrupted();
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !SERVICE_VARS.includes(k) && !k.startsWith('BENCH_')) base[k] = v;
  }
  const args = script.endsWith('.ts') ? ['--import', 'tsx', script] : ['--enable-source-maps', script];
  const proc = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...base, NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pgid = proc.pid;
  if (pgid === undefined) throw new Error(`${name}: spawn failed`);
  liveGroups.add(pgid);

  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim()) lines.push(line.length > 400 ? `${line.slice(0, 400)}…` : line);
    }
    if (lines.length > 40) lines.splice(0, lines.length - 40);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  const exited = new Promise<void>((done) => proc.once('exit', () => done()));

  let stopping: Promise<void> | undefined;
  const child: Child = {
    name,
    proc,
    exited,
    tail: () => lines.slice(-15).join('\n'),
    stop() {
      stopping ??= (async () => {
        killGroup(pgid, 'SIGTERM');
        const graceful = await within(exited.then(() => true), 8_000, () => false);
        if (!graceful) {
          log(`${name} ignored SIGTERM for 8 s: SIGKILL`);
          killGroup(pgid, 'SIGKILL');
          await within(exited, 3_000, () => undefined);
        }
        // Anything the process started shares the group: make sure nothing of it outlives it.
        await sleep(100);
        killGroup(pgid, 'SIGKILL');
        liveGroups.delete(pgid);
      })();
      return stopping;
    },
  };
  cleanups.push({ name: `stop ${name}`, run: () => child.stop() });
  return child;
}

async function waitUntilListening(child: Child, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void child.exited.then(() => (gone = true));
  while (Date.now() < deadline) {
    if (gone) throw new Error(`${child.name} exited during start:\n${child.tail()}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return;
    } catch {
      await sleep(150);
    }
  }
  throw new Error(`${child.name} did not listen within ${timeoutMs / 1000} s:\n${child.tail()}`);
}

// ---------------------------------------------------------------------------------------------- HTTP helpers

/** RFC 6749 §2.3.1: form-urlencode id and secret, then base64. */
function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function postToken(url: string, authorization: string, body = TOKEN_BODY) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** One request before the load: the expected status, and for a 200 a JWT of the expected alg and typ. */
async function probe(url: string, authorization: string, expectStatus: number, alg: Alg): Promise<Sample | undefined> {
  const res = await postToken(url, authorization);
  if (res.status !== expectStatus) throw new Error(`probe: expected ${expectStatus}, got ${res.status} ${res.text.slice(0, 300)}`);
  if (expectStatus !== 200) return undefined;
  const token = res.json?.access_token;
  if (typeof token !== 'string' || token.split('.').length !== 3) throw new Error(`probe: no JWT in ${res.text.slice(0, 300)}`);
  const [h, p] = token.split('.') as [string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (header.alg !== alg) throw new Error(`probe: token alg ${String(header.alg)}, expected ${alg}`);
  if (header.typ !== 'at+jwt') throw new Error(`probe: token typ ${String(header.typ)}, expected at+jwt`);
  return { header, claims: Object.keys(claims).sort() };
}

// ---------------------------------------------------------------------------------------------- load

interface LoadSpec {
  url: string;
  authorization: string;
  /** Per request Authorization header (cold path); otherwise the fixed one. */
  nextAuthorization?: () => string;
  /** Stop after this many requests (pool of one-shot credentials); the time bound still applies. */
  amount?: number;
  seconds: number;
}

function runLoad(spec: LoadSpec): Promise<autocannon.Result> {
  return new Promise((done, fail) => {
    if (interrupted) {
      fail(new Error('interrupted'));
      return;
    }
    const options: autocannon.Options = {
      url: spec.url,
      method: 'POST',
      headers: { 'content-type': FORM, authorization: spec.authorization },
      body: TOKEN_BODY,
      connections: CONNECTIONS,
      timeout: 10,
    };
    if (spec.nextAuthorization) {
      const next = spec.nextAuthorization;
      options.requests = [
        {
          method: 'POST',
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: next() } }),
        },
      ];
    }
    if (spec.amount !== undefined) options.amount = Math.max(spec.amount, CONNECTIONS);
    else options.duration = spec.seconds;
    // Bounded in time whatever happens: autocannon's own duration, else ours; plus a safety margin.
    const stopAt = setTimeout(() => instance.stop(), (spec.amount !== undefined ? spec.seconds : spec.seconds + 15) * 1000);
    const instance = autocannon(options, (error, result) => {
      clearTimeout(stopAt);
      currentLoad = undefined;
      if (error) fail(error);
      else done(result);
    });
    currentLoad = instance;
  });
}

const scenarios: Scenario[] = [];
const memoryReports: MemoryReport[] = [];
const scaleReports: ScaleReport[] = [];
/** `show server_version` per database kind, as the seeding found it. */
const serverVersions = new Map<DbKind, string>();

function newScenario(role: Role, path: PathKind, alg: Alg, database?: DbKind): Scenario {
  const id = role === 'ours' ? `ours ${database} ${alg} ${path}` : `${role} ${alg}`;
  const s: Scenario = { id, role, path, alg, expectStatus: path === 'failure' ? 401 : 200, ok: false, notes: [] };
  if (database) s.database = database;
  scenarios.push(s);
  return s;
}

function record(s: Scenario, r: autocannon.Result): void {
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = stat?.count ?? 0;
  const responses = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const expected = statusCodes[String(s.expectStatus)] ?? 0;
  s.requests = r.requests.total;
  s.seconds = r.duration;
  s.rps = r.duration > 0 ? r.requests.total / r.duration : 0;
  s.latencyMs = { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: r.latency.mean, max: r.latency.max };
  s.non2xx = r.non2xx;
  s.transportErrors = r.errors;
  s.timeouts = r.timeouts;
  s.statusCodes = statusCodes;
  s.errors = r.errors + r.timeouts + (responses - expected);
  s.loadAverage1m = os.loadavg()[0];
  s.ok = true;
  log(
    `  ${s.id}: ${s.rps.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ` +
      `statuses ${JSON.stringify(statusCodes)}, errors ${r.errors}, timeouts ${r.timeouts}, ` +
      `other processes ${s.othersCpuPercent ?? '?'}% CPU`,
  );
}

/** A load, and the CPU other processes of the machine used meanwhile (see cpu-contention.ts). */
async function loadWatched(s: Scenario, spec: LoadSpec): Promise<autocannon.Result> {
  const before = cpuSnapshot(liveGroups);
  const result = await runLoad(spec);
  const others = othersCpuPercent(before, cpuSnapshot(liveGroups));
  if (others !== undefined) s.othersCpuPercent = Math.round(others);
  return result;
}

async function measure(s: Scenario, spec: Omit<LoadSpec, 'seconds'>, warmup: boolean): Promise<void> {
  if (warmup && WARMUP > 0) await runLoad({ url: spec.url, authorization: spec.authorization, seconds: WARMUP });
  record(s, await loadWatched(s, { ...spec, seconds: DURATION }));
}

function failed(s: Scenario, error: unknown): void {
  s.ok = false;
  s.error = error instanceof Error ? error.message : String(error);
  log(`  ${s.id} FAILED: ${s.error}`);
}

// ---------------------------------------------------------------------------------------------- baselines

async function benchFloor(alg: Alg): Promise<void> {
  const s = newScenario('floor', 'baseline', alg);
  log(`${s.id}: starting bench/floor-server.ts`);
  try {
    const port = await freePort();
    const child = startChild(`floor-${alg}`, 'bench/floor-server.ts', {
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      SIGNING_ALG: alg,
      BENCH_CLIENT_ID: 'sa_floor',
    });
    try {
      const url = `http://127.0.0.1:${port}/oauth/token`;
      await waitUntilListening(child, `http://127.0.0.1:${port}/`);
      const authorization = basicAuth('sa_floor', 'unused');
      s.sample = await probe(url, authorization, 200, alg);
      await measure(s, { url, authorization }, true);
    } finally {
      await child.stop();
    }
  } catch (error) {
    failed(s, error);
  }
}

async function benchPeer(alg: Alg): Promise<void> {
  const s = newScenario('oidc-provider', 'baseline', alg);
  log(`${s.id}: starting bench/peer-server.ts (oidc-provider)`);
  try {
    const port = await freePort();
    const clientId = 'peer-client';
    const clientSecret = randomBytes(32).toString('base64url');
    const child = startChild(`oidc-provider-${alg}`, 'bench/peer-server.ts', {
      PORT: String(port),
      ISSUER: `http://127.0.0.1:${port}`,
      SIGNING_ALG: alg,
      BENCH_CLIENT_ID: clientId,
      BENCH_CLIENT_SECRET: clientSecret,
      BENCH_SCOPE: SCOPE,
      BENCH_RESOURCE: RESOURCE,
    });
    try {
      await waitUntilListening(child, `http://127.0.0.1:${port}/.well-known/openid-configuration`);
      const url = `http://127.0.0.1:${port}/token`;
      const authorization = basicAuth(clientId, clientSecret);
      s.sample = await probe(url, authorization, 200, alg);
      await measure(s, { url, authorization }, true);
      const warnings = child.tail().split('\n').filter((l) => /WARNING|NOTICE/.test(l));
      s.notes.push(...new Set(warnings));
    } finally {
      await child.stop();
    }
  } catch (error) {
    failed(s, error);
  }
}

// ---------------------------------------------------------------------------------------------- our service

interface OurService {
  child: Child;
  base: string;
  tokenUrl: string;
  adminId: string;
  adminSecret: string;
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
  cleanups.push({
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

/** Runs a script to its end (bounded in time); resolves with its last output line. */
async function runToEnd(name: string, script: string, env: Record<string, string>, timeoutMs: number): Promise<string> {
  const child = startChild(name, script, env);
  const finished = await within(child.exited.then(() => true), timeoutMs, () => false);
  const tail = child.tail();
  const code = child.proc.exitCode;
  await child.stop();
  if (!finished) throw new Error(`${name} did not finish within ${timeoutMs / 1000} s:\n${tail}`);
  if (code !== 0) throw new Error(`${name} exited with ${code}:\n${tail}`);
  return tail.split('\n').at(-1) ?? '';
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

async function startOurs(alg: Alg, database: DbKind, seedCount: number): Promise<OurService> {
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
  return { child, base, tokenUrl: `${base}/oauth/token`, adminId, adminSecret, seeded };
}

async function adminToken(svc: OurService): Promise<string> {
  const res = await postToken(svc.tokenUrl, basicAuth(svc.adminId, svc.adminSecret), 'grant_type=client_credentials');
  if (res.status !== 200) throw new Error(`admin token: ${res.status} ${res.text.slice(0, 300)}`);
  return res.json.access_token as string;
}

async function createAccount(svc: OurService, bearer: string, name: string): Promise<{ clientId: string; secret: string }> {
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

/** A secret with the real secret's id (so the row is found and argon2 runs) and a wrong random part. */
function wrongSecretFor(secret: string): string {
  const m = /^(ccs_[0-9a-f]{32}_)/.exec(secret);
  const wrong = randomBytes(32).toString('base64url');
  return m ? `${m[1]}${wrong}` : `${secret}x`;
}

/** Accounts made over the admin API (each one an argon2id hash), in parallel, bounded in count and time. */
async function createColdPool(svc: OurService, bearer: string, target: number, seconds: number) {
  const pool: string[] = [];
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  let n = 0;
  const worker = async () => {
    while (pool.length < target && Date.now() < deadline && !interrupted) {
      const { clientId, secret } = await createAccount(svc, bearer, `bench-cold-${++n}-${randomBytes(3).toString('hex')}`);
      pool.push(basicAuth(clientId, secret));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { pool, seconds: (Date.now() - started) / 1000 };
}

/**
 * Authenticates every seeded account once (the shared secret), so that each one's credential is verified
 * and cached by the service. Bounded in time; `concurrency` requests in flight.
 */
async function authenticateSeeded(svc: OurService, concurrency: number, seconds: number): Promise<NonNullable<MemoryReport['fill']>> {
  const { accounts, base, secret } = svc.seeded;
  const statusCodes: Record<string, number> = {};
  let unexpected = 0;
  let next = 1;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (next <= accounts && Date.now() < deadline && !interrupted) {
      const i = next++;
      const res = await fetch(svc.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': FORM, authorization: basicAuth(seededClientId(i), secret) },
        body: TOKEN_BODY,
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      statusCodes[res.status] = (statusCodes[res.status] ?? 0) + 1;
      if (res.status !== expectedTokenStatus(base, i, new Date())) unexpected++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return { requests, seconds: (Date.now() - started) / 1000, statusCodes, unexpected };
}

async function benchOurs(alg: Alg, database: DbKind, withArgon2Paths: boolean): Promise<void> {
  const warm = newScenario('ours', 'warm', alg, database);
  const failure = withArgon2Paths ? newScenario('ours', 'failure', alg, database) : undefined;
  const cold = withArgon2Paths ? newScenario('ours', 'cold', alg, database) : undefined;
  // Memory is read in the run that goes through every path (RS256).
  const memory: MemoryReport | undefined = withArgon2Paths
    ? { database, alg, seededAccounts: ACCOUNTS, readings: [], notes: [] }
    : undefined;
  if (memory) memoryReports.push(memory);
  log(`ours ${database} ${alg}: starting ${SERVICE_SCRIPT}`);
  let svc: OurService;
  let account: { clientId: string; secret: string };
  let bearer: string;
  // What the service holds, for the memory readings: accounts in its database, credentials it verified.
  let accountsInDatabase = ACCOUNTS + 1; // the seeded ones and the bootstrap admin
  let cachedCredentials = 0;
  const readMemory = (moment: string) => {
    if (!memory) return;
    const reading = { moment, accountsInDatabase, cachedCredentials, memory: processMemory(svc.child.proc.pid!) };
    memory.readings.push(reading);
    log(`  memory ${moment}: ${reading.memory ? `VmRSS ${reading.memory.rssMiB} MiB, VmHWM ${reading.memory.hwmMiB} MiB` : 'not readable'}`);
  };
  try {
    svc = await startOurs(alg, database, ACCOUNTS);
    if (memory && svc.seeded.result) memory.seed = svc.seeded.result;
    readMemory('idle, just started');
    bearer = await adminToken(svc);
    cachedCredentials++; // the bootstrap admin's
    account = await createAccount(svc, bearer, `bench-warm-${randomBytes(3).toString('hex')}`);
    accountsInDatabase++;
  } catch (error) {
    for (const s of [warm, failure, cold]) if (s) failed(s, error);
    return;
  }
  try {
    const authorization = basicAuth(account.clientId, account.secret);
    try {
      warm.sample = await probe(svc.tokenUrl, authorization, 200, alg);
      cachedCredentials++;
      await measure(warm, { url: svc.tokenUrl, authorization }, true);
    } catch (error) {
      failed(warm, error);
    }
    if (!failure || !cold || !memory) return;
    readMemory(`after the warm load (${warm.requests?.toLocaleString('en-US') ?? 0} requests)`);

    if (ACCOUNTS > 0) {
      log(`  authenticating each of the ${ACCOUNTS.toLocaleString('en-US')} seeded accounts once`);
      try {
        memory.fill = await authenticateSeeded(svc, 8, 180);
        // A genuine credential is cached whatever its state (a disabled or expired one answers 401).
        cachedCredentials += memory.fill.requests - memory.fill.unexpected;
        log(`  ${memory.fill.requests} requests in ${memory.fill.seconds.toFixed(1)} s, statuses ${JSON.stringify(memory.fill.statusCodes)}, unexpected ${memory.fill.unexpected}`);
        readMemory('after each seeded account authenticated once');
        memory.notes.push(
          `${memory.fill.requests.toLocaleString('en-US')} of the ${ACCOUNTS.toLocaleString('en-US')} seeded accounts authenticated once each ` +
            `(8 at a time, ${memory.fill.seconds.toFixed(1)} s; statuses ${JSON.stringify(memory.fill.statusCodes)}: 401 for the disabled, ` +
            `revoked and expired ones, as seeded; ${memory.fill.unexpected} unexpected). Their shared secret has a light ` +
            `argon2id hash (1 MiB, t=1) so that this costs little argon2 time (see bench/seed-plan.ts); the failure and ` +
            `cold loads that follow run full-cost argon2id in the same process.`,
        );
      } catch (error) {
        memory.notes.push(`authenticating the seeded accounts failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }

    const wrong = basicAuth(account.clientId, wrongSecretFor(account.secret));
    try {
      await probe(svc.tokenUrl, wrong, 401, alg);
      await measure(failure, { url: svc.tokenUrl, authorization: wrong }, false);
      failure.notes.push('well-formed ccs_ secret naming the real secret id, wrong random part: one argon2id verify per request');
    } catch (error) {
      failed(failure, error);
    }

    try {
      // Enough one-shot credentials for DURATION seconds at the argon2-bound rate just measured (cold does the
      // same argon2 verify as failure, plus signing), plus what autocannon builds ahead per connection.
      const rate = failure.ok && failure.rps ? failure.rps : 50;
      const target = Math.min(COLD_MAX_ACCOUNTS, Math.ceil(rate * DURATION * 1.25) + 2 * CONNECTIONS);
      const creationLimit = Math.max(20, Math.ceil(2.5 * DURATION));
      log(`  creating up to ${target} accounts for the cold path (at most ${creationLimit} s)`);
      const { pool, seconds } = await createColdPool(svc, bearer, target, creationLimit);
      accountsInDatabase += pool.length;
      cold.notes.push(`${pool.length} accounts created over the admin API in ${seconds.toFixed(1)} s (${(pool.length / seconds).toFixed(0)}/s, one argon2id hash each)`);
      if (pool.length < 3 * CONNECTIONS) throw new Error(`only ${pool.length} cold accounts could be created`);
      let next = 0;
      let reused = 0;
      const nextAuthorization = () => {
        if (next >= pool.length) reused++;
        return pool[next++ % pool.length]!;
      };
      record(
        cold,
        await loadWatched(cold, {
          url: svc.tokenUrl,
          authorization: pool[0]!,
          nextAuthorization,
          amount: pool.length - 2 * CONNECTIONS,
          seconds: DURATION,
        }),
      );
      cachedCredentials += Math.min(cold.statusCodes?.['200'] ?? 0, pool.length);
      if (reused > 0) cold.notes.push(`${reused} requests reused a credential (memo hits): the pool ran out`);
      if ((cold.seconds ?? 0) < DURATION * 0.9) {
        cold.notes.push(`stopped after ${cold.seconds} s: the pool of never-verified secrets was used up`);
      }
    } catch (error) {
      failed(cold, error);
    }
    readMemory('end of the run (after the failure and cold loads)');
    memory.notes.push(
      'VmRSS: resident memory of the service process (`node dist/main.js`, built by `npm run build` at the start of the bench, as in the Dockerfile) from ' +
        '/proc/<pid>/status; VmHWM: its highest VmRSS since start. PGlite runs inside that process, so its ' +
        'buffers count too. Nothing forces a garbage collection before a reading.',
      '"credentials in the cache": counted by the bench, not read from the service (it does not expose the ' +
        'number): every credential it verified since start (bootstrap admin, warm account, seeded accounts, cold-path ' +
        'accounts). None is dropped in between: no change touches those accounts, and the cache holds up to ' +
        'CREDENTIAL_CACHE_MAX_ENTRIES (50,000); an entry past its 60 s TTL stays in memory until it is replaced.',
    );
  } finally {
    await svc.child.stop();
  }
}

/** The admin list pages on a database holding `count` seeded accounts. */
async function benchScale(database: DbKind, count: number): Promise<void> {
  const scale: ScaleReport = { database, accounts: count, queries: [] };
  scaleReports.push(scale);
  log(`admin lists ${database}: ${count.toLocaleString('en-US')} accounts`);
  let svc: OurService | undefined;
  try {
    svc = await startOurs('RS256', database, count);
    if (svc.seeded.result) scale.seed = svc.seeded.result;
    const bearer = await adminToken(svc);
    const deadline = Date.now() + 240_000;
    scale.queries = await measureAdminLists({
      base: svc.base,
      bearer,
      count,
      seedBase: svc.seeded.base,
      requests: ADMIN_REQUESTS,
      warmup: 2,
      shouldStop: () => interrupted || Date.now() > deadline,
      cpuSnapshot: () => cpuSnapshot(liveGroups),
      log,
    });
    scale.memory = processMemory(svc.child.proc.pid!);
  } catch (error) {
    scale.error = error instanceof Error ? error.message : String(error);
    log(`  admin lists ${database} FAILED: ${scale.error}`);
  } finally {
    await svc?.child.stop();
  }
}

// ---------------------------------------------------------------------------------------------- report

function ratios(): void {
  const find = (pred: (s: Scenario) => boolean) => scenarios.find((s) => s.ok && pred(s));
  for (const s of scenarios) {
    if (!s.ok || !s.rps) continue;
    const floor = find((b) => b.role === 'floor' && b.alg === s.alg);
    const peer = find((b) => b.role === 'oidc-provider' && b.alg === s.alg);
    const warm = find((b) => b.role === 'ours' && b.path === 'warm' && b.alg === s.alg && b.database === s.database);
    s.ratios = {};
    if (floor?.rps) s.ratios.vsFloor = s.rps / floor.rps;
    if (peer?.rps) s.ratios.vsOidcProvider = s.rps / peer.rps;
    if (s.role === 'ours' && warm?.rps) s.ratios.vsOurWarm = s.rps / warm.rps;
  }
}

/** Which code was measured: HEAD, and whether src/ differed from it (others may be editing). */
function sourceVersion(): { commit?: string; srcModified?: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'drizzle'], { cwd: ROOT, encoding: 'utf8' });
    return { commit, srcModified: status.split('\n').filter(Boolean).map((l) => l.slice(3)) };
  } catch {
    return {};
  }
}

function table(): string {
  const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '—' : n.toFixed(digits));
  const ratio = (n: number | undefined) => (n === undefined ? '—' : `${n.toFixed(n < 0.1 ? 3 : 2)}×`);
  const header = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'vs floor', 'vs oidc-provider', 'vs our warm'];
  const rows = scenarios.map((s) =>
    s.ok
      ? [
          s.path === 'failure' ? `${s.id} (401 expected)` : s.id,
          fmt(s.rps),
          fmt(s.latencyMs?.p50, 1),
          fmt(s.latencyMs?.p99, 1),
          String(s.non2xx ?? '—'),
          String(s.errors ?? '—'),
          ratio(s.ratios?.vsFloor),
          ratio(s.ratios?.vsOidcProvider),
          ratio(s.ratios?.vsOurWarm),
        ]
      : [s.id, 'FAILED', '', '', '', '', '', '', ''],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const source = sourceVersion();
  const cpus = os.cpus();
  log(
    `${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, node ${process.version}; ${DURATION} s per scenario ` +
      `(+${WARMUP} s warm-up), ${CONNECTIONS} connections; PostgreSQL: ${DATABASE_SERVER_URL ? 'yes' : 'no (set BENCH_DATABASE_URL)'}`,
  );
  try {
    log(`building ${SERVICE_SCRIPT} (npm run build)`);
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
    for (const alg of ALGS) if (!interrupted) await benchFloor(alg);
    for (const alg of ALGS) if (!interrupted) await benchPeer(alg);
    const databases: DbKind[] = DATABASE_SERVER_URL ? ['pglite', 'postgres'] : ['pglite'];
    for (const database of databases) {
      for (const alg of ALGS) if (!interrupted) await benchOurs(alg, database, alg === 'RS256');
    }
    if (SCALE_ACCOUNTS > 0) for (const database of databases) if (!interrupted) await benchScale(database, SCALE_ACCOUNTS);
  } finally {
    await runCleanups();
  }
  if (interrupted) return;

  ratios();
  const notes = [
    'Throughput ratios: req/s of the row ÷ req/s of the baseline with the same alg (and, for "vs our warm", the same database).',
    `Closed loop: ${CONNECTIONS} connections each waiting for its answer, so p50 ≈ connections ÷ req/s when the server is saturated.`,
    `autocannon runs in the parent process and shares the ${cpus.length} CPU(s) with the server under test (and PostgreSQL): absolute numbers are lower than with a separate load generator.`,
    'floor: no client authentication, no database, no framework — only body parsing and signing; oidc-provider: plaintext client secrets in its configuration, no database.',
    'cold/failure: one argon2id verify per request (ARGON2_MAX_CONCURRENCY=2 by default), so they are bound by argon2, not by the code around it.',
    `ours: ${ACCOUNTS.toLocaleString('en-US')} accounts seeded with SQL before each start; rate-limit and brute-force thresholds raised (${Object.entries(SERVICE_LIMITS).map(([k, v]) => `${k}=${v}`).join(', ')}) so that the load measures tokens, not 429 answers; both checks still run on every request.`,
  ];
  for (const s of scenarios) if (!s.ok) notes.push(`${s.id} failed: ${s.error}`);
  if (source.srcModified?.length) {
    notes.push(`measured src/ differs from ${source.commit?.slice(0, 12)} in: ${source.srcModified.join(', ')}`);
  }
  const printedTable = table();
  process.stdout.write(`\n${printedTable}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  const printed = new Set<string>();
  for (const s of scenarios) {
    for (const n of s.notes) {
      if (printed.has(n)) continue;
      printed.add(n);
      process.stdout.write(`- ${s.id}: ${n}\n`);
    }
  }

  const memoryTable = memoryReports.flatMap((m) =>
    m.readings.map((r) => `  ${m.database} ${r.moment}: ${r.accountsInDatabase} accounts, ${r.cachedCredentials} cached, VmRSS ${r.memory?.rssMiB ?? '?'} MiB, VmHWM ${r.memory?.hwmMiB ?? '?'} MiB`),
  );
  const adminTable = scaleReports.flatMap((sr) => [
    ...(sr.error ? [`  ${sr.database}: FAILED ${sr.error}`] : []),
    ...sr.queries.map((q) => `  ${sr.database} ${q.id}: ${q.ok ? `p50 ${q.latencyMs?.p50} ms, p99 ${q.latencyMs?.p99} ms` : `FAILED ${q.error}`}`),
  ]);
  if (memoryTable.length) process.stdout.write(`\nMemory:\n${memoryTable.join('\n')}\n`);
  if (adminTable.length) process.stdout.write(`\nAdmin lists (${SCALE_ACCOUNTS} accounts, ${ADMIN_REQUESTS} sequential requests each):\n${adminTable.join('\n')}\n`);

  const serverVersion = (kind: DbKind) => serverVersions.get(kind);
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    source,
    machine: {
      cpus: cpus.length,
      model: cpus[0]?.model,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg(),
    },
    databases: {
      pglite: `${packageVersion('@electric-sql/pglite')}${serverVersion('pglite') ? ` (PostgreSQL ${serverVersion('pglite')})` : ''}`,
      ...(DATABASE_SERVER_URL ? { postgres: serverVersion('postgres') ?? 'unknown version' } : {}),
    },
    settings: {
      durationSeconds: DURATION,
      warmupSeconds: WARMUP,
      connections: CONNECTIONS,
      seededAccounts: ACCOUNTS,
      scaleAccounts: SCALE_ACCOUNTS,
      adminRequests: ADMIN_REQUESTS,
      serviceLimits: SERVICE_LIMITS,
      body: TOKEN_BODY,
    },
    scenarios,
    memory: memoryReports,
    scale: scaleReports,
    notes,
    table: printedTable,
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${RESULTS_FILE}\n`);
  if (MARKDOWN_FILE) {
    const targets = writeBenchmarksMarkdown(MARKDOWN_FILE, report);
    process.stdout.write(`\nTargets:\n${targets.map((t) => `  ${t.verdict.padEnd(12)} ${t.title}${t.missedBy.length ? `\n${t.missedBy.map((m) => `               ${m}`).join('\n')}` : ''}`).join('\n')}\n`);
    process.stdout.write(`\nMarkdown: ${MARKDOWN_FILE} (between its bench:results markers)\n`);
  }
  const failedParts = scaleReports.some((sr) => sr.error || sr.queries.some((q) => !q.ok)) || memoryReports.some((m) => m.fill && m.fill.unexpected > 0);
  if (scenarios.some((s) => !s.ok) || failedParts) process.exitCode = 1;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown version';
  }
}

main().catch(async (error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await runCleanups();
  process.exitCode = 1;
});

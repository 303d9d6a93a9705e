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
 * Rounds: per alg, the floor, oidc-provider and ours warm (on PGlite, and on PostgreSQL when enabled) run side by
 * side, and each is loaded in turn (a warm-up, then BENCH_DURATION_SECONDS measured) in BENCH_ROUNDS rounds whose
 * order rotates; a scenario's req/s and latencies are the medians of its rounds, and ratios are also paired
 * round by round (bench/rounds.ts). The machine is noisy: one load minutes apart from its baseline says little.
 * Every measured load also reads the CPU time the server under test used (bench/server-cpu.ts): CPU µs per token.
 * Then, with only ours left running, the single-shot parts: memory, failure path, cold path.
 *
 * Accounts are seeded with SQL by bench/seed-accounts.ts before the service starts (bench/seed-plan.ts says
 * what they look like). Every server runs in its own child process; autocannon runs in this one. Nothing here
 * is a pass/fail timing assertion: absolute numbers depend on the machine (and on autocannon sharing its
 * cores), the ratios much less; the issue-4 targets are judged in the report, never by the exit code.
 *
 * Env: BENCH_ROUNDS (3), BENCH_DURATION_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_WARMUP_SECONDS (2, before every load),
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
import { pairedRatio, roundOrder, summarizeRounds } from './rounds';
import { serverCpuSnapshot, serverCpuUsed, type ServerCpuUsed, type ServerProcesses } from './server-cpu';
import {
  writeBenchmarksMarkdown,
  type Alg,
  type BenchReport,
  type DbKind,
  type MemoryReport,
  type PathKind,
  type Role,
  type RoundResult,
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

/** Interleaved rounds of the warm path and its baselines; each scenario's headline numbers are medians over them. */
const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 50);
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
  const s: Scenario = { id, role, path, alg, expectStatus: path === 'failure' ? 401 : 200, ok: false, rounds: [], notes: [] };
  if (database) s.database = database;
  scenarios.push(s);
  return s;
}

/** A server under load: where to send the requests, and whose CPU time counts (bench/server-cpu.ts). */
interface LoadTarget {
  scenario: Scenario;
  url: string;
  authorization: string;
  processes: ServerProcesses;
}

interface Watched {
  result: autocannon.Result;
  startedAt: Date;
  /** CPU of other processes of the machine meanwhile, in % of one CPU (cpu-contention.ts). */
  others?: number;
  /** CPU of the server under test meanwhile, and until it was idle again (see `settle`). */
  cpu?: ServerCpuUsed;
  /** How long the server kept working after the load ended (see `settle`). */
  settleSeconds: number;
}

/** A load, with the CPU time the server under test and the machine's other processes used meanwhile. */
async function loadWatched(spec: LoadSpec, processes: ServerProcesses): Promise<Watched> {
  const startedAt = new Date();
  const machineBefore = cpuSnapshot(liveGroups);
  const serverBefore = serverCpuSnapshot(processes);
  const result = await runLoad(spec);
  const others = othersCpuPercent(machineBefore, cpuSnapshot(liveGroups));
  const { snapshot: serverAfter, seconds } = await settle(processes);
  const watched: Watched = { result, startedAt, settleSeconds: seconds };
  if (others !== undefined) watched.others = others;
  const cpu = serverCpuUsed(serverBefore, serverAfter);
  if (cpu) watched.cpu = cpu;
  return watched;
}

const SETTLE_STEP_MS = 500;
const SETTLE_MAX_MS = 60_000;

/**
 * Waits, after a load, until the server (and its PostgreSQL backends) is idle again: below 5% of a CPU over
 * half a second, at most a minute. What a server defers (ours: audit rows and last-used times written from
 * their buffers) is part of what its tokens cost, so the CPU per token counts it; and it must not run into
 * the next target's load, which would pay for it.
 */
async function settle(processes: ServerProcesses): Promise<{ snapshot: ReturnType<typeof serverCpuSnapshot>; seconds: number }> {
  const started = performance.now();
  let last = serverCpuSnapshot(processes);
  while (performance.now() - started < SETTLE_MAX_MS) {
    await sleep(SETTLE_STEP_MS);
    const now = serverCpuSnapshot(processes);
    const used = serverCpuUsed(last, now);
    last = now;
    if (!used || used.serverMs + (used.databaseMs ?? 0) < SETTLE_STEP_MS * 0.05) break;
  }
  return { snapshot: last, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

const tenths = (n: number) => Math.round(n * 10) / 10;

/** One measured load as round `round` of `s` (at `position` in that round); updates the scenario's medians. */
function recordRound(s: Scenario, w: Watched, round: number, position: number): void {
  const r = w.result;
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = stat?.count ?? 0;
  const responses = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const expected = statusCodes[String(s.expectStatus)] ?? 0;
  const result: RoundResult = {
    round,
    position,
    startedAt: w.startedAt.toISOString(),
    requests: r.requests.total,
    seconds: r.duration,
    rps: r.duration > 0 ? r.requests.total / r.duration : 0,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: r.latency.mean, max: r.latency.max },
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts + (responses - expected),
    transportErrors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    settleSeconds: w.settleSeconds,
  };
  if (w.cpu && responses > 0) {
    const { serverMs, databaseMs, databaseBackends } = w.cpu;
    const perToken = (ms: number) => tenths((ms * 1000) / responses);
    result.cpu = {
      serverMs: tenths(serverMs),
      ...(databaseMs === undefined ? {} : { databaseMs: tenths(databaseMs), databaseBackends, databaseUsPerToken: perToken(databaseMs) }),
      usPerToken: perToken(serverMs + (databaseMs ?? 0)),
      serverUsPerToken: perToken(serverMs),
    };
  }
  if (w.others !== undefined) result.othersCpuPercent = Math.round(w.others);
  const load = os.loadavg()[0];
  if (load !== undefined) result.loadAverage1m = load;
  s.rounds.push(result);
  summarizeRounds(s);
  const cpu = result.cpu
    ? `${result.cpu.usPerToken} µs CPU/token${result.cpu.databaseUsPerToken !== undefined ? ` (PostgreSQL ${result.cpu.databaseUsPerToken})` : ''}`
    : 'CPU not readable';
  log(
    `  ${s.id}${s.path === 'warm' || s.path === 'baseline' ? ` [round ${round}/${ROUNDS}, #${position}]` : ''}: ` +
      `${result.rps.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${cpu}, ` +
      `statuses ${JSON.stringify(statusCodes)}, errors ${r.errors}, timeouts ${r.timeouts}, ` +
      `other processes ${result.othersCpuPercent ?? '?'}% CPU, busy ${w.settleSeconds} s after the load`,
  );
}

function failed(s: Scenario, error: unknown): void {
  s.ok = false;
  s.error = error instanceof Error ? error.message : String(error);
  log(`  ${s.id} FAILED: ${s.error}`);
}

/**
 * BENCH_ROUNDS rounds; in each, every target once (its warm-up, then DURATION s measured), in an order rotated
 * by one each round so that no target is always first. A target whose load fails is dropped from the rest.
 */
async function measureRounds(alg: Alg, targets: LoadTarget[]): Promise<void> {
  let active = targets.filter((t) => t.scenario.error === undefined);
  for (let round = 0; round < ROUNDS && active.length > 0; round++) {
    notInterrupted();
    const order = roundOrder(active, round);
    log(`${alg} round ${round + 1}/${ROUNDS}: ${order.map((t) => t.scenario.id).join(' → ')}`);
    for (const [i, t] of order.entries()) {
      notInterrupted();
      try {
        if (WARMUP > 0) await runLoad({ url: t.url, authorization: t.authorization, seconds: WARMUP });
        const watched = await loadWatched({ url: t.url, authorization: t.authorization, seconds: DURATION }, t.processes);
        recordRound(t.scenario, watched, round + 1, i + 1);
      } catch (error) {
        failed(t.scenario, error);
      }
    }
    active = active.filter((t) => t.scenario.error === undefined);
  }
}

// ---------------------------------------------------------------------------------------------- baselines

interface Started {
  child: Child;
  target: LoadTarget;
}

/** Starts `child`, waits for `readyUrl`, probes: the child is stopped again if any of it fails. */
async function started(child: Child, readyUrl: string, target: Omit<LoadTarget, 'processes'>, alg: Alg): Promise<Started> {
  try {
    await waitUntilListening(child, readyUrl);
    target.scenario.sample = await probe(target.url, target.authorization, 200, alg);
    return { child, target: { ...target, processes: { pgid: child.proc.pid! } } };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

async function startFloor(alg: Alg, s: Scenario): Promise<Started> {
  log(`${s.id}: starting bench/floor-server.ts`);
  const port = await freePort();
  const child = startChild(`floor-${alg}`, 'bench/floor-server.ts', {
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    SIGNING_ALG: alg,
    BENCH_CLIENT_ID: 'sa_floor',
  });
  const url = `http://127.0.0.1:${port}/oauth/token`;
  return started(child, `http://127.0.0.1:${port}/`, { scenario: s, url, authorization: basicAuth('sa_floor', 'unused') }, alg);
}

async function startPeer(alg: Alg, s: Scenario): Promise<Started> {
  log(`${s.id}: starting bench/peer-server.ts (oidc-provider)`);
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
  const url = `http://127.0.0.1:${port}/token`;
  const readyUrl = `http://127.0.0.1:${port}/.well-known/openid-configuration`;
  return started(child, readyUrl, { scenario: s, url, authorization: basicAuth(clientId, clientSecret) }, alg);
}

/** oidc-provider's start-up warnings (development keys, …), as notes of its scenario. */
function peerWarnings(child: Child, s: Scenario): void {
  const warnings = child.tail().split('\n').filter((l) => /WARNING|NOTICE/.test(l));
  s.notes.push(...new Set(warnings));
}

// ---------------------------------------------------------------------------------------------- our service

interface OurService {
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
  const svc: OurService = { child, base, tokenUrl: `${base}/oauth/token`, adminId, adminSecret, seeded };
  if (databaseUrl) svc.databaseName = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  return svc;
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

/** One "ours" service of an alg's run: its scenarios, and what it holds (for the memory readings). */
interface OursRun {
  alg: Alg;
  database: DbKind;
  warm: Scenario;
  failure?: Scenario;
  cold?: Scenario;
  memory?: MemoryReport;
  svc?: OurService;
  bearer?: string;
  account?: { clientId: string; secret: string };
  /** The warm load, once the service answered a probe with a token. */
  target?: LoadTarget;
  /** Accounts in its database, credentials it verified: counted by the bench for the memory readings. */
  accountsInDatabase: number;
  cachedCredentials: number;
}

function readMemory(run: OursRun, moment: string): void {
  if (!run.memory || !run.svc) return;
  const { accountsInDatabase, cachedCredentials } = run;
  const reading = { moment, accountsInDatabase, cachedCredentials, memory: processMemory(run.svc.child.proc.pid!) };
  run.memory.readings.push(reading);
  log(`  ${run.database} memory ${moment}: ${reading.memory ? `VmRSS ${reading.memory.rssMiB} MiB, VmHWM ${reading.memory.hwmMiB} MiB` : 'not readable'}`);
}

/**
 * Starts the service on `database` (ACCOUNTS seeded), makes its warm-path account and probes it. Never throws:
 * what fails is recorded in its scenarios (and the service stopped when it cannot be used at all).
 */
async function prepareOurs(alg: Alg, database: DbKind, withArgon2Paths: boolean): Promise<OursRun> {
  const run: OursRun = {
    alg,
    database,
    warm: newScenario('ours', 'warm', alg, database),
    accountsInDatabase: ACCOUNTS + 1, // the seeded ones and the bootstrap admin
    cachedCredentials: 0,
  };
  if (withArgon2Paths) {
    run.failure = newScenario('ours', 'failure', alg, database);
    run.cold = newScenario('ours', 'cold', alg, database);
    // Memory is read in the run that goes through every path (RS256).
    run.memory = { database, alg, seededAccounts: ACCOUNTS, readings: [], notes: [] };
    memoryReports.push(run.memory);
  }
  log(`ours ${database} ${alg}: starting ${SERVICE_SCRIPT}`);
  try {
    run.svc = await startOurs(alg, database, ACCOUNTS);
    if (run.memory && run.svc.seeded.result) run.memory.seed = run.svc.seeded.result;
    readMemory(run, 'idle, just started');
    run.bearer = await adminToken(run.svc);
    run.cachedCredentials++; // the bootstrap admin's
    run.account = await createAccount(run.svc, run.bearer, `bench-warm-${randomBytes(3).toString('hex')}`);
    run.accountsInDatabase++;
  } catch (error) {
    for (const s of [run.warm, run.failure, run.cold]) if (s) failed(s, error);
    await run.svc?.child.stop();
    delete run.svc;
    return run;
  }
  try {
    const authorization = basicAuth(run.account.clientId, run.account.secret);
    run.warm.sample = await probe(run.svc.tokenUrl, authorization, 200, alg);
    run.cachedCredentials++;
    const processes: ServerProcesses = { pgid: run.svc.child.proc.pid! };
    if (run.svc.databaseName) processes.database = run.svc.databaseName;
    run.target = { scenario: run.warm, url: run.svc.tokenUrl, authorization, processes };
  } catch (error) {
    failed(run.warm, error);
  }
  return run;
}

/**
 * After the warm rounds, the single-shot parts of the RS256 run (memory readings, all seeded accounts
 * authenticated, failure path, cold path); then the service is stopped.
 */
async function finishOurs(run: OursRun): Promise<void> {
  const { alg, svc, bearer, account, warm, failure, cold, memory } = run;
  try {
    if (!svc || !bearer || !account || !failure || !cold || !memory) return;
    const processes: ServerProcesses = { pgid: svc.child.proc.pid! };
    if (svc.databaseName) processes.database = svc.databaseName;
    readMemory(
      run,
      `after the warm load (${warm.rounds.length} round${warm.rounds.length === 1 ? '' : 's'}, ` +
        `${(warm.requests ?? 0).toLocaleString('en-US')} measured requests)`,
    );

    if (ACCOUNTS > 0) {
      log(`  ${run.database}: authenticating each of the ${ACCOUNTS.toLocaleString('en-US')} seeded accounts once`);
      try {
        memory.fill = await authenticateSeeded(svc, 8, 180);
        // A genuine credential is cached whatever its state (a disabled or expired one answers 401).
        run.cachedCredentials += memory.fill.requests - memory.fill.unexpected;
        log(`  ${memory.fill.requests} requests in ${memory.fill.seconds.toFixed(1)} s, statuses ${JSON.stringify(memory.fill.statusCodes)}, unexpected ${memory.fill.unexpected}`);
        readMemory(run, 'after each seeded account authenticated once');
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
      recordRound(failure, await loadWatched({ url: svc.tokenUrl, authorization: wrong, seconds: DURATION }, processes), 1, 1);
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
      run.accountsInDatabase += pool.length;
      cold.notes.push(`${pool.length} accounts created over the admin API in ${seconds.toFixed(1)} s (${(pool.length / seconds).toFixed(0)}/s, one argon2id hash each)`);
      if (pool.length < 3 * CONNECTIONS) throw new Error(`only ${pool.length} cold accounts could be created`);
      let next = 0;
      let reused = 0;
      const nextAuthorization = () => {
        if (next >= pool.length) reused++;
        return pool[next++ % pool.length]!;
      };
      const watched = await loadWatched(
        { url: svc.tokenUrl, authorization: pool[0]!, nextAuthorization, amount: pool.length - 2 * CONNECTIONS, seconds: DURATION },
        processes,
      );
      recordRound(cold, watched, 1, 1);
      run.cachedCredentials += Math.min(cold.statusCodes?.['200'] ?? 0, pool.length);
      if (reused > 0) cold.notes.push(`${reused} requests reused a credential (memo hits): the pool ran out`);
      if ((cold.seconds ?? 0) < DURATION * 0.9) {
        cold.notes.push(`stopped after ${cold.seconds} s: the pool of never-verified secrets was used up`);
      }
    } catch (error) {
      failed(cold, error);
    }
    readMemory(run, 'end of the run (after the failure and cold loads)');
    memory.notes.push(
      'VmRSS: resident memory of the service process (`node dist/main.js`, built by `npm run build` at the start of the bench, as in the Dockerfile) from ' +
        '/proc/<pid>/status; VmHWM: its highest VmRSS since start. PGlite runs inside that process, so its ' +
        'buffers count too. Nothing forces a garbage collection before a reading.',
      '"credentials in the cache": counted by the bench, not read from the service (it does not expose the ' +
        'number): every credential it verified since start (bootstrap admin, warm account, seeded accounts, cold-path ' +
        'accounts). None is dropped in between: no change touches those accounts, and the cache holds up to ' +
        'CREDENTIAL_CACHE_MAX_ENTRIES (50,000); an entry past its 60 s TTL stays in memory until it is replaced.',
      `"after the warm load": read once the ${ROUNDS} warm round(s) of this service were done; the service sat idle ` +
        'while the other servers of its alg were loaded, and the baselines were stopped before the readings that follow.',
    );
  } finally {
    await svc?.child.stop();
  }
}

/**
 * Everything measured with one alg: the floor, oidc-provider and ours (per database) running side by side for
 * the interleaved warm rounds; then the baselines are stopped and each service, in turn, does its single-shot
 * parts (RS256) and is stopped.
 */
async function benchAlg(alg: Alg, databases: readonly DbKind[]): Promise<void> {
  const floor = newScenario('floor', 'baseline', alg);
  const peer = newScenario('oidc-provider', 'baseline', alg);
  const baselines: Child[] = [];
  const runs: OursRun[] = [];
  const targets: LoadTarget[] = [];
  try {
    for (const [s, start] of [[floor, startFloor], [peer, startPeer]] as const) {
      notInterrupted();
      try {
        const { child, target } = await start(alg, s);
        baselines.push(child);
        targets.push(target);
        if (s === peer) peerWarnings(child, peer);
      } catch (error) {
        failed(s, error);
      }
    }
    for (const database of databases) {
      notInterrupted();
      const run = await prepareOurs(alg, database, alg === 'RS256');
      runs.push(run);
      if (run.target) targets.push(run.target);
    }
    await measureRounds(alg, targets);
    for (const child of baselines) await child.stop();
    for (const run of runs) {
      notInterrupted();
      await finishOurs(run);
    }
  } catch (error) {
    if (!interrupted) throw error;
  } finally {
    for (const child of baselines) await child.stop();
    for (const run of runs) await run.svc?.child.stop();
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
    const r: NonNullable<Scenario['ratios']> = {};
    if (floor?.rps) r.vsFloor = s.rps / floor.rps;
    if (peer?.rps) r.vsOidcProvider = s.rps / peer.rps;
    if (s.role === 'ours' && warm?.rps) r.vsOurWarm = s.rps / warm.rps;
    // Paired ratios only between the scenarios measured in the same interleaved rounds.
    if (s.path === 'warm' || s.path === 'baseline') {
      const pairedFloor = floor && floor !== s ? pairedRatio(s, floor) : undefined;
      const pairedPeer = peer && peer !== s ? pairedRatio(s, peer) : undefined;
      if (pairedFloor) r.pairedVsFloor = pairedFloor.ratio;
      if (pairedPeer) r.pairedVsOidcProvider = pairedPeer.ratio;
    }
    if (s.cpuUsPerToken?.total) {
      if (floor?.cpuUsPerToken) r.cpuVsFloor = floor.cpuUsPerToken.total / s.cpuUsPerToken.total;
      if (peer?.cpuUsPerToken) r.cpuVsOidcProvider = peer.cpuUsPerToken.total / s.cpuUsPerToken.total;
    }
    s.ratios = r;
  }
}

/** The table's order: floors, oidc-providers, then ours by database, alg and path (the order of the old sequential run). */
function sortScenarios(): void {
  const rank = <T>(list: readonly T[], v: T | undefined) => (v === undefined ? -1 : list.indexOf(v));
  const key = (s: Scenario) => [
    rank(['floor', 'oidc-provider', 'ours'], s.role),
    rank(['pglite', 'postgres'], s.database),
    rank(ALGS, s.alg),
    rank(['baseline', 'warm', 'failure', 'cold'], s.path),
  ];
  scenarios.sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  });
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
  const withPaired = (n: number | undefined, paired: number | undefined) =>
    n === undefined ? '—' : paired === undefined ? ratio(n) : `${ratio(n)} (${ratio(paired)})`;
  const header = [
    'scenario', 'rounds', 'req/s', 'min–max', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'CPU µs/token',
    'vs floor (paired)', 'vs oidc-provider (paired)', 'vs our warm', 'CPU vs floor',
  ];
  const rows = scenarios.map((s) => {
    const name = s.path === 'failure' ? `${s.id} (401 expected)` : s.id;
    if (!s.ok) return [name, String(s.rounds.length), 'FAILED', '', '', '', '', '', '', '', '', '', ''];
    const cpu = s.cpuUsPerToken;
    return [
      name,
      String(s.rounds.length),
      fmt(s.rps),
      s.rpsRange && s.rounds.length > 1 ? `${fmt(s.rpsRange.min)}–${fmt(s.rpsRange.max)}` : '—',
      fmt(s.latencyMs?.p50, 1),
      fmt(s.latencyMs?.p99, 1),
      String(s.non2xx ?? '—'),
      String(s.errors ?? '—'),
      cpu ? `${fmt(cpu.total)}${cpu.database !== undefined ? ` (PG ${fmt(cpu.database)})` : ''}` : '—',
      s.role === 'floor' ? '—' : withPaired(s.ratios?.vsFloor, s.ratios?.pairedVsFloor),
      s.role === 'ours' ? withPaired(s.ratios?.vsOidcProvider, s.ratios?.pairedVsOidcProvider) : '—',
      ratio(s.ratios?.vsOurWarm),
      s.role === 'floor' ? '—' : ratio(s.ratios?.cpuVsFloor),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Whether PostgreSQL's CPU could be counted for ours on PostgreSQL: a note either way. */
function postgresCpuNote(): string | undefined {
  const onPostgres = scenarios.filter((s) => s.ok && s.database === 'postgres');
  if (onPostgres.length === 0) return undefined;
  const counted = onPostgres.filter((s) => s.cpuUsPerToken?.database !== undefined);
  if (counted.length === 0) {
    return 'CPU µs/token of ours on PostgreSQL counts the service process only: no PostgreSQL backend of its database was ' +
      'found in /proc (a server on another machine, in a container, or with update_process_title off), so PostgreSQL\'s CPU is not counted.';
  }
  const missing = onPostgres.filter((s) => s.cpuUsPerToken && s.cpuUsPerToken.database === undefined).map((s) => s.id);
  return 'CPU µs/token of ours on PostgreSQL = the service process + the PostgreSQL backends connected to its own ' +
    'throw-away database (found in /proc by their process title `postgres: <user> <database> …`; the "PG" figure in ' +
    'parentheses). PostgreSQL\'s shared background processes (WAL writer, checkpointer, background writer, autovacuum) ' +
    'serve every database of the server and are not counted.' +
    (missing.length ? ` No backend was found for: ${missing.join(', ')} (its PostgreSQL CPU is not counted).` : '');
}

// ---------------------------------------------------------------------------------------------- main

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const source = sourceVersion();
  const cpus = os.cpus();
  log(
    `${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, node ${process.version}; ${ROUNDS} round(s) of ${DURATION} s per ` +
      `warm scenario (+${WARMUP} s warm-up each), ${CONNECTIONS} connections; PostgreSQL: ${DATABASE_SERVER_URL ? 'yes' : 'no (set BENCH_DATABASE_URL)'}`,
  );
  try {
    log(`building ${SERVICE_SCRIPT} (npm run build)`);
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
    const databases: DbKind[] = DATABASE_SERVER_URL ? ['pglite', 'postgres'] : ['pglite'];
    for (const alg of ALGS) if (!interrupted) await benchAlg(alg, databases);
    if (SCALE_ACCOUNTS > 0) for (const database of databases) if (!interrupted) await benchScale(database, SCALE_ACCOUNTS);
  } finally {
    await runCleanups();
  }
  if (interrupted) return;

  sortScenarios();
  ratios();
  const notes = [
    `Rounds: per alg, the floor, oidc-provider and ours warm${DATABASE_SERVER_URL ? ' (PGlite and PostgreSQL)' : ''} ran side by side and were ` +
      `loaded in turn, ${ROUNDS} round(s) of ${DURATION} s each after ${WARMUP} s of warm-up, the order rotated by one each round; ` +
      'the others sat idle meanwhile. req/s, p50 and p99 are the medians of the rounds (each its own median); min–max is the spread of req/s. ' +
      'failure and cold: one load each, after the rounds.',
    'Throughput ratios: median req/s of the row ÷ median req/s of the baseline with the same alg (and, for "vs our warm", the same database); ' +
      '"(paired)": the median over the rounds of (the row\'s req/s ÷ the baseline\'s req/s in the same round), which cancels slow drifts of the machine.',
    'The targets (≥ 0.8× floor, ≥ 1.5× oidc-provider, p99 < 25 ms) are judged on the medians: median ÷ median for the ratios, the median of the rounds\' p99.',
    'CPU µs/token: CPU time (user + system, every thread) of the server under test during the measured seconds ÷ the answers it gave, ' +
      'from /proc/<pid>/stat of its process group; median of the rounds. "CPU vs floor": the floor\'s µs ÷ the row\'s (higher is better). ' +
      'Context for readers: no target is judged on it.',
    `Closed loop: ${CONNECTIONS} connections each waiting for its answer, so p50 ≈ connections ÷ req/s when the server is saturated.`,
    `autocannon runs in the parent process and shares the ${cpus.length} CPU(s) with the server under test (and PostgreSQL): absolute numbers are lower than with a separate load generator.`,
    'floor: no client authentication, no database, no framework — only body parsing and signing; oidc-provider: plaintext client secrets in its configuration, no database.',
    'cold/failure: one argon2id verify per request (ARGON2_MAX_CONCURRENCY=2 by default), so they are bound by argon2, not by the code around it.',
    `ours: ${ACCOUNTS.toLocaleString('en-US')} accounts seeded with SQL before each start; rate-limit and brute-force thresholds raised (${Object.entries(SERVICE_LIMITS).map(([k, v]) => `${k}=${v}`).join(', ')}) so that the load measures tokens, not 429 answers; both checks still run on every request.`,
  ];
  const pgNote = postgresCpuNote();
  if (pgNote) notes.push(pgNote);
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
      rounds: ROUNDS,
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

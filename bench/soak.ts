/**
 * `npm run soak`: SOAK_SECONDS (60) of mixed load on one service (src/main.ts as a child process) on
 * PostgreSQL, looking for what a short test cannot see: failures under sustained traffic, memory that keeps
 * growing, audit events lost, a revoke that does not hold.
 *
 *   valid      loops asking for tokens with the secrets of a few stable accounts; every token is verified
 *              against the JWKS as it is at that moment (fetched again when a kid is unknown)
 *   wrong      a loop with wrong secrets of those accounts, and unknown client_ids (argon2-bound; 401 expected)
 *   churn      one admin loop creating, editing, disabling, enabling, revoking and deleting accounts and
 *              adding, disabling, enabling and revoking their secrets, while loops use those credentials;
 *              each answer is judged against the changes' send and answer times (soak-churn.ts)
 *   rotation   `keys rotate` (src/cli/main.ts, as `npm run cli -- keys rotate` runs it) on the service's
 *              KEYS_DIR every quarter of the run, with KEY_PROPAGATION_SECONDS=5: each new key signs within it
 *
 * Reports requests by kind and status, unexpected errors (a 5xx, a socket error, a token failing verification,
 * an unusable credential getting a token or a usable one refused, a failed rotation, audit rows that do not
 * match the requests), the service's VmRSS every SOAK_SAMPLE_SECONDS with the slope of a least-squares line
 * over the second half, and the audit rows written (after SIGTERM, which flushes) against the requests made.
 * Exit code 1 when an unexpected error occurred or something could not be measured; 130 when interrupted.
 *
 * Env: SOAK_SECONDS (60), SOAK_SAMPLE_SECONDS (5), SOAK_DATABASE_URL (a database to use as it is), else a
 * throw-away database soak_<random> on the server of TEST_DATABASE_URL or BENCH_DATABASE_URL, dropped at the
 * end; SOAK_JSON: a file to write the report to as JSON.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { processMemory } from './process-memory';
import { Churn } from './soak-churn';
import { SoakClient } from './soak-client';
import { checkAudit, formatReport, memorySlope, reportJson, type SoakResult } from './soak-report';
import { freePort } from './free-port';

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max}`);
  return value;
}

const SECONDS = intEnv('SOAK_SECONDS', 60, 5, 7 * 86_400);
const SAMPLE_SECONDS = intEnv('SOAK_SAMPLE_SECONDS', 5, 1, 3600);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN = { id: 'soak-admin', secret: randomBytes(32).toString('base64url') };
const AUDIENCE = 'https://api.soak.example';
/** Concurrent loops per kind. One wrong-secret loop keeps an argon2 verify running at all times. */
const LOOPS = { valid: 6, wrong: 1, churn: 2 };
const STABLE_ACCOUNTS = 8;
const CHURN = { accounts: 6, maxActiveSecrets: 10, pauseMs: 50 };

const log = (line: string) => process.stderr.write(`[soak] ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;

let interrupted = false;
let deadline = Infinity;
const running = () => performance.now() < deadline && !interrupted;

// ------------------------------------------------------------------------------------------- token loops

interface Credential {
  clientId: string;
  secret: string;
}

async function validLoop(client: SoakClient, stable: Credential[]): Promise<void> {
  while (running()) {
    const c = pick(stable);
    const res = await client.token('valid', c.clientId, c.secret);
    if (!res) continue;
    if (res.status === 200) await client.verifyToken(res.json.access_token, c.clientId);
    else client.flag('usable credential refused', `stable ${c.clientId}: ${res.status} ${res.text}`);
  }
}

/** The real secret's id (so its row is found and argon2 runs) with a wrong random part; or an unknown client. */
async function wrongLoop(client: SoakClient, stable: Credential[]): Promise<void> {
  for (let i = 0; running(); i++) {
    const c = pick(stable);
    const wrong = `${c.secret.slice(0, c.secret.lastIndexOf('_') + 1)}${randomBytes(32).toString('base64url')}`;
    const res =
      i % 5 === 4
        ? await client.token('unknown client', `sa_soak_${randomBytes(8).toString('hex')}`, c.secret)
        : await client.token('wrong secret', c.clientId, wrong);
    if (res && res.status !== 401) client.flag('wrong secret not refused', `${res.status} ${res.text}`);
  }
}

// ----------------------------------------------------------------------------------- the service process

/**
 * `node --import tsx <script>` (one process, whose RSS is the service's) in
 * its own process group, with only the given environment besides PATH and HOME.
 */
function startNode(script: string, args: string[], env: Record<string, string>) {
  const output: string[] = [];
  const stdout: string[] = [];
  const proc = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const keep = (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim()));
  proc.stdout?.on('data', (chunk: Buffer) => {
    stdout.push(chunk.toString('utf8'));
    keep(chunk);
  });
  proc.stderr?.on('data', keep);
  return { proc, output, stdout };
}

const exited = (proc: ChildProcess) =>
  new Promise<number | null>((done) => (proc.exitCode !== null ? done(proc.exitCode) : proc.once('exit', (code) => done(code))));

function killGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  try {
    if (pgid) process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}

/** A throw-away database on `server`; the cleanup drops it. */
async function throwAwayDatabase(server: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `soak_${randomBytes(6).toString('hex')}`;
  const sql = postgres(server, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql.unsafe(`create database ${name}`);
  } catch (error) {
    await sql.end({ timeout: 5 });
    throw error;
  }
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      await sql.unsafe(`drop database if exists ${name} with (force)`);
      await sql.end({ timeout: 5 });
    },
  };
}

async function auditRows(databaseUrl: string): Promise<Map<string, number>> {
  const audit = new Map<string, number>();
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ action: string; actor: string | null; n: number }[]>`
      select action, actor, count(*)::int as n from audit_events group by action, actor`;
    for (const r of rows) {
      const key = r.action.startsWith('token.') ? 'token.*' : r.actor === ADMIN.id ? r.action : undefined;
      if (key) audit.set(key, (audit.get(key) ?? 0) + r.n);
    }
    return audit;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

// ------------------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const given = process.env.SOAK_DATABASE_URL?.trim();
  const server = process.env.TEST_DATABASE_URL?.trim() || process.env.BENCH_DATABASE_URL?.trim();
  if (!given && !server) {
    log('needs PostgreSQL: set SOAK_DATABASE_URL, or TEST_DATABASE_URL or BENCH_DATABASE_URL (a server where it may create a database)');
    return 1;
  }
  const cleanups: Array<() => Promise<void>> = [];
  try {
    let databaseUrl = given ?? '';
    if (!given) {
      const database = await throwAwayDatabase(server!);
      cleanups.push(() => database.drop());
      databaseUrl = database.url;
    }
    const keysDir = await mkdtemp(join(tmpdir(), 'soak-keys-'));
    cleanups.push(() => rm(keysDir, { recursive: true, force: true }));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const env: Record<string, string> = {
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: base,
      DATABASE_URL: databaseUrl,
      KEYS_DIR: keysDir,
      KEY_PROPAGATION_SECONDS: '5',
      BOOTSTRAP_ADMIN_CLIENT_ID: ADMIN.id,
      BOOTSTRAP_ADMIN_CLIENT_SECRET: ADMIN.secret,
      LOG_LEVEL: 'warn',
      MAX_ACTIVE_SECRETS: String(CHURN.maxActiveSecrets),
      // The protections stay on, out of the load's reach (as in npm run bench): tokens are measured, not 429s.
      RATE_LIMIT_PER_MINUTE: '1000000',
      BRUTE_FORCE_MAX_FAILURES: '10000',
      BRUTE_FORCE_MAX_FAILURES_PER_IP: '1000000',
    };
    const service = startNode('src/main.ts', [], env);
    const pid = service.proc.pid!;
    cleanups.push(async () => killGroup(pid, 'SIGKILL'));
    const readyBy = performance.now() + 90_000;
    while (!(await fetch(`${base}/readyz`).then((r) => r.ok, () => false))) {
      if (service.proc.exitCode !== null) throw new Error(`the service exited at start:\n${service.output.slice(-10).join('\n')}`);
      if (performance.now() > readyBy || interrupted) throw new Error('the service was not ready within 90 s');
      await sleep(200);
    }
    log(`service ready (pid ${pid}, ${databaseUrl.replace(/\/\/[^@]*@/, '//')}); ${SECONDS} s of load`);

    const client = new SoakClient(base, ADMIN, AUDIENCE, log);
    const stable: Credential[] = [];
    for (let i = 0; i < STABLE_ACCOUNTS; i++) {
      const res = await client.change('service_account.created', 'POST', '/service-accounts', {
        name: `soak-stable-${i}-${randomBytes(3).toString('hex')}`,
        scopes: ['soak:read'],
        audiences: [AUDIENCE],
      });
      if (res?.status !== 201) throw new Error(`create account: ${res?.status} ${res?.text}`);
      stable.push({ clientId: res.json.client_id, secret: res.json.secret.secret });
    }
    await client.refreshJwks();
    const churn = new Churn(client, CHURN);

    // The load. Times reported are seconds since it began.
    const started = performance.now();
    const at = () => Math.round((performance.now() - started) / 100) / 10;
    deadline = started + SECONDS * 1000;
    const memory: SoakResult['memory'] = [];
    const sample = () => {
      const m = processMemory(pid);
      if (m) memory.push({ atSeconds: at(), rssMiB: m.rssMiB });
    };
    sample();
    const sampler = setInterval(sample, SAMPLE_SECONDS * 1000);
    const rotations: SoakResult['rotations'] = [];
    const rotateEvery = Math.max(10, SECONDS / 4);
    const rotating = (async () => {
      for (let next = rotateEvery / 2; running(); await sleep(200)) {
        if (at() < next) continue;
        next += rotateEvery;
        const when = Math.round(at());
        const cli = startNode('src/cli/main.ts', ['keys', 'rotate', '--json'], env);
        const code = await exited(cli.proc);
        let kid: string | undefined;
        try {
          kid = JSON.parse(cli.stdout.join('')).kid;
        } catch {
          kid = undefined;
        }
        rotations.push({ atSeconds: when, ok: code === 0 && kid !== undefined, ...(kid ? { kid } : {}) });
        if (code !== 0 || !kid) client.flag('key rotation failed', `exit ${code}: ${cli.output.slice(-3).join(' | ')}`);
        else log(`${when} s: keys rotate → ${kid}`);
      }
    })();
    await Promise.all([
      ...Array.from({ length: LOOPS.valid }, () => validLoop(client, stable)),
      ...Array.from({ length: LOOPS.wrong }, () => wrongLoop(client, stable)),
      ...Array.from({ length: LOOPS.churn }, () => churn.tokenLoop(running)),
      churn.adminLoop(running),
      rotating,
    ]);
    clearInterval(sampler);
    sample();
    const loadSeconds = (performance.now() - started) / 1000;

    // SIGTERM: the service drains, flushes its buffers and exits 0.
    const unmeasured: string[] = [];
    const stopAt = performance.now();
    process.kill(pid, 'SIGTERM');
    const code = await Promise.race([exited(service.proc), sleep(30_000).then(() => 'no exit within 30 s')]);
    const stopSeconds = (performance.now() - stopAt) / 1000;
    if (code !== 0) unmeasured.push(`graceful stop: exit ${code}`);
    let audit: Map<string, number> | undefined;
    try {
      audit = await auditRows(databaseUrl);
    } catch (error) {
      unmeasured.push(`audit rows: ${(error as Error).message}`);
    }
    if (!memorySlope(memory, loadSeconds / 2)) unmeasured.push('memory: fewer than 3 samples in the second half');

    const result: SoakResult = {
      loadSeconds,
      sampleSeconds: SAMPLE_SECONDS,
      stopSeconds,
      client,
      churnVerdicts: churn.verdicts,
      rotations,
      memory,
      audit,
      logLines: service.output.filter((l) => /"level":[4-6]\d/.test(l)),
      unmeasured,
    };
    checkAudit(result);
    process.stdout.write(`${formatReport(result)}\n`);
    const jsonPath = process.env.SOAK_JSON?.trim();
    if (jsonPath) await writeFile(jsonPath, `${JSON.stringify(reportJson(result), null, 2)}\n`);
    return client.unexpectedCount > 0 || unmeasured.length > 0 ? 1 : 0;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((e) => log(`cleanup: ${(e as Error).message}`));
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping the load and cleaning up (again to quit at once)`);
  });
}

main().then(
  (code) => process.exit(interrupted ? 130 : code),
  (error) => {
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);

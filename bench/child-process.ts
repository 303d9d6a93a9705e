/**
 * The bench's servers and scripts as child processes: each in its own process group (bench/cleanup.ts stops
 * what is still running however the bench ends), with the service's own settings never inherited from the
 * caller's environment, and the last lines of its output kept for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { addCleanup, killGroup, liveGroups, notInterrupted } from './cleanup';
import { log } from './log';
import { ROOT } from './settings';
import { sleep, within } from './wait';

export interface Child {
  name: string;
  proc: ChildProcess;
  exited: Promise<void>;
  tail(): string;
  stop(): Promise<void>;
}

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
 * `node --import tsx <script>` for a TypeScript file, `node <script>` for a built one (the service runs as
 * `node dist/main.js`, as in the Dockerfile: one process, whose RSS is the service's)
 * in its own process group, so stopping signals the group: the process and anything it started, and nothing
 * we did not start.
 */
export function startChild(name: string, script: string, env: Record<string, string>): Child {
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
  addCleanup({ name: `stop ${name}`, run: () => child.stop() });
  return child;
}

export async function waitUntilListening(child: Child, url: string, timeoutMs = 90_000): Promise<void> {
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

/** Runs a script to its end (bounded in time); resolves with its last output line. */
export async function runToEnd(name: string, script: string, env: Record<string, string>, timeoutMs: number): Promise<string> {
  const child = startChild(name, script, env);
  const finished = await within(child.exited.then(() => true), timeoutMs, () => false);
  const tail = child.tail();
  const code = child.proc.exitCode;
  await child.stop();
  if (!finished) throw new Error(`${name} did not finish within ${timeoutMs / 1000} s:\n${tail}`);
  if (code !== 0) throw new Error(`${name} exited with ${code}:\n${tail}`);
  return tail.split('\n').at(-1) ?? '';
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase, type DatabaseKind, type TestDatabase } from './database';
import { freePort } from './service';

const ROOT = new URL('../..', import.meta.url).pathname;

/** The real service as a child process (`npm start`), its JSON log lines collected as they come. */
export class ServiceProcess {
  readonly lines: Array<Record<string, any>> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  private readonly child: ChildProcess;
  private stderr = '';
  private waiters: Array<() => void> = [];

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pending = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (pending + chunk).split('\n');
      pending = parts.pop()!;
      for (const part of parts) if (part.trim()) this.lines.push(JSON.parse(part));
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    // 'close': the exit code is known and stdout is read to its end
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal, at: performance.now() })));
  }

  /** The first log line with this `msg`, waiting for it. */
  async waitFor(message: string, timeoutMs = 60_000): Promise<Record<string, any>> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => l.msg === message);
      if (line) return line;
      if (this.child.exitCode !== null) throw new Error(`service exited (${this.child.exitCode}): ${this.stderr}`);
      if (performance.now() > deadline) throw new Error(`no "${message}" within ${timeoutMs} ms: ${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}

/** Where a service process keeps its state: a keys folder, and a PGlite folder or a fresh PostgreSQL database. */
export interface ServiceState {
  port: number;
  url: string;
  adminSecret: string;
  /** PORT, HOST, ISSUER, KEYS_DIR and DATA_DIR or DATABASE_URL, for the process's environment. */
  env: Record<string, string>;
  /** The PostgreSQL database (open for the test's own queries), or the PGlite folder (open it once the process is gone). */
  database?: TestDatabase;
  dataDir?: string;
}

/** Fresh state for a service process of `kind`; `cleanups` receives what removes it. */
export async function freshServiceState(kind: DatabaseKind, cleanups: Array<() => Promise<unknown>>): Promise<ServiceState> {
  const keysDir = await mkdtemp(join(tmpdir(), 'process-keys-'));
  cleanups.push(() => rm(keysDir, { recursive: true, force: true }));
  let storage: Pick<ServiceState, 'database' | 'dataDir'> & { env: Record<string, string> };
  if (kind === 'postgres') {
    const database = await freshDatabase('postgres');
    cleanups.push(() => database.destroy());
    storage = { database, env: { DATABASE_URL: database.url! } };
  } else {
    const dataDir = await mkdtemp(join(tmpdir(), 'process-data-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    storage = { dataDir, env: { DATA_DIR: dataDir } };
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    adminSecret: randomBytes(32).toString('base64url'),
    env: { PORT: String(port), HOST: '127.0.0.1', ISSUER: url, KEYS_DIR: keysDir, ...storage.env },
    ...(storage.database ? { database: storage.database } : {}),
    ...(storage.dataDir ? { dataDir: storage.dataDir } : {}),
  };
}

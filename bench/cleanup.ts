/**
 * What the bench must undo however it ends: the process groups it started, its temporary folders, its
 * throw-away databases, the load in flight. Cleanups run last in, first out, from the bench's `finally`, from
 * SIGINT/SIGTERM (which also set the interrupted flag), and, for the synchronous part, at exit. This module
 * owns that state; everything else registers with it.
 */
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { log } from './log';
import { within } from './wait';

export interface Cleanup {
  name: string;
  run: () => Promise<void>;
}

/** Last in, first out; every entry idempotent. Run from `finally`, from SIGINT/SIGTERM, and (sync part) at exit. */
const cleanups: Cleanup[] = [];
/** Process groups started by the bench and not stopped yet (bench/child-process.ts adds and removes them). */
export const liveGroups = new Set<number>();
const tempDirs = new Set<string>();
let currentLoad: { stop(): void } | undefined;

let cleaning: Promise<void> | undefined;

export function addCleanup(cleanup: Cleanup): void {
  cleanups.push(cleanup);
}

/** The load running now (autocannon), stopped before any cleanup runs; undefined once it is done. */
export function trackLoad(load: { stop(): void } | undefined): void {
  currentLoad = load;
}

/** One run at a time: the signal handler and `finally` share it, so neither exits while the other still works. */
export function runCleanups(): Promise<void> {
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

export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is gone
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

export function isInterrupted(): boolean {
  return interrupted;
}

export function notInterrupted(): void {
  if (interrupted) throw new Error('interrupted');
}

export async function tempDir(prefix: string): Promise<string> {
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

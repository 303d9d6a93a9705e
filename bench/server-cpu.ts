/**
 * CPU time the server under test spent during a measured load, from Linux's /proc: utime + stime of every
 * process of its process group (every thread of each, so libuv's thread pool counts too; plus cutime + cstime,
 * what its children that ended spent), and, for the service on PostgreSQL, of the PostgreSQL backends
 * connected to its own throw-away database (found by their process title, `postgres: <user> <database> …`).
 * PostgreSQL's shared background processes (WAL writer, checkpointer, …) serve every database of the server
 * and are not counted. Divided by the answers, this is "CPU µs per token". Elsewhere than Linux: undefined.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { processesCpu } from './cpu-contention';

/** What to count: a process group we started, and the PostgreSQL database it alone uses. */
export interface ServerProcesses {
  pgid: number;
  database?: string;
}

export interface ServerCpuSnapshot {
  /** Jiffies per pid of the server's process group. */
  server: Map<number, number>;
  /** Jiffies per pid of the PostgreSQL backends of `database`; undefined when none was found. */
  database?: Map<number, number>;
}

export interface ServerCpuUsed {
  serverMs: number;
  /** PostgreSQL backends of the service's database; undefined when there is none or none was found. */
  databaseMs?: number;
  /** How many backends were found (at the end of the load). */
  databaseBackends?: number;
}

let ticksPerSecond: number | undefined;

/** USER_HZ (the unit of /proc/<pid>/stat's times): `getconf CLK_TCK`, 100 on Linux in practice. */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A PostgreSQL backend's title: `postgres: <user> <database> <client> <state>` (update_process_title, on by default). */
function isBackendOf(pid: number, database: RegExp): boolean {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return database.test(title);
  } catch {
    return false;
  }
}

export function serverCpuSnapshot(target: ServerProcesses): ServerCpuSnapshot | undefined {
  const server = new Map<number, number>();
  const backends = new Map<number, number>();
  const title = target.database ? new RegExp(`^postgres: \\S+ ${escapeRegExp(target.database)} `) : undefined;
  for (const p of processesCpu()) {
    if (p.pgrp === target.pgid) server.set(p.pid, p.jiffies + p.childJiffies);
    else if (title && p.comm === 'postgres' && isBackendOf(p.pid, title)) backends.set(p.pid, p.jiffies);
  }
  if (server.size === 0) return undefined;
  return title && backends.size > 0 ? { server, database: backends } : { server };
}

/** Per pid, after − before; a process born in between counts from 0, one that ended in between is lost. */
function used(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, jiffies] of after) total += Math.max(0, jiffies - (before.get(pid) ?? 0));
  return total;
}

export function serverCpuUsed(before: ServerCpuSnapshot | undefined, after: ServerCpuSnapshot | undefined): ServerCpuUsed | undefined {
  if (!before || !after) return undefined;
  const ms = (jiffies: number) => (jiffies * 1000) / clockTicks();
  const result: ServerCpuUsed = { serverMs: ms(used(before.server, after.server)) };
  if (after.database) {
    result.databaseMs = ms(used(before.database ?? new Map(), after.database));
    result.databaseBackends = after.database.size;
  }
  return result;
}

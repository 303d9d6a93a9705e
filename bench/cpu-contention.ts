/**
 * How much CPU processes other than ours used while something was measured: the machine's busy time
 * (/proc/stat) minus the CPU time of the bench process and of every process group it started. The bench
 * shares the machine; this says, per row, whether someone else did too. Elsewhere than Linux: undefined.
 */
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

export interface CpuSnapshot {
  at: number;
  /** Jiffies the machine spent busy (all CPUs). */
  busy: number;
  /** Jiffies of our processes (user + system). */
  ours: number;
}

function machineBusy(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return user! + nice! + system! + irq! + softirq! + steal!;
  } catch {
    return undefined;
  }
}

/** One process from /proc/<pid>/stat: its group and CPU time in jiffies (all of its threads). */
export interface ProcessCpu {
  pid: number;
  /** The parenthesised command name (field 2), e.g. `node`, `postgres`. */
  comm: string;
  pgrp: number;
  /** utime + stime (fields 14 + 15). */
  jiffies: number;
  /** cutime + cstime (fields 16 + 17): its children that ended and were waited for. */
  childJiffies: number;
}

/** `pid` from /proc/<pid>/stat; undefined when it cannot be read (ended, or not Linux). */
export function processCpu(pid: number): ProcessCpu | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' '); // fields[0] is field 3 (state)
  return {
    pid,
    comm,
    pgrp: Number(fields[2]),
    jiffies: Number(fields[11]) + Number(fields[12]),
    childJiffies: Number(fields[13]) + Number(fields[14]),
  };
}

/** Every process of the machine that /proc lets us read, now. Elsewhere than Linux: none. */
export function* processesCpu(): Generator<ProcessCpu> {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const found = processCpu(Number(entry));
    if (found) yield found; // else it ended meanwhile
  }
}

/** utime + stime of every process in `groups`, and of this process. */
function ourJiffies(groups: ReadonlySet<number>): number {
  let total = 0;
  for (const p of processesCpu()) {
    if (p.pid === process.pid || groups.has(p.pgrp)) total += p.jiffies;
  }
  return total;
}

export function cpuSnapshot(groups: ReadonlySet<number>): CpuSnapshot | undefined {
  const busy = machineBusy();
  if (busy === undefined) return undefined;
  return { at: performance.now(), busy, ours: ourJiffies(groups) };
}

/**
 * Average CPU used by other processes between two snapshots, in % of one CPU (up to 100 × CPUs). Jiffies are
 * 1/100 s on Linux (USER_HZ); a process of ours that ended in between would count as another's.
 */
export function othersCpuPercent(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): number | undefined {
  if (!before || !after) return undefined;
  const seconds = (after.at - before.at) / 1000;
  if (seconds <= 0) return undefined;
  const others = after.busy - before.busy - (after.ours - before.ours);
  const percent = Math.max(0, others) / seconds; // jiffies per second = % of one CPU
  return Math.min(percent, os.cpus().length * 100);
}

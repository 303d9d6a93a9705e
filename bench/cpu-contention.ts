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

/** utime + stime of every process in `groups`, and of this process. */
function ourJiffies(groups: ReadonlySet<number>): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pgrp = Number(fields[2]);
      if (Number(entry) !== process.pid && !groups.has(pgrp)) continue;
      total += Number(fields[11]) + Number(fields[12]);
    } catch {
      // the process ended meanwhile
    }
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

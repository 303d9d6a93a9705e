/**
 * Resident memory of a child process, from Linux's /proc: VmRSS (resident now) and VmHWM (the highest VmRSS
 * since it started), and the RSS of its whole process group (anything it started, e.g. esbuild). Elsewhere
 * than Linux: undefined.
 */
import { readFileSync } from 'node:fs';
import { processCpu, processesCpu } from './cpu-contention';

export interface ProcessMemory {
  pid: number;
  rssMiB: number;
  hwmMiB: number;
  /** Every process of the group, this one included. */
  groupRssMiB: number;
  groupProcesses: number;
}

const MiB = 1024; // /proc reports kB (KiB)

function statusField(pid: number, field: string): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function processMemory(pid: number): ProcessMemory | undefined {
  const rss = statusField(pid, 'VmRSS');
  const hwm = statusField(pid, 'VmHWM');
  if (rss === undefined || hwm === undefined) return undefined;
  const group = processCpu(pid)?.pgrp;
  let groupRss = 0;
  let groupProcesses = 0;
  if (group !== undefined) {
    for (const other of processesCpu()) {
      if (other.pgrp !== group) continue;
      groupRss += statusField(other.pid, 'VmRSS') ?? 0;
      groupProcesses++;
    }
  }
  const round = (kib: number) => Math.round((kib / MiB) * 10) / 10;
  return { pid, rssMiB: round(rss), hwmMiB: round(hwm), groupRssMiB: round(groupRss), groupProcesses };
}

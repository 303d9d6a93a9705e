/**
 * Resident memory of a child process, from Linux's /proc: VmRSS (resident now) and VmHWM (the highest VmRSS
 * since it started), and the RSS of its whole process group (anything it started, e.g. esbuild). Elsewhere
 * than Linux: undefined.
 */
import { readdirSync, readFileSync } from 'node:fs';

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

/** Process group of `pid` from /proc/<pid>/stat (fields after the parenthesised command name). */
function groupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

export function processMemory(pid: number): ProcessMemory | undefined {
  const rss = statusField(pid, 'VmRSS');
  const hwm = statusField(pid, 'VmHWM');
  if (rss === undefined || hwm === undefined) return undefined;
  const group = groupOf(pid);
  let groupRss = 0;
  let groupProcesses = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const other = Number(entry);
    if (group === undefined || groupOf(other) !== group) continue;
    groupRss += statusField(other, 'VmRSS') ?? 0;
    groupProcesses++;
  }
  const round = (kib: number) => Math.round((kib / MiB) * 10) / 10;
  return { pid, rssMiB: round(rss), hwmMiB: round(hwm), groupRssMiB: round(groupRss), groupProcesses };
}

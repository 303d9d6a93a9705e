/** The soak's report (bench/soak.ts): a text summary for people and the same as JSON. */
import type { SoakClient } from './soak-client';

export interface SoakResult {
  loadSeconds: number;
  sampleSeconds: number;
  /** How long the service took to exit after SIGTERM. */
  stopSeconds: number;
  client: SoakClient;
  churnVerdicts: Map<string, number>;
  rotations: Array<{ atSeconds: number; kid?: string; ok: boolean }>;
  /** VmRSS of the service; times from the start of the load. */
  memory: Array<{ atSeconds: number; rssMiB: number }>;
  /** Audit rows after the final flush: "token.*" for every token event, else the admin's by action. */
  audit: Map<string, number> | undefined;
  /** The service's log lines at warn or above. */
  logLines: string[];
  unmeasured: string[];
}

/** Least-squares slope of VmRSS from `from` seconds on, in MiB per minute; undefined with fewer than 3 samples. */
export function memorySlope(memory: SoakResult['memory'], from: number): { slope: number; samples: number } | undefined {
  const points = memory.filter((m) => m.atSeconds >= from);
  if (points.length < 3) return undefined;
  const mx = points.reduce((s, p) => s + p.atSeconds, 0) / points.length;
  const my = points.reduce((s, p) => s + p.rssMiB, 0) / points.length;
  const sxy = points.reduce((s, p) => s + (p.atSeconds - mx) * (p.rssMiB - my), 0);
  const sxx = points.reduce((s, p) => s + (p.atSeconds - mx) ** 2, 0);
  return { slope: (sxy / sxx) * 60, samples: points.length };
}

/** Flags audit rows that do not match the requests made: one token.* row per answered token request, one row per admin change. */
export function checkAudit(r: SoakResult): void {
  if (!r.audit) return;
  const { answered, socketErrors } = r.client.tokenCalls;
  const tokenRows = r.audit.get('token.*') ?? 0;
  if (tokenRows < answered || tokenRows > answered + socketErrors) {
    r.client.flag('audit rows ≠ token requests', `${tokenRows} rows for ${answered} answered requests`);
  }
  for (const action of adminActions(r)) {
    const rows = r.audit.get(action) ?? 0;
    const made = r.client.adminChanges.get(action) ?? 0;
    if (rows !== made) r.client.flag('audit rows ≠ admin changes', `${action}: ${rows} rows for ${made} changes`);
  }
}

const adminActions = (r: SoakResult) =>
  [...new Set([...r.client.adminChanges.keys(), ...[...(r.audit?.keys() ?? [])].filter((k) => k !== 'token.*')])].sort();

function percentile(values: number[], p: number): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const short = (kid: string | undefined) => `${(kid ?? '?').slice(0, 12)}…`;

export function formatReport(r: SoakResult): string {
  const out: string[] = [];
  const line = (s = '') => out.push(s);
  const { client } = r;
  line(`soak: ${r.loadSeconds.toFixed(0)} s of mixed load on PostgreSQL, one service process`);
  line();
  line(`${'requests'.padEnd(34)}total   ${'by status'.padEnd(42)} p50 ms   p99 ms`);
  let total = 0;
  for (const [kind, byStatus] of [...client.requests].sort()) {
    const n = [...byStatus.values()].reduce((a, b) => a + b, 0);
    total += n;
    const statuses = [...byStatus].sort().map(([s, c]) => `${s}: ${c}`).join(', ');
    const l = client.latencies.get(kind) ?? [];
    const p = (q: number) => (l.length ? percentile(l, q).toFixed(1) : '-');
    line(`  ${kind.padEnd(30)}${String(n).padStart(7)}   ${statuses.padEnd(42)}${p(50).padStart(7)}${p(99).padStart(9)}`);
  }
  line(`  ${'all'.padEnd(30)}${String(total).padStart(7)}   (${(total / r.loadSeconds).toFixed(0)}/s)`);
  line();
  line(`churn credentials judged (verdict → status): ${[...r.churnVerdicts].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  line(`tokens verified, by signing key: ${[...client.tokensByKid].map(([k, v]) => `${short(k)} ${v}`).join(', ')}`);
  const rotations = r.rotations.map((x) => `${x.atSeconds} s → ${x.ok ? short(x.kid) : 'FAILED'}`);
  line(`key rotations (keys rotate, active 5 s later): ${rotations.join(', ') || 'none'}`);
  line();
  line(`memory (VmRSS of the service, MiB, every ${r.sampleSeconds} s): ${r.memory.map((m) => m.rssMiB.toFixed(0)).join(' ')}`);
  const trend = memorySlope(r.memory, r.loadSeconds / 2);
  if (trend) {
    const sign = trend.slope >= 0 ? '+' : '';
    line(`  trend over the second half: ${sign}${trend.slope.toFixed(1)} MiB/min (least squares over ${trend.samples} samples)`);
  }
  line();
  if (r.audit) {
    const { answered, socketErrors } = client.tokenCalls;
    line(`audit rows after SIGTERM (the service stopped in ${r.stopSeconds.toFixed(1)} s):`);
    line(`  ${'action'.padEnd(42)}${'rows'.padStart(8)}   requests`);
    const requests = `${answered} answered${socketErrors ? ` + ${socketErrors} unanswered` : ''}`;
    line(`  ${'token.* (one per token request)'.padEnd(42)}${String(r.audit.get('token.*') ?? 0).padStart(8)}   ${requests}`);
    for (const action of adminActions(r)) {
      line(`  ${action.padEnd(42)}${String(r.audit.get(action) ?? 0).padStart(8)}   ${client.adminChanges.get(action) ?? 0}`);
    }
    line();
  }
  line(`service log lines at warn or above: ${r.logLines.length}`);
  for (const l of r.logLines.slice(0, 5)) line(`  ${l.slice(0, 240)}`);
  line();
  line(`unexpected errors: ${client.unexpectedCount}`);
  for (const [kind, e] of client.unexpected) line(`  ${kind}: ${e.count} (e.g. ${e.examples.join(' | ')})`);
  if (r.unmeasured.length) line(`not measured: ${r.unmeasured.join('; ')}`);
  return out.join('\n');
}

export function reportJson(r: SoakResult): unknown {
  const { client } = r;
  return {
    seconds: r.loadSeconds,
    requests: Object.fromEntries([...client.requests].map(([k, v]) => [k, Object.fromEntries(v)])),
    churnVerdicts: Object.fromEntries(r.churnVerdicts),
    tokensByKid: Object.fromEntries(client.tokensByKid),
    rotations: r.rotations,
    memory: r.memory,
    memoryTrendMiBPerMinute: memorySlope(r.memory, r.loadSeconds / 2)?.slope ?? null,
    audit: r.audit ? Object.fromEntries(r.audit) : null,
    tokenCalls: client.tokenCalls,
    adminChanges: Object.fromEntries(client.adminChanges),
    stopSeconds: r.stopSeconds,
    logLines: r.logLines,
    unexpected: Object.fromEntries(client.unexpected),
    unmeasured: r.unmeasured,
  };
}

/**
 * The scenarios of a run side by side: their order in the report, their ratios to the baselines of the same
 * alg (median ÷ median, paired round by round, CPU per token), the table printed on stdout, and the note on
 * whether PostgreSQL's CPU could be counted. The Markdown version is bench/report.ts.
 */
import type { Scenario } from './report';
import { pairedRatio } from './rounds';
import { ALGS } from './settings';

/** Sets each scenario's ratios to the floor, oidc-provider and our warm path of the same alg. */
export function ratios(scenarios: Scenario[]): void {
  const find = (pred: (s: Scenario) => boolean) => scenarios.find((s) => s.ok && pred(s));
  for (const s of scenarios) {
    if (!s.ok || !s.rps) continue;
    const floor = find((b) => b.role === 'floor' && b.alg === s.alg);
    const peer = find((b) => b.role === 'oidc-provider' && b.alg === s.alg);
    const warm = find((b) => b.role === 'ours' && b.path === 'warm' && b.alg === s.alg && b.database === s.database);
    const r: NonNullable<Scenario['ratios']> = {};
    if (floor?.rps) r.vsFloor = s.rps / floor.rps;
    if (peer?.rps) r.vsOidcProvider = s.rps / peer.rps;
    if (s.role === 'ours' && warm?.rps) r.vsOurWarm = s.rps / warm.rps;
    // Paired ratios only between the scenarios measured in the same interleaved rounds.
    if (s.path === 'warm' || s.path === 'baseline') {
      const pairedFloor = floor && floor !== s ? pairedRatio(s, floor) : undefined;
      const pairedPeer = peer && peer !== s ? pairedRatio(s, peer) : undefined;
      if (pairedFloor) r.pairedVsFloor = pairedFloor.ratio;
      if (pairedPeer) r.pairedVsOidcProvider = pairedPeer.ratio;
    }
    if (s.cpuUsPerToken?.total) {
      if (floor?.cpuUsPerToken) r.cpuVsFloor = floor.cpuUsPerToken.total / s.cpuUsPerToken.total;
      if (peer?.cpuUsPerToken) r.cpuVsOidcProvider = peer.cpuUsPerToken.total / s.cpuUsPerToken.total;
    }
    s.ratios = r;
  }
}

/** The table's order: floors, oidc-providers, then ours by database, alg and path (the order of the old sequential run). */
export function sortScenarios(scenarios: Scenario[]): void {
  const rank = <T>(list: readonly T[], v: T | undefined) => (v === undefined ? -1 : list.indexOf(v));
  const key = (s: Scenario) => [
    rank(['floor', 'oidc-provider', 'ours'], s.role),
    rank(['pglite', 'postgres'], s.database),
    rank(ALGS, s.alg),
    rank(['baseline', 'warm', 'failure', 'cold'], s.path),
  ];
  scenarios.sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  });
}

/** The table printed on stdout (and kept in latest.json): one row per scenario, in their order. */
export function table(scenarios: Scenario[]): string {
  const fmt = (n: number | undefined, digits = 0) => (n === undefined ? '—' : n.toFixed(digits));
  const ratio = (n: number | undefined) => (n === undefined ? '—' : `${n.toFixed(n < 0.1 ? 3 : 2)}×`);
  const withPaired = (n: number | undefined, paired: number | undefined) =>
    n === undefined ? '—' : paired === undefined ? ratio(n) : `${ratio(n)} (${ratio(paired)})`;
  const header = [
    'scenario', 'rounds', 'req/s', 'min–max', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'CPU µs/token',
    'vs floor (paired)', 'vs oidc-provider (paired)', 'vs our warm', 'CPU vs floor',
  ];
  const rows = scenarios.map((s) => {
    const name = s.path === 'failure' ? `${s.id} (401 expected)` : s.id;
    if (!s.ok) return [name, String(s.rounds.length), 'FAILED', '', '', '', '', '', '', '', '', '', ''];
    const cpu = s.cpuUsPerToken;
    return [
      name,
      String(s.rounds.length),
      fmt(s.rps),
      s.rpsRange && s.rounds.length > 1 ? `${fmt(s.rpsRange.min)}–${fmt(s.rpsRange.max)}` : '—',
      fmt(s.latencyMs?.p50, 1),
      fmt(s.latencyMs?.p99, 1),
      String(s.non2xx ?? '—'),
      String(s.errors ?? '—'),
      cpu ? `${fmt(cpu.total)}${cpu.database !== undefined ? ` (PG ${fmt(cpu.database)})` : ''}` : '—',
      s.role === 'floor' ? '—' : withPaired(s.ratios?.vsFloor, s.ratios?.pairedVsFloor),
      s.role === 'ours' ? withPaired(s.ratios?.vsOidcProvider, s.ratios?.pairedVsOidcProvider) : '—',
      ratio(s.ratios?.vsOurWarm),
      s.role === 'floor' ? '—' : ratio(s.ratios?.cpuVsFloor),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Whether PostgreSQL's CPU could be counted for ours on PostgreSQL: a note either way. */
export function postgresCpuNote(scenarios: Scenario[]): string | undefined {
  const onPostgres = scenarios.filter((s) => s.ok && s.database === 'postgres');
  if (onPostgres.length === 0) return undefined;
  const counted = onPostgres.filter((s) => s.cpuUsPerToken?.database !== undefined);
  if (counted.length === 0) {
    return 'CPU µs/token of ours on PostgreSQL counts the service process only: no PostgreSQL backend of its database was ' +
      'found in /proc (a server on another machine, in a container, or with update_process_title off), so PostgreSQL\'s CPU is not counted.';
  }
  const missing = onPostgres.filter((s) => s.cpuUsPerToken && s.cpuUsPerToken.database === undefined).map((s) => s.id);
  return 'CPU µs/token of ours on PostgreSQL = the service process + the PostgreSQL backends connected to its own ' +
    'throw-away database (found in /proc by their process title `postgres: <user> <database> …`; the "PG" figure in ' +
    'parentheses). PostgreSQL\'s shared background processes (WAL writer, checkpointer, background writer, autovacuum) ' +
    'serve every database of the server and are not counted.' +
    (missing.length ? ` No backend was found for: ${missing.join(', ')} (its PostgreSQL CPU is not counted).` : '');
}

/**
 * The bench's results: their shape (also written to bench/results/latest.json), the issue-4 targets judged
 * against one run, and BENCHMARKS.md. Only the part of BENCHMARKS.md between the two `bench:results`
 * markers is rewritten; the hand-written notes below it are kept as they are.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AdminQueryResult } from './admin-lists';
import type { ProcessMemory } from './process-memory';
import { pairedRatios } from './rounds';

export type Alg = 'RS256' | 'ES256';
export type DbKind = 'pglite' | 'postgres';
export type Role = 'floor' | 'oidc-provider' | 'ours';
export type PathKind = 'baseline' | 'warm' | 'failure' | 'cold';

export interface Sample {
  header: Record<string, unknown>;
  claims: string[];
}

/** One measured load of a scenario (DURATION seconds after its warm-up). */
export interface RoundResult {
  /** 1-based; the warm-path scenarios and their baselines share round numbers (interleaved). */
  round: number;
  /** 1-based position of this scenario in its round (the order rotates between rounds). */
  position: number;
  startedAt: string;
  /** Answers received (any status). */
  requests: number;
  seconds: number;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number };
  non2xx: number;
  /** Socket errors + timeouts + responses whose status is not `expectStatus`. */
  errors: number;
  transportErrors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  /**
   * Seconds the server kept working after the load ended (writing what it buffered), until idle again; the
   * next load starts only then.
   */
  settleSeconds?: number;
  /**
   * CPU time of the server under test during the load and until it was idle again (bench/server-cpu.ts:
   * what it deferred counts): `serverMs` its process group,
   * `databaseMs` the PostgreSQL backends of its database (ours on PostgreSQL, when found); `usPerToken` is
   * (serverMs + databaseMs) ÷ requests, in µs.
   */
  cpu?: { serverMs: number; databaseMs?: number; databaseBackends?: number; usPerToken: number; serverUsPerToken: number; databaseUsPerToken?: number };
  othersCpuPercent?: number;
  loadAverage1m?: number;
}

export interface Scenario {
  id: string;
  role: Role;
  path: PathKind;
  alg: Alg;
  database?: DbKind;
  expectStatus: number;
  ok: boolean;
  error?: string;
  /**
   * Every measured load of this scenario: BENCH_ROUNDS interleaved rounds for the warm path and its baselines,
   * one for the failure and cold paths. The headline numbers below summarize them.
   */
  rounds: RoundResult[];
  /** Sum over the rounds. */
  requests?: number;
  /** Sum over the rounds. */
  seconds?: number;
  /** Median over the rounds. */
  rps?: number;
  /** Lowest and highest req/s of the rounds: the spread. */
  rpsRange?: { min: number; max: number };
  /** Each the median over the rounds of that percentile (max: the highest of the rounds). */
  latencyMs?: { p50: number; p90: number; p99: number; mean: number; max: number };
  /** Medians over the rounds of `RoundResult.cpu`'s per-token figures (µs); undefined when /proc was not readable. */
  cpuUsPerToken?: { total: number; server: number; database?: number };
  /** Sums over the rounds. */
  non2xx?: number;
  /** Socket errors + timeouts + responses whose status is not `expectStatus` (sum over the rounds). */
  errors?: number;
  transportErrors?: number;
  timeouts?: number;
  statusCodes?: Record<string, number>;
  /**
   * vsFloor, vsOidcProvider, vsOurWarm: median req/s ÷ the baseline's median req/s (same alg; same database for
   * vsOurWarm). paired…: the median over the rounds of (this round's req/s ÷ the baseline's req/s in the same
   * round), for the interleaved scenarios only. cpuVsFloor, cpuVsOidcProvider: the baseline's median CPU µs per
   * token ÷ this one's (higher is better, like the throughput ratios).
   */
  ratios?: {
    vsFloor?: number;
    vsOidcProvider?: number;
    vsOurWarm?: number;
    pairedVsFloor?: number;
    pairedVsOidcProvider?: number;
    pairedRounds?: number;
    cpuVsFloor?: number;
    cpuVsOidcProvider?: number;
  };
  /**
   * The machine's 1-minute load average when the last load ended: about 2 while a server and autocannon are busy;
   * clearly more means other work competed for the CPUs.
   */
  loadAverage1m?: number;
  /** CPU used by other processes of the machine during the measured loads, in % of one CPU (median over the rounds). */
  othersCpuPercent?: number;
  sample?: Sample;
  notes: string[];
}

export interface SeedResult {
  accounts: number;
  secrets: number;
  hashMs: number;
  insertMs: number;
  /** `show server_version` of the seeded database. */
  serverVersion?: string;
  /** The whole child process: start, migrations, hash, inserts, close. */
  seconds: number;
}

export interface MemoryReading {
  moment: string;
  accountsInDatabase: number;
  /** Credentials this process verified since it started and has not dropped (see `cacheNote`). */
  cachedCredentials: number;
  memory?: ProcessMemory;
}

export interface MemoryReport {
  database: DbKind;
  alg: Alg;
  seededAccounts: number;
  seed?: SeedResult;
  readings: MemoryReading[];
  /** The seeded accounts, each authenticated once to fill the credential cache. */
  fill?: { requests: number; seconds: number; statusCodes: Record<string, number>; unexpected: number };
  notes: string[];
}

export interface ScaleReport {
  database: DbKind;
  accounts: number;
  seed?: SeedResult;
  queries: AdminQueryResult[];
  /** The service process after the admin requests (its credential cache holds the admin only). */
  memory?: ProcessMemory;
  error?: string;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  source: { commit?: string; srcModified?: string[] };
  machine: {
    cpus: number;
    model?: string;
    node: string;
    platform: string;
    loadAverageAtStart: number[];
    loadAverageAtEnd: number[];
  };
  databases: { pglite?: string; postgres?: string };
  settings: {
    /** Interleaved rounds of the warm path and its baselines (BENCH_ROUNDS). */
    rounds: number;
    durationSeconds: number;
    warmupSeconds: number;
    connections: number;
    seededAccounts: number;
    scaleAccounts: number;
    adminRequests: number;
    serviceLimits: Record<string, string>;
    body: string;
  };
  scenarios: Scenario[];
  memory: MemoryReport[];
  scale: ScaleReport[];
  notes: string[];
  table: string;
}

// ---------------------------------------------------------------------------------------------- targets

export interface TargetResult {
  id: string;
  title: string;
  verdict: 'met' | 'missed' | 'not measured';
  /** One line per measured case. */
  results: string[];
  /** For a missed target: by how much, one line per case that missed. */
  missedBy: string[];
}

const TARGET_CONNECTIONS = 32;
const TARGET_RSS_ACCOUNTS = 10_000;
const TARGET_SCALE_ACCOUNTS = 100_000;

/** Other processes' CPU (% of one CPU) above which a row is flagged as measured on a busy machine. */
const BUSY_PERCENT = 25;
const busy = (...percents: Array<number | undefined>) => {
  const worst = Math.max(...percents.map((p) => p ?? 0));
  return worst >= BUSY_PERCENT ? ` [other processes used up to ${worst}% CPU meanwhile]` : '';
};

const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function verdictOf(cases: boolean[]): TargetResult['verdict'] {
  if (cases.length === 0) return 'not measured';
  return cases.every(Boolean) ? 'met' : 'missed';
}

/** "medians of 3 rounds" (or "1 round each"), for a ratio's explanation. */
function medianOf(s: Scenario, base: Scenario): string {
  const n = Math.min(s.rounds.length, base.rounds.length);
  return n > 1 ? `medians of ${s.rounds.length === base.rounds.length ? n : `${s.rounds.length} and ${base.rounds.length}`} rounds` : 'one round each';
}

/** "; per round 0.41–0.48×": the range of the paired ratios, when there are several. */
function perRoundRatios(s: Scenario, base: Scenario): string {
  const ratios = pairedRatios(s, base);
  if (ratios.length < 2) return '';
  return `, per round ${f2(Math.min(...ratios))}–${f2(Math.max(...ratios))}×`;
}

function ratioTarget(
  report: BenchReport,
  id: string,
  title: string,
  baseline: 'vsFloor' | 'vsOidcProvider',
  min: number,
): TargetResult {
  const baseRole = baseline === 'vsFloor' ? 'floor' : 'oidc-provider';
  const results: string[] = [];
  const missedBy: string[] = [];
  const cases: boolean[] = [];
  for (const s of report.scenarios) {
    if (s.role !== 'ours' || s.path !== 'warm' || !s.ok) continue;
    const ratio = s.ratios?.[baseline];
    const base = report.scenarios.find((b) => b.role === baseRole && b.alg === s.alg && b.ok);
    if (ratio === undefined || !base?.rps || !s.rps) continue;
    const met = ratio >= min;
    cases.push(met);
    const paired = baseline === 'vsFloor' ? s.ratios?.pairedVsFloor : s.ratios?.pairedVsOidcProvider;
    results.push(
      `${s.database} ${s.alg}: ${f2(ratio)}× (${int(s.rps)} ÷ ${int(base.rps)} req/s, ${medianOf(s, base)}` +
        `${paired === undefined ? '' : `; paired ${f2(paired)}×`}${perRoundRatios(s, base)})${busy(s.othersCpuPercent, base.othersCpuPercent)}`,
    );
    if (!met) {
      const needed = min * base.rps;
      missedBy.push(
        `${s.database} ${s.alg}: ${f2(ratio)}× against ${f2(min)}×, ${f2(min - ratio)}× short: ` +
          `${int(needed - s.rps)} more req/s needed (+${f1((needed / s.rps - 1) * 100)}%)` +
          `${paired === undefined ? '' : `; paired ratio ${f2(paired)}×`}${busy(s.othersCpuPercent, base.othersCpuPercent)}`,
      );
    }
  }
  return { id, title, verdict: verdictOf(cases), results, missedBy };
}

function p99Target(report: BenchReport): TargetResult {
  const id = 'token-p99';
  const title = `Token endpoint p99 < 25 ms at ${TARGET_CONNECTIONS} connections (warm)`;
  const bound = 25;
  if (report.settings.connections !== TARGET_CONNECTIONS) {
    return {
      id,
      title,
      verdict: 'not measured',
      results: [`this run used ${report.settings.connections} connections`],
      missedBy: [],
    };
  }
  const results: string[] = [];
  const missedBy: string[] = [];
  const cases: boolean[] = [];
  for (const s of report.scenarios) {
    if (s.role !== 'ours' || s.path !== 'warm' || !s.ok || !s.latencyMs) continue;
    const p99 = s.latencyMs.p99;
    cases.push(p99 < bound);
    const rounds = s.rounds.map((r) => r.latencyMs.p99);
    const spread = rounds.length > 1 ? `, median of ${rounds.length} rounds: ${rounds.join(', ')} ms` : '';
    results.push(`${s.database} ${s.alg}: p99 ${p99} ms (p50 ${s.latencyMs.p50} ms${spread})${busy(s.othersCpuPercent)}`);
    if (p99 >= bound) {
      missedBy.push(`${s.database} ${s.alg}: p99 ${p99} ms, ${f1(p99 - bound)} ms (${f1((p99 / bound - 1) * 100)}%) over${busy(s.othersCpuPercent)}`);
    }
  }
  return { id, title, verdict: verdictOf(cases), results, missedBy };
}

function rssTarget(report: BenchReport): TargetResult {
  const id = 'rss';
  const title = `RSS < 150 MB with ${int(TARGET_RSS_ACCOUNTS)} accounts loaded`;
  const bound = 150;
  const results: string[] = [];
  const missedBy: string[] = [];
  const cases: boolean[] = [];
  for (const m of report.memory) {
    const measured = m.readings.filter((r) => r.memory);
    if (measured.length === 0) continue;
    if (m.seededAccounts < TARGET_RSS_ACCOUNTS) {
      results.push(`${m.database}: only ${int(m.seededAccounts)} accounts seeded in this run: not the target's condition`);
      continue;
    }
    const highest = measured.reduce((a, b) => (b.memory!.rssMiB > a.memory!.rssMiB ? b : a));
    const rss = highest.memory!.rssMiB;
    const peak = Math.max(...measured.map((r) => r.memory!.hwmMiB));
    cases.push(rss < bound);
    results.push(
      `${m.database}: highest VmRSS ${f1(rss)} MiB, at "${highest.moment}" with ${int(highest.accountsInDatabase)} accounts in ` +
        `the database and ${int(highest.cachedCredentials)} credentials cached; peak VmHWM ${f1(peak)} MiB`,
    );
    if (rss >= bound) missedBy.push(`${m.database}: ${f1(rss)} MiB, ${f1(rss - bound)} MiB (${f1((rss / bound - 1) * 100)}%) over`);
  }
  return { id, title, verdict: verdictOf(cases), results, missedBy };
}

function adminTarget(report: BenchReport): TargetResult {
  const id = 'admin-lists';
  const title = `Admin list pages at ${int(TARGET_SCALE_ACCOUNTS)} accounts well under 50 ms`;
  const bound = 50;
  const results: string[] = [];
  const missedBy: string[] = [];
  const cases: boolean[] = [];
  for (const scale of report.scale) {
    if (scale.accounts < TARGET_SCALE_ACCOUNTS) {
      results.push(`${scale.database}: only ${int(scale.accounts)} accounts seeded in this run: not the target's condition`);
      continue;
    }
    for (const q of scale.queries) {
      if (!q.target || !q.ok || !q.latencyMs) continue;
      const { p50, p99 } = q.latencyMs;
      cases.push(p99 < bound);
      results.push(
        `${scale.database} ${q.id}: p50 ${p50} ms, p99 ${p99} ms${p99 < bound && p99 > bound / 2 ? ' (under 50 ms, but not by half)' : ''}` +
          busy(q.othersCpuPercent),
      );
      if (p99 >= bound) {
        missedBy.push(
          `${scale.database} ${q.id}: p99 ${p99} ms, ${f1(p99 / bound)}× the 50 ms bound (${f1(p99 - bound)} ms over; p50 ${p50} ms)` +
            busy(q.othersCpuPercent),
        );
      }
    }
  }
  return { id, title, verdict: verdictOf(cases), results, missedBy };
}

export function evaluateTargets(report: BenchReport): TargetResult[] {
  return [
    ratioTarget(report, 'token-vs-floor', 'Token endpoint ≥ 0.8× the floor (warm, RS256 and ES256)', 'vsFloor', 0.8),
    ratioTarget(report, 'token-vs-oidc-provider', 'Token endpoint ≥ 1.5× oidc-provider (warm, RS256 and ES256)', 'vsOidcProvider', 1.5),
    p99Target(report),
    rssTarget(report),
    adminTarget(report),
  ];
}

// ---------------------------------------------------------------------------------------------- BENCHMARKS.md

const BEGIN = '<!-- bench:results:begin — written by `npm run bench`; everything up to the end marker is replaced on each run -->';
const BEGIN_PREFIX = '<!-- bench:results:begin';
const END = '<!-- bench:results:end -->';
const NOTES_HEADING = '## Notes (hand-written)';

const noteHeading = (t: Pick<TargetResult, 'id' | 'title'>) => `### ${t.id}: ${t.title}`;

const cell = (v: string | number | undefined) => (v === undefined ? '—' : String(v).replace(/\|/g, '\\|'));
const ms = (n: number | undefined) => (n === undefined ? undefined : n < 10 ? n.toFixed(2) : n.toFixed(1));
const ratio = (n: number | undefined) => (n === undefined ? undefined : `${n.toFixed(n < 0.1 ? 3 : 2)}×`);

function tableOf(header: string[], rows: Array<Array<string | number | undefined>>, right: number[] = []): string {
  const align = header.map((_, i) => (right.includes(i) ? '---:' : '---'));
  return [header, align, ...rows.map((r) => r.map(cell))].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

const withPaired = (n: number | undefined, paired: number | undefined) =>
  n === undefined ? undefined : paired === undefined ? ratio(n) : `${ratio(n)} (${ratio(paired)})`;

/** Every round of the interleaved scenarios, one table per algorithm: req/s, p99, CPU µs/token and position. */
function roundsSection(report: BenchReport): string[] {
  const interleaved = report.scenarios.filter((s) => (s.path === 'warm' || s.path === 'baseline') && s.rounds.length > 0);
  const roundCount = Math.max(0, ...interleaved.map((s) => Math.max(...s.rounds.map((r) => r.round))));
  if (roundCount < 2) return [];
  const out = [
    '#### Each round',
    '',
    "req/s · p99 ms · CPU µs/token · #position in the round · others' CPU · busy after the load. A cell much slower than the same scenario " +
      "in the other rounds usually met a busy moment of the machine (high others' CPU).",
    '',
  ];
  for (const alg of [...new Set(interleaved.map((s) => s.alg))]) {
    const rows = interleaved.filter((s) => s.alg === alg);
    out.push(
      tableOf(
        ['scenario', ...Array.from({ length: roundCount }, (_, i) => `round ${i + 1}`)],
        rows.map((s) => [
          s.id,
          ...Array.from({ length: roundCount }, (_, i) => {
            const r = s.rounds.find((x) => x.round === i + 1);
            if (!r) return undefined;
            const others = r.othersCpuPercent === undefined ? '—' : `${r.othersCpuPercent}%`;
            return `${int(r.rps)} · ${r.latencyMs.p99} · ${r.cpu ? int(r.cpu.usPerToken) : '—'} · #${r.position} · ${others} · ${r.settleSeconds ?? '—'} s`;
          }),
        ]),
        Array.from({ length: roundCount }, (_, i) => i + 1),
      ),
      '',
    );
  }
  return out;
}

function resultsSection(report: BenchReport, targets: TargetResult[], notes: string): string {
  const { machine, settings } = report;
  const out: string[] = [];
  const load = (l: number[]) => l.map((n) => n.toFixed(2)).join(' / ');
  const srcModified = report.source.srcModified ?? [];
  out.push(
    `## Latest run`,
    '',
    `- **Date**: ${report.startedAt} – ${report.finishedAt} (UTC)`,
    `- **Machine**: ${machine.cpus} × ${machine.model ?? 'unknown CPU'} (os.cpus()), ${machine.platform}; ` +
      `load average (1/5/15 min) ${load(machine.loadAverageAtStart)} at the start, ${load(machine.loadAverageAtEnd)} at the end`,
    `- **Node**: ${machine.node}`,
    `- **Databases**: ${[
      report.databases.pglite ? `PGlite ${report.databases.pglite} (embedded in the service process, temporary data folder)` : undefined,
      report.databases.postgres ? `PostgreSQL ${report.databases.postgres} (throw-away database per service start)` : undefined,
    ]
      .filter(Boolean)
      .join('; ')}`,
    `- **Settings**: ${settings.connections} connections; ${settings.rounds} interleaved round${settings.rounds === 1 ? '' : 's'} ` +
      `of ${settings.durationSeconds} s per warm scenario and baseline, each after ${settings.warmupSeconds} s of warm-up ` +
      `(failure and cold: one load of ${settings.durationSeconds} s); autocannon runs in the bench process on the same ${machine.cpus} CPU(s) as the ` +
      `server under test; ${int(settings.seededAccounts)} accounts seeded into each token-endpoint database, ` +
      `${int(settings.scaleAccounts)} into the admin-list database, ${settings.adminRequests} sequential requests per admin row`,
    `- **Service limits raised for the load** (still checked on every request): ${Object.entries(settings.serviceLimits)
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ')}`,
    `- **Code**: ${report.source.commit?.slice(0, 12) ?? 'unknown commit'}${
      srcModified.length ? `, with uncommitted changes in ${srcModified.map((p) => `\`${p}\``).join(', ')}` : ''
    }`,
    '',
    '### Token endpoint (`POST /oauth/token`)',
    '',
    tableOf(
      [
        'scenario',
        'rounds',
        'req/s (median)',
        'req/s min–max',
        'p50 ms',
        'p99 ms',
        'unexpected',
        'CPU µs/token',
        'service/floor (paired)',
        'service/oidc-provider (paired)',
        'CPU/token: floor ÷ row',
        "others' CPU",
      ],
      report.scenarios.map((s) => {
        const name = s.path === 'failure' ? `${s.id} (401 expected)` : s.id;
        if (!s.ok) return [name, s.rounds.length, `FAILED: ${s.error ?? ''}`, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined];
        const cpu = s.cpuUsPerToken;
        return [
          name,
          s.rounds.length,
          s.rps === undefined ? undefined : int(s.rps),
          s.rpsRange && s.rounds.length > 1 ? `${int(s.rpsRange.min)}–${int(s.rpsRange.max)}` : undefined,
          s.latencyMs?.p50,
          s.latencyMs?.p99,
          s.errors,
          cpu ? `${int(cpu.total)}${cpu.database === undefined ? '' : ` (PG ${int(cpu.database)})`}` : undefined,
          s.role === 'floor' ? undefined : withPaired(s.ratios?.vsFloor, s.ratios?.pairedVsFloor),
          s.role === 'ours' ? withPaired(s.ratios?.vsOidcProvider, s.ratios?.pairedVsOidcProvider) : undefined,
          s.role === 'floor' ? undefined : ratio(s.ratios?.cpuVsFloor),
          s.othersCpuPercent === undefined ? undefined : `${s.othersCpuPercent}%`,
        ];
      }),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    '',
    `**Rounds.** Per algorithm, the floor, oidc-provider and ours warm (on each database) run side by side and are ` +
      `loaded in turn: ${settings.rounds} round${settings.rounds === 1 ? '' : 's'}, in each every one of them once ` +
      `(${settings.warmupSeconds} s warm-up, then ${settings.durationSeconds} s measured), the order rotated by one each round; ` +
      'the others sit idle meanwhile. "req/s", "p50", "p99" and "CPU µs/token" are the medians of the rounds (each ' +
      'its own median); "min–max" is the spread of req/s over the rounds; "unexpected" is summed over them. ' +
      '`failure` and `cold` are measured once, after the rounds. The per-round numbers are below and in ' +
      '`bench/results/latest.json`.',
    '',
    '**Ratios** compare with the baseline of the same algorithm: median req/s ÷ median req/s, and in parentheses the ' +
      "paired ratio: the median over the rounds of (the row's req/s ÷ the baseline's req/s in the same round), " +
      'which cancels the slow drifts of a shared machine. The targets are judged on the medians (median ÷ median; ' +
      "the median of the rounds' p99), not on the paired ratios.",
    '',
    '**CPU µs/token**: CPU time (user + system, every thread) the server under test used during the measured seconds ' +
      'and after them until it was idle again (what it deferred, such as buffered audit rows, counts; "busy after": how long that took; the next load starts only then), ' +
      'read from `/proc/<pid>/stat` for its process group, ÷ the answers it gave (for `failure`, 401 answers). For ours on ' +
      'PostgreSQL it includes the PostgreSQL backends connected to its own database when they were found ("PG": their part; ' +
      'see the notes). "CPU/token: floor ÷ row": the floor\'s µs ÷ the row\'s, higher is better like the throughput ratios. ' +
      'It tells where the time goes, independent of how busy the machine was; no target is judged on it.',
    '',
    '"unexpected": socket errors, timeouts and answers with another status than the scenario expects. `ours … warm`: ' +
      'the same valid credentials every request, answered from the credential cache (no database read, no argon2). ' +
      "`failure`, `cold`: one argon2id verify per request. \"others' CPU\": CPU time used by processes other than the " +
      "bench's own (servers, autocannon) while the row was measured (median of the rounds), in % of one CPU: this machine " +
      `is shared, and a row with much more than a few % competed for its ${machine.cpus} CPUs, so it is pessimistic.`,
    '',
    ...roundsSection(report),
  );

  out.push('### Memory (RSS of the service process)', '');
  if (report.memory.length === 0) out.push('Not measured in this run.', '');
  for (const m of report.memory) {
    out.push(
      `${m.database === 'pglite' ? 'PGlite' : 'PostgreSQL'} (${m.alg} run):`,
      '',
      tableOf(
        ['moment', 'accounts in the database', 'credentials in the cache', 'VmRSS MiB', 'VmHWM MiB', 'process group RSS MiB'],
        m.readings.map((r) => [
          r.moment,
          int(r.accountsInDatabase),
          int(r.cachedCredentials),
          r.memory ? f1(r.memory.rssMiB) : 'not readable',
          r.memory ? f1(r.memory.hwmMiB) : undefined,
          r.memory ? `${f1(r.memory.groupRssMiB)} (${r.memory.groupProcesses} process${r.memory.groupProcesses === 1 ? '' : 'es'})` : undefined,
        ]),
        [1, 2, 3, 4],
      ),
      '',
      ...m.notes.map((n) => `- ${n}`),
      '',
    );
  }

  out.push('### Admin lists', '');
  if (report.scale.length === 0) out.push('Not measured in this run.', '');
  for (const scale of report.scale) {
    out.push(
      `${scale.database}, ${int(scale.accounts)} seeded accounts` +
        (scale.seed ? ` (seeded in ${f1(scale.seed.seconds)} s)` : '') +
        `; latency seen by the client over loopback, ${report.settings.adminRequests} sequential requests per row ` +
        `after 2 unmeasured ones (p99 by nearest rank: with fewer than 100 requests, the slowest one).` +
        (scale.error ? ` **Failed: ${scale.error}**` : ''),
      '',
      tableOf(
        ['request', 'selects', 'items', 'p50 ms', 'p99 ms', 'first request ms', "others' CPU"],
        scale.queries.map((q) =>
          q.ok
            ? [
                `${q.target ? '' : '(extra) '}\`${q.request}\``,
                q.selects,
                q.items,
                ms(q.latencyMs?.p50),
                ms(q.latencyMs?.p99),
                ms(q.firstMs),
                q.othersCpuPercent === undefined ? undefined : `${q.othersCpuPercent}%`,
              ]
            : [`\`${q.request}\``, q.selects, undefined, `FAILED: ${q.error ?? ''}`, undefined, undefined, undefined],
        ),
        [2, 3, 4, 5, 6],
      ),
      '',
    );
    if (scale.memory) out.push(`Service VmRSS after these requests: ${f1(scale.memory.rssMiB)} MiB (VmHWM ${f1(scale.memory.hwmMiB)} MiB).`, '');
  }

  out.push(
    '### Targets',
    '',
    tableOf(
      ['target', 'this run', 'verdict'],
      targets.map((t) => [t.title, t.results.join('<br>') || '—', t.verdict === 'met' ? 'met' : t.verdict === 'missed' ? '**missed**' : t.verdict]),
    ),
    '',
    `The token-endpoint targets are judged on the medians of the ${settings.rounds} round${settings.rounds === 1 ? '' : 's'}: ` +
      "median req/s ÷ the baseline's median req/s, and the median of the rounds' p99. The paired ratios and the spread " +
      'are there to say how much to trust a verdict near its bound; CPU per token is context only.',
    '',
  );
  for (const t of targets.filter((t) => t.verdict === 'missed')) {
    const hasNote = notes.includes(noteHeading(t));
    out.push(
      `**Missed: ${t.title}**`,
      '',
      ...t.missedBy.map((m) => `- ${m}`),
      `- Why, and what would close it: ${hasNote ? `see "${noteHeading(t).slice(4)}" under Notes below` : `_no note yet: add "${noteHeading(t)}" under Notes below_`}.`,
      '',
    );
  }
  const scenarioNotes = [...new Set(report.scenarios.flatMap((s) => s.notes.map((n) => `${s.id}: ${n}`)))];
  const scriptNotes = [...report.notes, ...scenarioNotes];
  if (scriptNotes.length) out.push('### Notes from the script', '', ...scriptNotes.map((n) => `- ${n}`), '');
  return out.join('\n');
}

function initialNotes(targets: TargetResult[]): string {
  return [
    NOTES_HEADING,
    '',
    '_Written by people, never by `npm run bench`: the script only replaces the part between the markers above._',
    'One heading per target; under a missed one, say why it was missed and what would close it.',
    '',
    ...targets.flatMap((t) => [noteHeading(t), '', 'TODO (hand-written): why, and what would close it.', '']),
  ].join('\n');
}

/** Rewrites the results between the markers of `file` (created, with a notes part, if absent). */
export function writeBenchmarksMarkdown(file: string, report: BenchReport): TargetResult[] {
  const targets = evaluateTargets(report);
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  let before: string;
  let after: string;
  if (existing === undefined) {
    before = [
      '# Benchmarks',
      '',
      'Measured by `npm run bench` (see [bench/README.md](bench/README.md)). Absolute numbers belong to the machine',
      'below; ratios to the baselines of the same run travel better. Nothing in the bench asserts a timing.',
      '',
      '',
    ].join('\n');
    after = `\n\n${initialNotes(targets)}`;
  } else {
    const begin = existing.indexOf(BEGIN_PREFIX);
    const end = existing.indexOf(END);
    if (begin >= 0 && end > begin) {
      before = existing.slice(0, begin);
      after = existing.slice(end + END.length);
    } else {
      // No markers (edited by hand?): keep every line of it and add the results at the end.
      before = `${existing.trimEnd()}\n\n`;
      after = '\n';
    }
  }
  const notes = after;
  writeFileSync(file, `${before}${BEGIN}\n${resultsSection(report, targets, notes)}\n${END}${after}`);
  return targets;
}

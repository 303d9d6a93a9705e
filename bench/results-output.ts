/**
 * What one run of the bench measured, and how it is reported at the end: the table and its notes on stdout,
 * everything as JSON in bench/results/latest.json, and the results section of BENCHMARKS.md (bench/report.ts);
 * the exit code is 1 when something could not be measured.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { SERVICE_LIMITS } from './our-service';
import { writeBenchmarksMarkdown, type BenchReport, type DbKind, type MemoryReport, type ScaleReport, type Scenario } from './report';
import { postgresCpuNote, ratios, sortScenarios, table } from './results-table';
import {
  ACCOUNTS,
  ADMIN_REQUESTS,
  CONNECTIONS,
  DATABASE_SERVER_URL,
  DURATION,
  MARKDOWN_FILE,
  RESULTS_FILE,
  ROOT,
  ROUNDS,
  SCALE_ACCOUNTS,
  WARMUP,
} from './settings';
import { TOKEN_BODY } from './token-request';

/** Everything one run of the bench measured: filled in as it goes, reported at the end. */
export interface Measurements {
  scenarios: Scenario[];
  memoryReports: MemoryReport[];
  scaleReports: ScaleReport[];
  /** `show server_version` per database kind, as the seeding found it. */
  serverVersions: Map<DbKind, string>;
}

/** The run itself, as read when it started. */
export interface RunContext {
  startedAt: Date;
  loadAverageAtStart: number[];
  source: ReturnType<typeof sourceVersion>;
  cpus: os.CpuInfo[];
}

/** Which code was measured: HEAD, and whether src/ differed from it (others may be editing). */
export function sourceVersion(): { commit?: string; srcModified?: string[] } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--', 'src', 'drizzle'], { cwd: ROOT, encoding: 'utf8' });
    return { commit, srcModified: status.split('\n').filter(Boolean).map((l) => l.slice(3)) };
  } catch {
    return {};
  }
}

/** Sorts the scenarios and sets their ratios, then prints and writes the results; sets the exit code. */
export async function reportResults(results: Measurements, run: RunContext): Promise<void> {
  const { scenarios, memoryReports, scaleReports, serverVersions } = results;
  const { startedAt, loadAverageAtStart, source, cpus } = run;
  sortScenarios(scenarios);
  ratios(scenarios);
  const notes = [
    `Rounds: per alg, the floor, oidc-provider and ours warm${DATABASE_SERVER_URL ? ' (PGlite and PostgreSQL)' : ''} ran side by side and were ` +
      `loaded in turn, ${ROUNDS} round(s) of ${DURATION} s each after ${WARMUP} s of warm-up, the order rotated by one each round; ` +
      'the others sat idle meanwhile. req/s, p50 and p99 are the medians of the rounds (each its own median); min–max is the spread of req/s. ' +
      'failure and cold: one load each, after the rounds.',
    'Throughput ratios: median req/s of the row ÷ median req/s of the baseline with the same alg (and, for "vs our warm", the same database); ' +
      '"(paired)": the median over the rounds of (the row\'s req/s ÷ the baseline\'s req/s in the same round), which cancels slow drifts of the machine.',
    'The targets (≥ 0.8× floor, ≥ 1.5× oidc-provider, p99 < 25 ms) are judged on the medians: median ÷ median for the ratios, the median of the rounds\' p99.',
    'CPU µs/token: CPU time (user + system, every thread) of the server under test during the measured seconds and until it was idle again (what it deferred counts) ÷ the answers it gave, ' +
      'from /proc/<pid>/stat of its process group; median of the rounds. "CPU vs floor": the floor\'s µs ÷ the row\'s (higher is better). ' +
      'Context for readers: no target is judged on it.',
    `Closed loop: ${CONNECTIONS} connections each waiting for its answer, so p50 ≈ connections ÷ req/s when the server is saturated.`,
    `autocannon runs in the parent process and shares the ${cpus.length} CPU(s) with the server under test (and PostgreSQL): absolute numbers are lower than with a separate load generator.`,
    'floor: no client authentication, no database, no framework — only body parsing and signing; oidc-provider: plaintext client secrets in its configuration, no database.',
    'cold/failure: one argon2id verify per request (ARGON2_MAX_CONCURRENCY=2 by default), so they are bound by argon2, not by the code around it.',
    `ours: ${ACCOUNTS.toLocaleString('en-US')} accounts seeded with SQL before each start; rate-limit and brute-force thresholds raised (${Object.entries(SERVICE_LIMITS).map(([k, v]) => `${k}=${v}`).join(', ')}) so that the load measures tokens, not 429 answers; both checks still run on every request.`,
  ];
  const pgNote = postgresCpuNote(scenarios);
  if (pgNote) notes.push(pgNote);
  for (const s of scenarios) if (!s.ok) notes.push(`${s.id} failed: ${s.error}`);
  if (source.srcModified?.length) {
    notes.push(`measured src/ differs from ${source.commit?.slice(0, 12)} in: ${source.srcModified.join(', ')}`);
  }
  const printedTable = table(scenarios);
  process.stdout.write(`\n${printedTable}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
  const printed = new Set<string>();
  for (const s of scenarios) {
    for (const n of s.notes) {
      if (printed.has(n)) continue;
      printed.add(n);
      process.stdout.write(`- ${s.id}: ${n}\n`);
    }
  }

  const memoryTable = memoryReports.flatMap((m) =>
    m.readings.map((r) => `  ${m.database} ${r.moment}: ${r.accountsInDatabase} accounts, ${r.cachedCredentials} cached, VmRSS ${r.memory?.rssMiB ?? '?'} MiB, VmHWM ${r.memory?.hwmMiB ?? '?'} MiB`),
  );
  const adminTable = scaleReports.flatMap((sr) => [
    ...(sr.error ? [`  ${sr.database}: FAILED ${sr.error}`] : []),
    ...sr.queries.map((q) => `  ${sr.database} ${q.id}: ${q.ok ? `p50 ${q.latencyMs?.p50} ms, p99 ${q.latencyMs?.p99} ms` : `FAILED ${q.error}`}`),
  ]);
  if (memoryTable.length) process.stdout.write(`\nMemory:\n${memoryTable.join('\n')}\n`);
  if (adminTable.length) process.stdout.write(`\nAdmin lists (${SCALE_ACCOUNTS} accounts, ${ADMIN_REQUESTS} sequential requests each):\n${adminTable.join('\n')}\n`);

  const serverVersion = (kind: DbKind) => serverVersions.get(kind);
  const report: BenchReport = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    source,
    machine: {
      cpus: cpus.length,
      model: cpus[0]?.model,
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg(),
    },
    databases: {
      pglite: `${packageVersion('@electric-sql/pglite')}${serverVersion('pglite') ? ` (PostgreSQL ${serverVersion('pglite')})` : ''}`,
      ...(DATABASE_SERVER_URL ? { postgres: serverVersion('postgres') ?? 'unknown version' } : {}),
    },
    settings: {
      rounds: ROUNDS,
      durationSeconds: DURATION,
      warmupSeconds: WARMUP,
      connections: CONNECTIONS,
      seededAccounts: ACCOUNTS,
      scaleAccounts: SCALE_ACCOUNTS,
      adminRequests: ADMIN_REQUESTS,
      serviceLimits: SERVICE_LIMITS,
      body: TOKEN_BODY,
    },
    scenarios,
    memory: memoryReports,
    scale: scaleReports,
    notes,
    table: printedTable,
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nJSON: ${RESULTS_FILE}\n`);
  if (MARKDOWN_FILE) {
    const targets = writeBenchmarksMarkdown(MARKDOWN_FILE, report);
    process.stdout.write(`\nTargets:\n${targets.map((t) => `  ${t.verdict.padEnd(12)} ${t.title}${t.missedBy.length ? `\n${t.missedBy.map((m) => `               ${m}`).join('\n')}` : ''}`).join('\n')}\n`);
    process.stdout.write(`\nMarkdown: ${MARKDOWN_FILE} (between its bench:results markers)\n`);
  }
  const failedParts = scaleReports.some((sr) => sr.error || sr.queries.some((q) => !q.ok)) || memoryReports.some((m) => m.fill && m.fill.unexpected > 0);
  if (scenarios.some((s) => !s.ok) || failedParts) process.exitCode = 1;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown version';
  }
}

/**
 * `npm run bench`: load on POST /oauth/token, reported as RATIOS against baselines measured in the same run,
 * plus the service's memory with many accounts and the admin list pages on a large database.
 *
 *   floor          bench/floor-server.ts: node:http + URLSearchParams + our signing code on the same claims; no client
 *                  authentication, no database, no framework. What signing a token costs on this machine.
 *   oidc-provider  bench/peer-server.ts: panva's oidc-provider, client_credentials + client_secret_basic + RFC 8707
 *                  resource, JWT access tokens with the same alg. What a mature server spends on the same job.
 *   ours warm      src/main.ts as a child process, BENCH_ACCOUNTS accounts seeded into its database; the same
 *                  valid client_secret_basic credentials every request (answered from the credential cache).
 *   ours failure   a valid client_id with a wrong secret every request (argon2id verify, then 401).
 *   ours cold      a different, never verified secret every request (argon2id verify, then a token).
 *   memory         in the RS256 run: the service process's VmRSS when idle, after the warm load, after each
 *                  seeded account authenticated once (all of them cached), and at the end.
 *   admin lists    src/main.ts on a database of BENCH_SCALE_ACCOUNTS seeded accounts: sequential requests to the
 *                  list pages (bench/admin-lists.ts).
 *
 * Rounds: per alg, the floor, oidc-provider and ours warm (on PGlite, and on PostgreSQL when enabled) run side by
 * side, and each is loaded in turn (a warm-up, then BENCH_DURATION_SECONDS measured) in BENCH_ROUNDS rounds whose
 * order rotates; a scenario's req/s and latencies are the medians of its rounds, and ratios are also paired
 * round by round (bench/rounds.ts). The machine is noisy: one load minutes apart from its baseline says little.
 * Every measured load also reads the CPU time the server under test used (bench/server-cpu.ts): CPU µs per token.
 * Then, with only ours left running, the single-shot parts: memory, failure path, cold path.
 *
 * Accounts are seeded with SQL by bench/seed-accounts.ts before the service starts (bench/seed-plan.ts says
 * what they look like). Every server runs in its own child process; autocannon runs in this one. Nothing here
 * is a pass/fail timing assertion: absolute numbers depend on the machine (and on autocannon sharing its
 * cores), the ratios much less; the issue-4 targets are judged in the report, never by the exit code.
 *
 * Env: BENCH_ROUNDS (3), BENCH_DURATION_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_WARMUP_SECONDS (2, before every load),
 *      BENCH_COLD_MAX_ACCOUNTS (3000), BENCH_ACCOUNTS (10000), BENCH_SCALE_ACCOUNTS (100000; 0 skips),
 *      BENCH_ADMIN_REQUESTS (30), BENCH_MARKDOWN (BENCHMARKS.md; another path, or 0 for none),
 *      BENCH_DATABASE_URL (a PostgreSQL server where throw-away databases may be created and dropped; adds
 *      every "ours" part on PostgreSQL).
 * Output: a table on stdout, everything as JSON in bench/results/latest.json, and the results section of
 * BENCHMARKS.md (between its markers; the hand-written notes below them are kept).
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { measureAdminLists } from './admin-lists';
import { peerWarnings, startFloor, startPeer } from './baselines';
import type { Child } from './child-process';
import { isInterrupted, liveGroups, notInterrupted, runCleanups } from './cleanup';
import { cpuSnapshot } from './cpu-contention';
import { log } from './log';
import { adminToken, SERVICE_SCRIPT, startOurs, type OurService } from './our-service';
import { finishOurs, prepareOurs, type OursRun } from './ours-run';
import { processMemory } from './process-memory';
import type { Alg, DbKind, ScaleReport } from './report';
import { reportResults, sourceVersion, type Measurements } from './results-output';
import { failed, measureRounds, newScenario, type LoadTarget } from './scenario-rounds';
import { ADMIN_REQUESTS, ALGS, CONNECTIONS, DATABASE_SERVER_URL, DURATION, ROOT, ROUNDS, SCALE_ACCOUNTS, WARMUP } from './settings';

/**
 * Everything measured with one alg: the floor, oidc-provider and ours (per database) running side by side for
 * the interleaved warm rounds; then the baselines are stopped and each service, in turn, does its single-shot
 * parts (RS256) and is stopped.
 */
async function benchAlg(alg: Alg, databases: readonly DbKind[], results: Measurements): Promise<void> {
  const floor = newScenario(results.scenarios, 'floor', 'baseline', alg);
  const peer = newScenario(results.scenarios, 'oidc-provider', 'baseline', alg);
  const baselines: Child[] = [];
  const runs: OursRun[] = [];
  const targets: LoadTarget[] = [];
  try {
    for (const [s, start] of [[floor, startFloor], [peer, startPeer]] as const) {
      notInterrupted();
      try {
        const { child, target } = await start(alg, s);
        baselines.push(child);
        targets.push(target);
        if (s === peer) peerWarnings(child, peer);
      } catch (error) {
        failed(s, error);
      }
    }
    for (const database of databases) {
      notInterrupted();
      const run = await prepareOurs(alg, database, alg === 'RS256', results);
      runs.push(run);
      if (run.target) targets.push(run.target);
    }
    await measureRounds(alg, targets);
    for (const child of baselines) await child.stop();
    for (const run of runs) {
      notInterrupted();
      await finishOurs(run);
    }
  } catch (error) {
    if (!isInterrupted()) throw error;
  } finally {
    for (const child of baselines) await child.stop();
    for (const run of runs) await run.svc?.child.stop();
  }
}

/** The admin list pages on a database holding `count` seeded accounts. */
async function benchScale(database: DbKind, count: number, results: Measurements): Promise<void> {
  const scale: ScaleReport = { database, accounts: count, queries: [] };
  results.scaleReports.push(scale);
  log(`admin lists ${database}: ${count.toLocaleString('en-US')} accounts`);
  let svc: OurService | undefined;
  try {
    svc = await startOurs('RS256', database, count, results.serverVersions);
    if (svc.seeded.result) scale.seed = svc.seeded.result;
    const bearer = await adminToken(svc);
    const deadline = Date.now() + 240_000;
    scale.queries = await measureAdminLists({
      base: svc.base,
      bearer,
      count,
      seedBase: svc.seeded.base,
      requests: ADMIN_REQUESTS,
      warmup: 2,
      shouldStop: () => isInterrupted() || Date.now() > deadline,
      cpuSnapshot: () => cpuSnapshot(liveGroups),
      log,
    });
    scale.memory = processMemory(svc.child.proc.pid!);
  } catch (error) {
    scale.error = error instanceof Error ? error.message : String(error);
    log(`  admin lists ${database} FAILED: ${scale.error}`);
  } finally {
    await svc?.child.stop();
  }
}

/** Settings (logged), the build, per alg the rounds and the single-shot parts, the admin lists, then the report. */
async function main(): Promise<void> {
  const startedAt = new Date();
  const loadAverageAtStart = os.loadavg();
  const source = sourceVersion();
  const cpus = os.cpus();
  log(
    `${cpus.length} CPU(s) ${cpus[0]?.model ?? ''}, node ${process.version}; ${ROUNDS} round(s) of ${DURATION} s per ` +
      `warm scenario (+${WARMUP} s warm-up each), ${CONNECTIONS} connections; PostgreSQL: ${DATABASE_SERVER_URL ? 'yes' : 'no (set BENCH_DATABASE_URL)'}`,
  );
  const results: Measurements = { scenarios: [], memoryReports: [], scaleReports: [], serverVersions: new Map() };
  try {
    log(`building ${SERVICE_SCRIPT} (npm run build)`);
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
    const databases: DbKind[] = DATABASE_SERVER_URL ? ['pglite', 'postgres'] : ['pglite'];
    for (const alg of ALGS) if (!isInterrupted()) await benchAlg(alg, databases, results);
    if (SCALE_ACCOUNTS > 0) for (const database of databases) if (!isInterrupted()) await benchScale(database, SCALE_ACCOUNTS, results);
  } finally {
    await runCleanups();
  }
  if (isInterrupted()) return;
  await reportResults(results, { startedAt, loadAverageAtStart, source, cpus });
}

main().catch(async (error: unknown) => {
  log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  await runCleanups();
  process.exitCode = 1;
});

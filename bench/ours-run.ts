/**
 * One of our services in an alg's run: prepared before the warm rounds (started, an account made, probed:
 * its warm target), and finished after them, in the RS256 run, with the single-shot parts: memory readings,
 * every seeded account authenticated once, the failure path and the cold path. Then it is stopped.
 */
import { randomBytes } from 'node:crypto';
import { isInterrupted } from './cleanup';
import { loadWatched } from './load';
import { log } from './log';
import { adminToken, createAccount, SERVICE_SCRIPT, startOurs, type OurService } from './our-service';
import { processMemory } from './process-memory';
import type { Alg, DbKind, MemoryReport, Scenario } from './report';
import type { Measurements } from './results-output';
import { failed, newScenario, recordRound, type LoadTarget } from './scenario-rounds';
import { expectedTokenStatus, seededClientId } from './seed-plan';
import type { ServerProcesses } from './server-cpu';
import { ACCOUNTS, COLD_MAX_ACCOUNTS, CONNECTIONS, DURATION, ROUNDS } from './settings';
import { FORM, TOKEN_BODY, basicAuth, probe } from './token-request';

/** A secret with the real secret's id (so the row is found and argon2 runs) and a wrong random part. */
function wrongSecretFor(secret: string): string {
  const m = /^(ccs_[0-9a-f]{32}_)/.exec(secret);
  const wrong = randomBytes(32).toString('base64url');
  return m ? `${m[1]}${wrong}` : `${secret}x`;
}

/** Accounts made over the admin API (each one an argon2id hash), in parallel, bounded in count and time. */
async function createColdPool(svc: OurService, bearer: string, target: number, seconds: number) {
  const pool: string[] = [];
  const deadline = Date.now() + seconds * 1000;
  const started = Date.now();
  let n = 0;
  const worker = async () => {
    while (pool.length < target && Date.now() < deadline && !isInterrupted()) {
      const { clientId, secret } = await createAccount(svc, bearer, `bench-cold-${++n}-${randomBytes(3).toString('hex')}`);
      pool.push(basicAuth(clientId, secret));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { pool, seconds: (Date.now() - started) / 1000 };
}

/**
 * Authenticates every seeded account once (the shared secret), so that each one's credential is verified
 * and cached by the service. Bounded in time; `concurrency` requests in flight.
 */
async function authenticateSeeded(svc: OurService, concurrency: number, seconds: number): Promise<NonNullable<MemoryReport['fill']>> {
  const { accounts, base, secret } = svc.seeded;
  const statusCodes: Record<string, number> = {};
  let unexpected = 0;
  let next = 1;
  const started = Date.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (next <= accounts && Date.now() < deadline && !isInterrupted()) {
      const i = next++;
      const res = await fetch(svc.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': FORM, authorization: basicAuth(seededClientId(i), secret) },
        body: TOKEN_BODY,
        signal: AbortSignal.timeout(30_000),
      });
      await res.arrayBuffer();
      statusCodes[res.status] = (statusCodes[res.status] ?? 0) + 1;
      if (res.status !== expectedTokenStatus(base, i, new Date())) unexpected++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return { requests, seconds: (Date.now() - started) / 1000, statusCodes, unexpected };
}

/** One "ours" service of an alg's run: its scenarios, and what it holds (for the memory readings). */
export interface OursRun {
  alg: Alg;
  database: DbKind;
  warm: Scenario;
  failure?: Scenario;
  cold?: Scenario;
  memory?: MemoryReport;
  svc?: OurService;
  bearer?: string;
  account?: { clientId: string; secret: string };
  /** The warm load, once the service answered a probe with a token. */
  target?: LoadTarget;
  /** Accounts in its database, credentials it verified: counted by the bench for the memory readings. */
  accountsInDatabase: number;
  cachedCredentials: number;
}

function readMemory(run: OursRun, moment: string): void {
  if (!run.memory || !run.svc) return;
  const { accountsInDatabase, cachedCredentials } = run;
  const reading = { moment, accountsInDatabase, cachedCredentials, memory: processMemory(run.svc.child.proc.pid!) };
  run.memory.readings.push(reading);
  log(`  ${run.database} memory ${moment}: ${reading.memory ? `VmRSS ${reading.memory.rssMiB} MiB, VmHWM ${reading.memory.hwmMiB} MiB` : 'not readable'}`);
}

/**
 * Starts the service on `database` (ACCOUNTS seeded), makes its warm-path account and probes it. Never throws:
 * what fails is recorded in its scenarios (and the service stopped when it cannot be used at all).
 */
export async function prepareOurs(alg: Alg, database: DbKind, withArgon2Paths: boolean, results: Measurements): Promise<OursRun> {
  const { scenarios, memoryReports } = results;
  const run: OursRun = {
    alg,
    database,
    warm: newScenario(scenarios, 'ours', 'warm', alg, database),
    accountsInDatabase: ACCOUNTS + 1, // the seeded ones and the bootstrap admin
    cachedCredentials: 0,
  };
  if (withArgon2Paths) {
    run.failure = newScenario(scenarios, 'ours', 'failure', alg, database);
    run.cold = newScenario(scenarios, 'ours', 'cold', alg, database);
    // Memory is read in the run that goes through every path (RS256).
    run.memory = { database, alg, seededAccounts: ACCOUNTS, readings: [], notes: [] };
    memoryReports.push(run.memory);
  }
  log(`ours ${database} ${alg}: starting ${SERVICE_SCRIPT}`);
  try {
    run.svc = await startOurs(alg, database, ACCOUNTS, results.serverVersions);
    if (run.memory && run.svc.seeded.result) run.memory.seed = run.svc.seeded.result;
    readMemory(run, 'idle, just started');
    run.bearer = await adminToken(run.svc);
    run.cachedCredentials++; // the bootstrap admin's
    run.account = await createAccount(run.svc, run.bearer, `bench-warm-${randomBytes(3).toString('hex')}`);
    run.accountsInDatabase++;
  } catch (error) {
    for (const s of [run.warm, run.failure, run.cold]) if (s) failed(s, error);
    await run.svc?.child.stop();
    delete run.svc;
    return run;
  }
  try {
    const authorization = basicAuth(run.account.clientId, run.account.secret);
    run.warm.sample = await probe(run.svc.tokenUrl, authorization, 200, alg);
    run.cachedCredentials++;
    const processes: ServerProcesses = { pgid: run.svc.child.proc.pid! };
    if (run.svc.databaseName) processes.database = run.svc.databaseName;
    run.target = { scenario: run.warm, url: run.svc.tokenUrl, authorization, processes };
  } catch (error) {
    failed(run.warm, error);
  }
  return run;
}

/**
 * After the warm rounds, the single-shot parts of the RS256 run (memory readings, all seeded accounts
 * authenticated, failure path, cold path); then the service is stopped.
 */
export async function finishOurs(run: OursRun): Promise<void> {
  const { alg, svc, bearer, account, warm, failure, cold, memory } = run;
  try {
    if (!svc || !bearer || !account || !failure || !cold || !memory) return;
    const processes: ServerProcesses = { pgid: svc.child.proc.pid! };
    if (svc.databaseName) processes.database = svc.databaseName;
    readMemory(
      run,
      `after the warm load (${warm.rounds.length} round${warm.rounds.length === 1 ? '' : 's'}, ` +
        `${(warm.requests ?? 0).toLocaleString('en-US')} measured requests)`,
    );

    if (ACCOUNTS > 0) {
      log(`  ${run.database}: authenticating each of the ${ACCOUNTS.toLocaleString('en-US')} seeded accounts once`);
      try {
        memory.fill = await authenticateSeeded(svc, 8, 180);
        // A genuine credential is cached whatever its state (a disabled or expired one answers 401).
        run.cachedCredentials += memory.fill.requests - memory.fill.unexpected;
        log(`  ${memory.fill.requests} requests in ${memory.fill.seconds.toFixed(1)} s, statuses ${JSON.stringify(memory.fill.statusCodes)}, unexpected ${memory.fill.unexpected}`);
        readMemory(run, 'after each seeded account authenticated once');
        memory.notes.push(
          `${memory.fill.requests.toLocaleString('en-US')} of the ${ACCOUNTS.toLocaleString('en-US')} seeded accounts authenticated once each ` +
            `(8 at a time, ${memory.fill.seconds.toFixed(1)} s; statuses ${JSON.stringify(memory.fill.statusCodes)}: 401 for the disabled, ` +
            `revoked and expired ones, as seeded; ${memory.fill.unexpected} unexpected). Their shared secret has a light ` +
            `argon2id hash (1 MiB, t=1) so that this costs little argon2 time (see bench/seed-plan.ts); the failure and ` +
            `cold loads that follow run full-cost argon2id in the same process.`,
        );
      } catch (error) {
        memory.notes.push(`authenticating the seeded accounts failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }

    const wrong = basicAuth(account.clientId, wrongSecretFor(account.secret));
    try {
      await probe(svc.tokenUrl, wrong, 401, alg);
      recordRound(failure, await loadWatched({ url: svc.tokenUrl, authorization: wrong, seconds: DURATION }, processes), 1, 1);
      failure.notes.push('well-formed ccs_ secret naming the real secret id, wrong random part: one argon2id verify per request');
    } catch (error) {
      failed(failure, error);
    }

    try {
      // Enough one-shot credentials for DURATION seconds at the argon2-bound rate just measured (cold does the
      // same argon2 verify as failure, plus signing), plus what autocannon builds ahead per connection.
      const rate = failure.ok && failure.rps ? failure.rps : 50;
      const target = Math.min(COLD_MAX_ACCOUNTS, Math.ceil(rate * DURATION * 1.25) + 2 * CONNECTIONS);
      const creationLimit = Math.max(20, Math.ceil(2.5 * DURATION));
      log(`  creating up to ${target} accounts for the cold path (at most ${creationLimit} s)`);
      const { pool, seconds } = await createColdPool(svc, bearer, target, creationLimit);
      run.accountsInDatabase += pool.length;
      cold.notes.push(`${pool.length} accounts created over the admin API in ${seconds.toFixed(1)} s (${(pool.length / seconds).toFixed(0)}/s, one argon2id hash each)`);
      if (pool.length < 3 * CONNECTIONS) throw new Error(`only ${pool.length} cold accounts could be created`);
      let next = 0;
      let reused = 0;
      const nextAuthorization = () => {
        if (next >= pool.length) reused++;
        return pool[next++ % pool.length]!;
      };
      const watched = await loadWatched(
        { url: svc.tokenUrl, authorization: pool[0]!, nextAuthorization, amount: pool.length - 2 * CONNECTIONS, seconds: DURATION },
        processes,
      );
      recordRound(cold, watched, 1, 1);
      run.cachedCredentials += Math.min(cold.statusCodes?.['200'] ?? 0, pool.length);
      if (reused > 0) cold.notes.push(`${reused} requests reused a credential (memo hits): the pool ran out`);
      if ((cold.seconds ?? 0) < DURATION * 0.9) {
        cold.notes.push(`stopped after ${cold.seconds} s: the pool of never-verified secrets was used up`);
      }
    } catch (error) {
      failed(cold, error);
    }
    readMemory(run, 'end of the run (after the failure and cold loads)');
    memory.notes.push(
      'VmRSS: resident memory of the service process (`node dist/main.js`, built by `npm run build` at the start of the bench, as in the Dockerfile) from ' +
        '/proc/<pid>/status; VmHWM: its highest VmRSS since start. PGlite runs inside that process, so its ' +
        'buffers count too. Nothing forces a garbage collection before a reading.',
      '"credentials in the cache": counted by the bench, not read from the service (it does not expose the ' +
        'number): every credential it verified since start (bootstrap admin, warm account, seeded accounts, cold-path ' +
        'accounts). None is dropped in between: no change touches those accounts, and the cache holds up to ' +
        'CREDENTIAL_CACHE_MAX_ENTRIES (50,000); an entry past its 60 s TTL stays in memory until it is replaced.',
      `"after the warm load": read once the ${ROUNDS} warm round(s) of this service were done; the service sat idle ` +
        'while the other servers of its alg were loaded, and the baselines were stopped before the readings that follow.',
    );
  } finally {
    await svc?.child.stop();
  }
}

/**
 * The scenarios of a run and their measured loads: a scenario is created once, each watched load becomes one
 * of its rounds (logged, and its medians updated by bench/rounds.ts), and the interleaved warm rounds load
 * every target of an alg in turn, in an order rotated each round.
 */
import os from 'node:os';
import { notInterrupted } from './cleanup';
import { loadWatched, runLoad, type Watched } from './load';
import { log } from './log';
import type { Alg, DbKind, PathKind, Role, RoundResult, Scenario } from './report';
import { roundOrder, summarizeRounds } from './rounds';
import type { ServerProcesses } from './server-cpu';
import { DURATION, ROUNDS, WARMUP } from './settings';

/** A new scenario, added to `scenarios` (the run's list, in the order of creation). */
export function newScenario(scenarios: Scenario[], role: Role, path: PathKind, alg: Alg, database?: DbKind): Scenario {
  const id = role === 'ours' ? `ours ${database} ${alg} ${path}` : `${role} ${alg}`;
  const s: Scenario = { id, role, path, alg, expectStatus: path === 'failure' ? 401 : 200, ok: false, rounds: [], notes: [] };
  if (database) s.database = database;
  scenarios.push(s);
  return s;
}

/** A server under load: where to send the requests, and whose CPU time counts (bench/server-cpu.ts). */
export interface LoadTarget {
  scenario: Scenario;
  url: string;
  authorization: string;
  processes: ServerProcesses;
}

const tenths = (n: number) => Math.round(n * 10) / 10;

/** One measured load as round `round` of `s` (at `position` in that round); updates the scenario's medians. */
export function recordRound(s: Scenario, w: Watched, round: number, position: number): void {
  const r = w.result;
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(r.statusCodeStats ?? {})) statusCodes[code] = stat?.count ?? 0;
  const responses = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  const expected = statusCodes[String(s.expectStatus)] ?? 0;
  const result: RoundResult = {
    round,
    position,
    startedAt: w.startedAt.toISOString(),
    requests: r.requests.total,
    seconds: r.duration,
    rps: r.duration > 0 ? r.requests.total / r.duration : 0,
    latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: r.latency.mean, max: r.latency.max },
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts + (responses - expected),
    transportErrors: r.errors,
    timeouts: r.timeouts,
    statusCodes,
    settleSeconds: w.settleSeconds,
  };
  if (w.cpu && responses > 0) {
    const { serverMs, databaseMs, databaseBackends } = w.cpu;
    const perToken = (ms: number) => tenths((ms * 1000) / responses);
    result.cpu = {
      serverMs: tenths(serverMs),
      ...(databaseMs === undefined ? {} : { databaseMs: tenths(databaseMs), databaseBackends, databaseUsPerToken: perToken(databaseMs) }),
      usPerToken: perToken(serverMs + (databaseMs ?? 0)),
      serverUsPerToken: perToken(serverMs),
    };
  }
  if (w.others !== undefined) result.othersCpuPercent = Math.round(w.others);
  const load = os.loadavg()[0];
  if (load !== undefined) result.loadAverage1m = load;
  s.rounds.push(result);
  summarizeRounds(s);
  const cpu = result.cpu
    ? `${result.cpu.usPerToken} µs CPU/token${result.cpu.databaseUsPerToken !== undefined ? ` (PostgreSQL ${result.cpu.databaseUsPerToken})` : ''}`
    : 'CPU not readable';
  log(
    `  ${s.id}${s.path === 'warm' || s.path === 'baseline' ? ` [round ${round}/${ROUNDS}, #${position}]` : ''}: ` +
      `${result.rps.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, ${cpu}, ` +
      `statuses ${JSON.stringify(statusCodes)}, errors ${r.errors}, timeouts ${r.timeouts}, ` +
      `other processes ${result.othersCpuPercent ?? '?'}% CPU, busy ${w.settleSeconds} s after the load`,
  );
}

export function failed(s: Scenario, error: unknown): void {
  s.ok = false;
  s.error = error instanceof Error ? error.message : String(error);
  log(`  ${s.id} FAILED: ${s.error}`);
}

/**
 * BENCH_ROUNDS rounds; in each, every target once (its warm-up, then DURATION s measured), in an order rotated
 * by one each round so that no target is always first. A target whose load fails is dropped from the rest.
 */
export async function measureRounds(alg: Alg, targets: LoadTarget[]): Promise<void> {
  let active = targets.filter((t) => t.scenario.error === undefined);
  for (let round = 0; round < ROUNDS && active.length > 0; round++) {
    notInterrupted();
    const order = roundOrder(active, round);
    log(`${alg} round ${round + 1}/${ROUNDS}: ${order.map((t) => t.scenario.id).join(' → ')}`);
    for (const [i, t] of order.entries()) {
      notInterrupted();
      try {
        if (WARMUP > 0) await runLoad({ url: t.url, authorization: t.authorization, seconds: WARMUP });
        const watched = await loadWatched({ url: t.url, authorization: t.authorization, seconds: DURATION }, t.processes);
        recordRound(t.scenario, watched, round + 1, i + 1);
      } catch (error) {
        failed(t.scenario, error);
      }
    }
    active = active.filter((t) => t.scenario.error === undefined);
  }
}

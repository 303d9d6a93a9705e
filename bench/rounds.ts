/**
 * A scenario measured in several rounds: the order of the targets in each round, and the headline numbers of a
 * scenario from its rounds (medians, spread, sums) and the ratios between scenarios (median ÷ median, and
 * paired round by round). On a noisy machine a single load says little; the median of interleaved rounds,
 * and ratios of loads measured side by side, say more.
 */
import type { RoundResult, Scenario } from './report';

/** The middle value (the mean of the two middle ones for an even count); undefined for none. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Round `round` (0-based) measures the targets in this order: rotated by one each round, so none is always first. */
export function roundOrder<T>(targets: readonly T[], round: number): T[] {
  if (targets.length === 0) return [];
  const shift = round % targets.length;
  return [...targets.slice(shift), ...targets.slice(0, shift)];
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);

/** Sets the scenario's headline numbers from its rounds (call after each round: the scenario stays consistent). */
export function summarizeRounds(s: Scenario): void {
  const rounds = s.rounds;
  if (rounds.length === 0) return;
  const med = (pick: (r: RoundResult) => number) => median(rounds.map(pick))!;
  const rps = rounds.map((r) => r.rps);
  s.requests = sum(rounds.map((r) => r.requests));
  s.seconds = Math.round(sum(rounds.map((r) => r.seconds)) * 100) / 100;
  s.rps = median(rps)!;
  s.rpsRange = { min: Math.min(...rps), max: Math.max(...rps) };
  s.latencyMs = {
    p50: med((r) => r.latencyMs.p50),
    p90: med((r) => r.latencyMs.p90),
    p99: med((r) => r.latencyMs.p99),
    mean: med((r) => r.latencyMs.mean),
    max: Math.max(...rounds.map((r) => r.latencyMs.max)),
  };
  s.non2xx = sum(rounds.map((r) => r.non2xx));
  s.errors = sum(rounds.map((r) => r.errors));
  s.transportErrors = sum(rounds.map((r) => r.transportErrors));
  s.timeouts = sum(rounds.map((r) => r.timeouts));
  const statusCodes: Record<string, number> = {};
  for (const r of rounds) for (const [code, n] of Object.entries(r.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  s.statusCodes = statusCodes;
  const withCpu = rounds.flatMap((r) => (r.cpu ? [r.cpu] : []));
  if (withCpu.length > 0) {
    const database = median(withCpu.flatMap((c) => (c.databaseUsPerToken === undefined ? [] : [c.databaseUsPerToken])));
    s.cpuUsPerToken = {
      total: median(withCpu.map((c) => c.usPerToken))!,
      server: median(withCpu.map((c) => c.serverUsPerToken))!,
      ...(database === undefined ? {} : { database }),
    };
  }
  const others = median(rounds.flatMap((r) => (r.othersCpuPercent === undefined ? [] : [r.othersCpuPercent])));
  if (others !== undefined) s.othersCpuPercent = Math.round(others);
  const load = rounds.at(-1)!.loadAverage1m;
  if (load !== undefined) s.loadAverage1m = load;
  s.ok = true;
}

/** s's req/s ÷ base's req/s in the same round, for each round both measured. */
export function pairedRatios(s: Scenario, base: Scenario): number[] {
  return s.rounds.flatMap((r) => {
    const b = base.rounds.find((x) => x.round === r.round);
    return b && b.rps > 0 ? [r.rps / b.rps] : [];
  });
}

/** Median of the paired ratios (see `pairedRatios`). */
export function pairedRatio(s: Scenario, base: Scenario): { ratio: number; rounds: number } | undefined {
  const ratios = pairedRatios(s, base);
  const ratio = median(ratios);
  return ratio === undefined ? undefined : { ratio, rounds: ratios.length };
}

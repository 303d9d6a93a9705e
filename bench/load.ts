/**
 * One load with autocannon (run in this process), and the same load watched: the CPU time the server under
 * test used meanwhile and until it was idle again (bench/server-cpu.ts), and what the machine's other
 * processes used (bench/cpu-contention.ts).
 */
import autocannon from 'autocannon';
import { isInterrupted, liveGroups, trackLoad } from './cleanup';
import { cpuSnapshot, othersCpuPercent } from './cpu-contention';
import { serverCpuSnapshot, serverCpuUsed, type ServerCpuUsed, type ServerProcesses } from './server-cpu';
import { CONNECTIONS } from './settings';
import { FORM, TOKEN_BODY } from './token-request';
import { sleep } from './wait';

export interface LoadSpec {
  url: string;
  authorization: string;
  /** Per request Authorization header (cold path); otherwise the fixed one. */
  nextAuthorization?: () => string;
  /** Stop after this many requests (pool of one-shot credentials); the time bound still applies. */
  amount?: number;
  seconds: number;
}

export function runLoad(spec: LoadSpec): Promise<autocannon.Result> {
  return new Promise((done, fail) => {
    if (isInterrupted()) {
      fail(new Error('interrupted'));
      return;
    }
    const options: autocannon.Options = {
      url: spec.url,
      method: 'POST',
      headers: { 'content-type': FORM, authorization: spec.authorization },
      body: TOKEN_BODY,
      connections: CONNECTIONS,
      timeout: 10,
    };
    if (spec.nextAuthorization) {
      const next = spec.nextAuthorization;
      options.requests = [
        {
          method: 'POST',
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: next() } }),
        },
      ];
    }
    if (spec.amount !== undefined) options.amount = Math.max(spec.amount, CONNECTIONS);
    else options.duration = spec.seconds;
    // Bounded in time whatever happens: autocannon's own duration, else ours; plus a safety margin.
    const stopAt = setTimeout(() => instance.stop(), (spec.amount !== undefined ? spec.seconds : spec.seconds + 15) * 1000);
    const instance = autocannon(options, (error, result) => {
      clearTimeout(stopAt);
      trackLoad(undefined);
      if (error) fail(error);
      else done(result);
    });
    trackLoad(instance);
  });
}

export interface Watched {
  result: autocannon.Result;
  startedAt: Date;
  /** CPU of other processes of the machine meanwhile, in % of one CPU (cpu-contention.ts). */
  others?: number;
  /** CPU of the server under test meanwhile, and until it was idle again (see `settle`). */
  cpu?: ServerCpuUsed;
  /** How long the server kept working after the load ended (see `settle`). */
  settleSeconds: number;
}

/** A load, with the CPU time the server under test and the machine's other processes used meanwhile. */
export async function loadWatched(spec: LoadSpec, processes: ServerProcesses): Promise<Watched> {
  const startedAt = new Date();
  const machineBefore = cpuSnapshot(liveGroups);
  const serverBefore = serverCpuSnapshot(processes);
  const result = await runLoad(spec);
  const others = othersCpuPercent(machineBefore, cpuSnapshot(liveGroups));
  const { snapshot: serverAfter, seconds } = await settle(processes);
  const watched: Watched = { result, startedAt, settleSeconds: seconds };
  if (others !== undefined) watched.others = others;
  const cpu = serverCpuUsed(serverBefore, serverAfter);
  if (cpu) watched.cpu = cpu;
  return watched;
}

const SETTLE_STEP_MS = 500;
const SETTLE_MAX_MS = 60_000;

/**
 * Waits, after a load, until the server (and its PostgreSQL backends) is idle again: below 5% of a CPU over
 * half a second, at most a minute. What a server defers (ours: audit rows and last-used times written from
 * their buffers) is part of what its tokens cost, so the CPU per token counts it; and it must not run into
 * the next target's load, which would pay for it.
 */
async function settle(processes: ServerProcesses): Promise<{ snapshot: ReturnType<typeof serverCpuSnapshot>; seconds: number }> {
  const started = performance.now();
  let last = serverCpuSnapshot(processes);
  while (performance.now() - started < SETTLE_MAX_MS) {
    await sleep(SETTLE_STEP_MS);
    const now = serverCpuSnapshot(processes);
    const used = serverCpuUsed(last, now);
    last = now;
    if (!used || used.serverMs + (used.databaseMs ?? 0) < SETTLE_STEP_MS * 0.05) break;
  }
  return { snapshot: last, seconds: Math.round((performance.now() - started) / 100) / 10 };
}

/**
 * Latency of the admin list pages on a database seeded by bench/seed-accounts.ts: each request sent
 * sequentially (one at a time, nothing else running), timed from just before `fetch` until its body is read,
 * after a few unmeasured warm-up requests. Measurements only: nothing here passes or fails on a timing.
 */
import { encodeCursor } from '../src/accounts/cursor';
import { othersCpuPercent, type CpuSnapshot } from './cpu-contention';
import { seededAccountId, seededCreatedAt, seededName, TEAMS } from './seed-plan';

export interface AdminQueryResult {
  id: string;
  request: string;
  /** What the seeded data makes this request select. */
  selects: string;
  /** Part of the "admin list page" target; the extras are reported for information. */
  target: boolean;
  ok: boolean;
  error?: string;
  samples: number;
  items?: number;
  /** The first request of all (not in the samples): planner and page caches still cold. */
  firstMs?: number;
  latencyMs?: { p50: number; p99: number; max: number; mean: number };
  /** CPU used by other processes of the machine during the measured requests, in % of one CPU. */
  othersCpuPercent?: number;
}

export interface AdminListOptions {
  base: string;
  bearer: string;
  /** Accounts seeded, and the `base` time given to the seed. */
  count: number;
  seedBase: Date;
  requests: number;
  warmup: number;
  /** Stop measuring (the remaining requests are reported as not run) once this is true. */
  shouldStop: () => boolean;
  /** For othersCpuPercent. */
  cpuSnapshot: () => CpuSnapshot | undefined;
  log: (line: string) => void;
}

interface Check {
  items?: number;
  firstId?: string;
}

interface Spec {
  id: string;
  /** Shown in the report. */
  request: string;
  /** What is fetched and timed. */
  path: string;
  selects: string;
  target: boolean;
  check: Check;
  /** Before each timed request, untimed (e.g. a change that invalidates a cached document). */
  before?: () => Promise<void>;
  /** The items of the answer (default: `items` of a JSON list page). */
  countItems?: (body: unknown) => number | undefined;
}

/** Nearest-rank percentile: with 30 samples, p99 is the largest one. */
export function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export async function measureAdminLists(options: AdminListOptions): Promise<AdminQueryResult[]> {
  const { base, bearer, count, seedBase } = options;
  const headers = { authorization: `Bearer ${bearer}` };
  const pct = (n: number) => `${((n / count) * 100).toFixed(1)}%`;

  // The cursor the API returns after account `middle`: every account newer than it is skipped.
  const middle = Math.max(2, Math.floor(count / 2));
  const deepCursor = encodeCursor(seededCreatedAt(seedBase, count, middle), seededAccountId(middle));
  const team = TEAMS[6]!;
  const oldestName = seededName(1);
  const teamShare = Math.floor(count / TEAMS.length);
  /** Items on a page of 50 when `matching` rows match (the seeded ones; at least as many exist). */
  const page = (matching: number) => Math.min(50, matching);

  let patches = 0;
  const specs: Spec[] = [
    {
      id: 'accounts first page',
      request: 'GET /admin/v1/service-accounts?limit=50',
      path: '/admin/v1/service-accounts?limit=50',
      selects: `the 50 newest of ${count.toLocaleString('en-US')}`,
      target: true,
      check: { items: page(count + 1) }, // the seeded accounts and the bootstrap admin
    },
    {
      id: 'accounts deep page (cursor)',
      request: 'GET /admin/v1/service-accounts?limit=50&cursor=…',
      path: `/admin/v1/service-accounts?limit=50&cursor=${encodeURIComponent(deepCursor)}`,
      selects: `50 accounts after a cursor with ${(count - middle).toLocaleString('en-US')} newer accounts before it`,
      target: true,
      check: { items: page(middle - 1), firstId: seededAccountId(middle - 1) },
    },
    {
      id: 'accounts q= (5% match)',
      request: `GET /admin/v1/service-accounts?limit=50&q=${team}`,
      path: `/admin/v1/service-accounts?limit=50&q=${encodeURIComponent(team)}`,
      selects: `name or description contains "${team}": ~${teamShare.toLocaleString('en-US')} accounts (5%)`,
      target: true,
      check: { items: page(teamShare) },
    },
    {
      id: 'accounts q= (1 match, oldest)',
      request: `GET /admin/v1/service-accounts?limit=50&q=${oldestName}`,
      path: `/admin/v1/service-accounts?limit=50&q=${encodeURIComponent(oldestName)}`,
      selects: 'one account, the oldest: nothing stops a scan before the end',
      target: true,
      check: { items: 1, firstId: seededAccountId(1) },
    },
    {
      id: 'accounts status=disabled',
      request: 'GET /admin/v1/service-accounts?limit=50&status=disabled',
      path: '/admin/v1/service-accounts?limit=50&status=disabled',
      selects: `every 50th account: ${pct(Math.floor(count / 50))}`,
      target: true,
      check: { items: page(Math.floor(count / 50)) },
    },
    {
      id: 'accounts expiration=expiring_soon',
      request: 'GET /admin/v1/service-accounts?limit=50&expiration=expiring_soon',
      path: '/admin/v1/service-accounts?limit=50&expiration=expiring_soon',
      selects: 'accounts with a secret expiring within 30 days: ~3.9%',
      target: true,
      check: {},
    },
    {
      id: 'secrets expiration=expiring_soon',
      request: 'GET /admin/v1/secrets?limit=50&expiration=expiring_soon',
      path: '/admin/v1/secrets?limit=50&expiration=expiring_soon',
      selects: 'secrets of every account expiring within 30 days, soonest first: ~3.9%',
      target: true,
      check: {},
    },
    {
      id: 'discovery rebuild after a change',
      request: 'GET /.well-known/oauth-authorization-server, each after a PATCH of one account (untimed)',
      path: '/.well-known/oauth-authorization-server',
      selects: 'scopes_supported: rebuilt after any account change from scope_usage (one row per scope held)',
      target: false,
      check: {},
      before: async () => {
        const res = await fetch(`${base}/admin/v1/service-accounts/${seededAccountId(1)}`, {
          method: 'PATCH',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ description: `touched by the bench ${++patches}` }),
          signal: AbortSignal.timeout(30_000),
        });
        await res.text();
        if (res.status !== 200) throw new Error(`PATCH answered ${res.status}`);
      },
      countItems: (body) => (Array.isArray((body as { scopes_supported?: unknown[] })?.scopes_supported) ? 1 : undefined),
    },
  ];

  const results: AdminQueryResult[] = [];
  for (const spec of specs) {
    const result: AdminQueryResult = {
      id: spec.id,
      request: spec.request,
      selects: spec.selects,
      target: spec.target,
      ok: false,
      samples: 0,
    };
    results.push(result);
    if (options.shouldStop()) {
      result.error = 'not run: time is up';
      continue;
    }
    const url = `${base}${spec.path}`;
    try {
      const timings: number[] = [];
      let cpuBefore: CpuSnapshot | undefined;
      for (let n = 0; n < options.warmup + options.requests && !options.shouldStop(); n++) {
        if (n === options.warmup) cpuBefore = options.cpuSnapshot();
        if (spec.before) await spec.before();
        const started = performance.now();
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
        const text = await res.text();
        const ms = performance.now() - started;
        if (res.status !== 200) throw new Error(`answered ${res.status}: ${text.slice(0, 200)}`);
        if (n === 0) {
          result.firstMs = round(ms);
          const body = JSON.parse(text) as { items?: Array<{ id?: string }> };
          result.items = spec.countItems ? spec.countItems(body) : body.items?.length;
          if (spec.check.items !== undefined && result.items !== spec.check.items) {
            throw new Error(`expected ${spec.check.items} items, got ${result.items}`);
          }
          if (spec.check.firstId !== undefined && body.items?.[0]?.id !== spec.check.firstId) {
            throw new Error(`expected ${spec.check.firstId} first, got ${body.items?.[0]?.id}`);
          }
        }
        if (n >= options.warmup) timings.push(ms);
      }
      const others = othersCpuPercent(cpuBefore, options.cpuSnapshot());
      if (others !== undefined) result.othersCpuPercent = Math.round(others);
      result.samples = timings.length;
      if (timings.length === 0) throw new Error('not run: time is up');
      const sorted = [...timings].sort((a, b) => a - b);
      result.latencyMs = {
        p50: round(percentile(sorted, 50)),
        p99: round(percentile(sorted, 99)),
        max: round(sorted[sorted.length - 1]!),
        mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
      };
      result.ok = true;
      options.log(
        `  ${spec.id}: p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms (${timings.length} requests, ` +
          `first ${result.firstMs} ms), other processes ${result.othersCpuPercent ?? '?'}% CPU`,
      );
    } catch (error) {
      result.error = error instanceof Error ? error.message : String(error);
      options.log(`  ${spec.id} FAILED: ${result.error}`);
    }
  }
  return results;
}

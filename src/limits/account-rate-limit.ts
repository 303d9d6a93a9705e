import type { Database } from '../db/connect';
import { Counter, type CounterStore } from './counters';
import { QuotaLeases } from './quota-lease';

const WINDOW_MS = 60_000;

export interface RateLimitState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window ends and the count starts again. */
  resetSeconds: number;
}

/**
 * Token requests per account per minute, in fixed windows aligned to the minute of the service clock. The
 * window is part of the key, so the count restarts exactly when the clock enters the next minute, and every
 * instance on the database agrees on it.
 *
 * In memory (PGlite, or RATE_LIMIT_STORE=memory) each request is one in-process count: exact.
 *
 * In the database, a counter write per request would be the only I/O of a warm token request, so each
 * instance leases quota instead (QuotaLeases): it reserves a block of points from the account's shared
 * counter in one write and hands them out from memory. The first reservation of a minute is 1 point, each
 * further one doubles, capped at 128 and at 1/16 of what is left under the limit (never below 1), or is
 * as large as the requests already waiting for it. What this guarantees, while the database answers:
 * - never more than the limit's tokens per account per minute, across all instances: each token takes its
 *   own position in the shared counter, at or below the limit in force for its request (so a limit lowered
 *   mid-minute is exceeded only by tokens issued before the change);
 * - one instance alone is exact: the limit's tokens, then 429;
 * - with several, a request may be refused while fewer than `limit` tokens were issued only by the points
 *   other instances still hold unused: each holds at most max(1, min(128, floor(remaining / 16))) beyond its
 *   waiting requests, `remaining` being what was left under the limit when it reserved. Near the limit
 *   blocks are 1 point: every request is counted exactly.
 * RateLimit-Remaining is this instance's view: the limit less what was spent when it last reserved and what
 * it handed out since. While the database is unreachable or slow, the Counter's in-memory insurance counter
 * answers reservations instead (per instance), as it answered single requests before.
 */
export class AccountRateLimiter {
  private readonly counter: Counter;
  /** Only for the database store: in memory a count costs no I/O and stays exact per request. */
  private readonly leases: QuotaLeases | undefined;

  constructor(
    store: CounterStore,
    db: Database,
    private readonly clock: () => Date,
  ) {
    // Each account has its own limit, so the library's own ceiling is out of reach; we compare below.
    this.counter = new Counter(store, db, {
      keyPrefix: 'account',
      points: 2_000_000_000,
      durationSeconds: (2 * WINDOW_MS) / 1000,
    });
    if (store === 'database') {
      this.leases = new QuotaLeases(async (key, points) => (await this.counter.consume(key, points)).consumed);
    }
  }

  async consume(accountId: string, limit: number): Promise<RateLimitState> {
    const now = this.clock().getTime();
    const window = Math.floor(now / WINDOW_MS);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    const key = `${accountId}:${window}`;
    if (this.leases) {
      const { granted, used } = await this.leases.take(key, limit, window);
      return { allowed: granted, limit, remaining: Math.max(limit - used, 0), resetSeconds };
    }
    const { consumed } = await this.counter.consume(key);
    return { allowed: consumed <= limit, limit, remaining: Math.max(limit - consumed, 0), resetSeconds };
  }
}

/** The IETF RateLimit header fields (draft-ietf-httpapi-ratelimit-headers), plus Retry-After when refused. */
export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(state.limit),
    'RateLimit-Remaining': String(state.remaining),
    'RateLimit-Reset': String(state.resetSeconds),
  };
  if (!state.allowed) headers['Retry-After'] = String(state.resetSeconds);
  return headers;
}

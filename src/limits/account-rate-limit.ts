import type { Database } from '../db/connect';
import { Counter, type CounterStore } from './counters';

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
 */
export class AccountRateLimiter {
  private readonly counter: Counter;

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
  }

  async consume(accountId: string, limit: number): Promise<RateLimitState> {
    const now = this.clock().getTime();
    const window = Math.floor(now / WINDOW_MS);
    const resetSeconds = Math.max(1, Math.ceil(((window + 1) * WINDOW_MS - now) / 1000));
    const { consumed } = await this.counter.consume(`${accountId}:${window}`);
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

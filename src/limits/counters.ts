import {
  RateLimiterDrizzle,
  RateLimiterMemory,
  RateLimiterRes,
  RLWrapperTimeouts,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { lt } from 'drizzle-orm';
import type { Database } from '../db/connect';
import { rateLimits } from '../db/schema';

export type CounterStore = 'memory' | 'database';

/** How long a database counter may take before the memory counter answers instead. */
const DATABASE_TIMEOUT_MS = 1000;

export interface CounterOptions {
  keyPrefix: string;
  points: number;
  durationSeconds: number;
  blockSeconds?: number;
}

/** What a consume told us: how many points the key holds now, and when its window (or block) ends. */
export interface CounterState {
  consumed: number;
  msBeforeNext: number;
  overLimit: boolean;
}

/**
 * A rate-limiter-flexible counter, in process memory or in the `rate_limits` table (its Drizzle store,
 * shared by every instance on the database). A database counter falls back to memory while the database is
 * unreachable or slower than DATABASE_TIMEOUT_MS (the library's insurance limiter), so an outage neither
 * opens nor closes the gate entirely, nor holds token requests up.
 */
export class Counter {
  private readonly limiter: RateLimiterAbstract;

  constructor(store: CounterStore, db: Database, options: CounterOptions) {
    const common = {
      keyPrefix: options.keyPrefix,
      points: options.points,
      duration: options.durationSeconds,
      blockDuration: options.blockSeconds ?? 0,
    };
    if (store === 'memory') {
      this.limiter = new RateLimiterMemory(common);
    } else {
      const insuranceLimiter = new RateLimiterMemory(common);
      // A database that does not answer (a partition, a frozen host) fails no query for `connect_timeout`,
      // or at all: after DATABASE_TIMEOUT_MS the memory counter answers instead, as on an error.
      this.limiter = new RLWrapperTimeouts({
        ...common,
        timeoutMs: DATABASE_TIMEOUT_MS,
        insuranceLimiter,
        limiter: new RateLimiterDrizzle({
          ...common,
          storeClient: db,
          schema: rateLimits,
          clearExpiredByTimeout: false,
          insuranceLimiter,
        }),
      });
    }
  }

  async consume(key: string, points = 1): Promise<CounterState> {
    try {
      const res = await this.limiter.consume(key, points);
      return { consumed: res.consumedPoints, msBeforeNext: res.msBeforeNext, overLimit: false };
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) {
        return { consumed: rejection.consumedPoints, msBeforeNext: rejection.msBeforeNext, overLimit: true };
      }
      throw rejection;
    }
  }

  async reset(key: string): Promise<void> {
    await this.limiter.delete(key);
  }
}

/** Removes database counters that expired more than a minute ago; the library's own timer is off. */
export async function purgeExpiredCounters(db: Database, now: Date): Promise<void> {
  await db.delete(rateLimits).where(lt(rateLimits.expire, new Date(now.getTime() - 60_000)));
}

import type { Database } from '../db/connect';
import { Counter, type CounterStore } from './counters';

export interface BruteForceSettings {
  /** Failed client authentications allowed per client_id and source address within the window. */
  maxFailures: number;
  /** Failed client authentications allowed per source address, whatever the client_id. */
  maxFailuresPerIp: number;
  windowSeconds: number;
  blockSeconds: number;
}

const MAX_TRACKED_BLOCKS = 100_000;

/**
 * Counts failed client authentications per (client_id, source address) and per source address, and blocks a
 * source that passes either threshold. The block is keyed by the source, never by the client alone, so an
 * attacker elsewhere cannot lock a legitimate client out.
 *
 * The check runs before any argon2 work and costs no I/O: each process keeps the blocks it has learnt from
 * its own failure counts. With the counters in the database, a second instance learns of a block from its
 * first failed attempt from that source, so each instance spends at most one argon2 verify on a blocked one.
 */
export class BruteForceGuard {
  private readonly perClient: Counter;
  private readonly perIp: Counter;
  private readonly blockedUntil = new Map<string, number>();
  /** Sources with failures seen by this process: only those need a reset on success (no I/O otherwise). */
  private readonly failedRecently = new Set<string>();

  constructor(
    store: CounterStore,
    db: Database,
    private readonly clock: () => Date,
    private readonly settings: BruteForceSettings,
  ) {
    const common = { durationSeconds: settings.windowSeconds, blockSeconds: settings.blockSeconds };
    // The library rejects (and blocks on) the consume that goes past `points`. The failure that reaches the
    // maximum must itself start the block, so that the attempt after it is refused: hence maximum - 1.
    this.perClient = new Counter(store, db, { ...common, keyPrefix: 'authfail-client', points: settings.maxFailures - 1 });
    this.perIp = new Counter(store, db, { ...common, keyPrefix: 'authfail-ip', points: settings.maxFailuresPerIp - 1 });
  }

  /** Seconds the source must wait, or 0 when it may try. */
  blockedFor(clientId: string, ip: string | undefined): number {
    const now = this.clock().getTime();
    const until = Math.max(
      this.blockedUntil.get(clientKey(clientId, ip)) ?? 0,
      this.blockedUntil.get(ipKey(ip)) ?? 0,
    );
    return until > now ? Math.ceil((until - now) / 1000) : 0;
  }

  async recordFailure(clientId: string, ip: string | undefined): Promise<void> {
    if (this.failedRecently.size >= MAX_TRACKED_BLOCKS) this.failedRecently.clear();
    this.failedRecently.add(clientKey(clientId, ip));
    const [client, source] = await Promise.all([
      this.perClient.consume(clientKey(clientId, ip)),
      this.perIp.consume(ipKey(ip)),
    ]);
    if (client.overLimit) this.block(clientKey(clientId, ip), client.msBeforeNext);
    if (source.overLimit) this.block(ipKey(ip), source.msBeforeNext);
  }

  /** A successful authentication clears the client's failures from that source. */
  async recordSuccess(clientId: string, ip: string | undefined): Promise<void> {
    const key = clientKey(clientId, ip);
    if (!this.failedRecently.has(key)) return;
    this.failedRecently.delete(key);
    await this.perClient.reset(key);
  }

  private block(key: string, msBeforeNext: number): void {
    const ms = msBeforeNext > 0 ? msBeforeNext : this.settings.blockSeconds * 1000;
    if (this.blockedUntil.size >= MAX_TRACKED_BLOCKS) this.prune();
    this.blockedUntil.set(key, this.clock().getTime() + ms);
  }

  private prune(): void {
    const now = this.clock().getTime();
    for (const [key, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(key);
    // Still full of live blocks: forget the oldest; their counters still hold them in the store.
    for (const key of this.blockedUntil.keys()) {
      if (this.blockedUntil.size < MAX_TRACKED_BLOCKS) break;
      this.blockedUntil.delete(key);
    }
  }
}

const clientKey = (clientId: string, ip: string | undefined) => `${ip ?? 'unknown'}|${clientId}`;
const ipKey = (ip: string | undefined) => ip ?? 'unknown';

/**
 * Adds `points` to the shared counter of `key` in one atomic write and resolves to the counter's total after
 * adding them (every instance's reservations of this key so far, ours included).
 */
export type Reserve = (key: string, points: number) => Promise<number>;

export interface LeaseTake {
  /** Whether the request got a point, i.e. may proceed. */
  granted: boolean;
  /**
   * Points of the key known to be spent, by any instance: the counter's total at our last reservation (less
   * the part of it beyond the limit, which nobody can use), minus the points we still hold.
   */
  used: number;
}

/** The most a reservation asks for on speculation: what one instance may hold that others cannot use. */
export const MAX_BLOCK = 128;
/** A reservation takes at most this share of what is left under the limit, so near it blocks shrink to 1. */
const SHARE_OF_REMAINING = 16;
/** Keys tracked at once; a dropped lease only loses the points it held (fewer tokens, never more). */
const MAX_KEYS = 100_000;

interface Lease {
  /** Points reserved in the counter and not yet handed out. */
  held: number;
  /**
   * The counter's total after our last reservation, less that reservation's part beyond the limit then in
   * force. `seen - held` is what everyone had spent when we last looked, plus what we handed out since.
   */
  seen: number;
  /** Size of our last reservation; 0 before the first of the window. */
  block: number;
  /** Requests of this key in `take` that do not hold a point yet: the demand the next reservation serves. */
  waiting: number;
  /** The one reservation in flight, which every request finding no point waits for. */
  reservation: Promise<void> | undefined;
}

/**
 * Hands out points of shared counters from memory, reserving them from the counter in blocks: a key that
 * sees traffic costs one counter write per block instead of one per request, and a key near its limit (or
 * seeing little traffic) is counted exactly, one write per request.
 *
 * Per key, at most one reservation is in flight: requests finding no point wait for it and take from what
 * it brought; those left without one start the next. A reservation asks for the larger of
 * - the speculative block: 1 for the first of the window, then double the previous one, capped at
 *   MAX_BLOCK and at 1/16 of what is left under the limit, never below 1; and
 * - the requests already waiting for it (capped at MAX_BLOCK), which take those points the moment it lands,
 * so what an instance holds beyond its waiting requests never exceeds the speculative block.
 *
 * Every point handed out is its own position in the shared counter, at or below the limit passed with the
 * request that takes it (a held point is checked again, for a limit lowered since it was reserved): all
 * instances together never hand out more than the limit. Points an instance still holds are the only way
 * another can be refused early.
 */
export class QuotaLeases {
  private readonly leases = new Map<string, Lease>();
  private window = Number.NEGATIVE_INFINITY;

  constructor(private readonly reserve: Reserve) {}

  /**
   * One point of `key` under `limit`, in the counting `window` (a number that grows with time; the key must
   * carry it too, since leases of earlier windows are dropped the moment a later one is seen).
   */
  async take(key: string, limit: number, window: number): Promise<LeaseTake> {
    const lease = this.leaseOf(key, window);
    lease.waiting += 1;
    try {
      for (;;) {
        if (lease.held > 0) {
          // The limit may have been lowered since we reserved: hand out a held point only if it keeps us
          // within the new limit as far as we know, so a lower limit is exceeded by at most what we held.
          if (lease.seen - lease.held + 1 > limit) return { granted: false, used: lease.seen - lease.held };
          lease.held -= 1;
          return { granted: true, used: lease.seen - lease.held };
        }
        // The counter only grows within a window: once it reached the limit, no reservation can bring a
        // point, and refusals cost no write.
        if (lease.seen >= limit) return { granted: false, used: lease.seen };
        lease.reservation ??= this.startReservation(key, lease, limit);
        // A reservation that fails rejects every request waiting for it: none is left hanging.
        await lease.reservation;
        // The lease may have been dropped meanwhile (a new window, the cap): what it holds still serves
        // the requests that reached it, and later requests start a new one.
      }
    } finally {
      lease.waiting -= 1;
    }
  }

  private leaseOf(key: string, window: number): Lease {
    if (window > this.window) {
      // Every lease held is of an earlier window, whose points are worthless now.
      this.leases.clear();
      this.window = window;
    }
    let lease = this.leases.get(key);
    if (lease === undefined) {
      if (this.leases.size >= MAX_KEYS) this.leases.delete(this.leases.keys().next().value!);
      lease = { held: 0, seen: 0, block: 0, waiting: 0, reservation: undefined };
      this.leases.set(key, lease);
    }
    return lease;
  }

  private startReservation(key: string, lease: Lease, limit: number): Promise<void> {
    const reservation = this.reserveBlock(key, lease, limit).finally(() => {
      if (lease.reservation === reservation) lease.reservation = undefined;
    });
    return reservation;
  }

  private async reserveBlock(key: string, lease: Lease, limit: number): Promise<void> {
    const block = blockSize(lease, limit);
    const total = await this.reserve(key, block);
    // Positions above the limit are nobody's: the counter may end above it by that much, which only says
    // the limit is reached.
    const usable = Math.max(0, block - Math.max(0, total - limit));
    lease.held += usable;
    lease.seen = total - (block - usable);
    lease.block = block;
  }
}

/** See the class comment: speculation that grows with use and shrinks near the limit, or the demand waiting. */
function blockSize(lease: Lease, limit: number): number {
  const speculative =
    lease.block === 0
      ? 1
      : Math.max(1, Math.min(2 * lease.block, MAX_BLOCK, Math.floor((limit - lease.seen) / SHARE_OF_REMAINING)));
  return Math.max(speculative, Math.min(lease.waiting, MAX_BLOCK));
}

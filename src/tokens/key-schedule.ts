/**
 * A signing key's state, derived from the timestamps in its file and the clock alone, so every instance
 * reading the same folder agrees without talking to the others:
 *
 * - `next`: published in the JWKS, not yet signing (before `activates_at`);
 * - `active`: the newest key of its algorithm whose `activates_at` has passed, and not retired;
 * - `retired`: since `retired_at` (`keys retire`) or since a newer key of its algorithm became active,
 *   whichever came first. A retired key stays published until every token it can have signed has
 *   expired (the moment it stopped signing + MAX_TOKEN_TTL_SECONDS + a margin for clock skew); a key retired
 *   before it ever signed leaves at once.
 *
 * A retired key never comes back: retiring the newest key of an algorithm leaves that algorithm without an
 * active key, it does not revive the one before.
 */

/** Allowance for clocks that disagree a little (instances, resource APIs). */
export const CLOCK_MARGIN_SECONDS = 60;

export type KeyState = 'next' | 'active' | 'retired';

/** The moments that decide a key's state, in milliseconds since the epoch. */
export interface KeyTimes {
  kid: string;
  alg: string;
  createdAt: number;
  activatesAt: number;
  /** Set by `keys retire`; undefined until then. */
  retiredAt?: number | undefined;
  /**
   * Written before rotation existed (no `activates_at`). Back then an instance signed with the oldest key of
   * its algorithm, and any of them may have signed: such keys never retire one another (a rotated key does).
   */
  legacy?: boolean | undefined;
}

export interface KeyStatus<K extends KeyTimes = KeyTimes> {
  key: K;
  state: KeyState;
  /** When the key stops (or stopped) being able to sign; undefined while nothing ends it. */
  endsAt: number | undefined;
  /** Until when it is in the JWKS; undefined: until something retires it. */
  publishedUntil: number | undefined;
  published: boolean;
}

export interface ScheduleSettings {
  /** MAX_TOKEN_TTL_SECONDS: no token lives longer, so a retired key need not be published longer. */
  maxTokenTtlSeconds: number;
}

/** Activation order: by activates_at, then created_at, then kid. The last is the newest. */
export function compareActivation(a: KeyTimes, b: KeyTimes): number {
  return a.activatesAt - b.activatesAt || a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0);
}

/** A key retired at or before its activation never signed anything. */
const everActivates = (k: KeyTimes) => k.retiredAt === undefined || k.retiredAt > k.activatesAt;

/** When a newer key of the same algorithm takes over from `key`, if one ever does. */
function supersededAt(key: KeyTimes, keys: readonly KeyTimes[]): number | undefined {
  let at: number | undefined;
  for (const other of keys) {
    if (other === key || other.alg !== key.alg || !everActivates(other) || (key.legacy && other.legacy)) continue;
    if (compareActivation(other, key) <= 0) continue;
    if (at === undefined || other.activatesAt < at) at = other.activatesAt;
  }
  return at;
}

const earliest = (a: number | undefined, b: number | undefined) =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);

/** Every key's state at `now`. */
export function keyStatuses<K extends KeyTimes>(
  keys: readonly K[],
  now: number,
  settings: ScheduleSettings,
): KeyStatus<K>[] {
  const lingerMs = (settings.maxTokenTtlSeconds + CLOCK_MARGIN_SECONDS) * 1000;
  return keys.map((key) => {
    const endsAt = earliest(key.retiredAt, supersededAt(key, keys));
    const signedSomething = everActivates(key) && (endsAt === undefined || endsAt > key.activatesAt);
    const publishedUntil = endsAt === undefined ? undefined : signedSomething ? endsAt + lingerMs : endsAt;
    const state: KeyState =
      endsAt !== undefined && now >= endsAt ? 'retired' : now < key.activatesAt ? 'next' : 'active';
    return { key, state, endsAt, publishedUntil, published: publishedUntil === undefined || now < publishedUntil };
  });
}

/**
 * The key an instance signs with: the active key of its algorithm; failing that (its algorithm's first key
 * is still `next`, or was retired), the newest active key of any algorithm; failing that, none.
 */
export function signingStatus<K extends KeyTimes>(
  statuses: readonly KeyStatus<K>[],
  alg: string,
): KeyStatus<K> | undefined {
  const active = statuses.filter((s) => s.state === 'active').sort((a, b) => signingPreference(a.key, b.key));
  return active.find((s) => s.key.alg === alg) ?? active[0];
}

/** The newest key first; legacy keys after the others, oldest first (as they were chosen before). */
function signingPreference(a: KeyTimes, b: KeyTimes): number {
  if (Boolean(a.legacy) !== Boolean(b.legacy)) return a.legacy ? 1 : -1;
  return a.legacy ? compareActivation(a, b) : compareActivation(b, a);
}

/** The first moment after `now` at which some key's state or publication changes; Infinity if none will. */
export function nextChangeAfter(statuses: readonly KeyStatus[], now: number): number {
  let next = Infinity;
  for (const s of statuses) {
    for (const at of [s.key.activatesAt, s.endsAt, s.publishedUntil]) {
      if (at !== undefined && at > now && at < next) next = at;
    }
  }
  return next;
}

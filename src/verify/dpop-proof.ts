import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { PRIVATE_MEMBERS } from '../tokens/public-jwk';
import { TokenVerificationError } from './errors';

/** Asymmetric algorithms a DPoP proof may use (RFC 9449 §4.2: never `none` or a MAC). */
export const DPOP_PROOF_ALGS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;

const MAX_PROOF_LENGTH = 8192;
const MAX_JTI_LENGTH = 200;

/**
 * Remembers proof `jti`s so a proof is accepted once. `firstUse` is true the first time `key` is seen before
 * `expiresAt`. The default is {@link MemoryReplayCache}; several instances of a resource API that must refuse
 * a replay across instances pass a shared store (e.g. Redis `SET key 1 NX PXAT expiresAt`).
 */
export interface DpopReplayStore {
  firstUse(key: string, expiresAt: Date, now: Date): boolean | Promise<boolean>;
}

/**
 * An in-memory, bounded set of seen proofs, per verifier and per process. Entries leave when their proof could
 * no longer be accepted anyway (iat out of the window); beyond `maxEntries` the oldest leave first, so under a
 * flood a very old proof could be replayed once more within its window: size it above proofs/second × window.
 */
export class MemoryReplayCache implements DpopReplayStore {
  private readonly seen = new Map<string, number>();
  constructor(private readonly maxEntries = 100_000) {}

  firstUse(key: string, expiresAt: Date, now: Date): boolean {
    const nowMs = now.getTime();
    const known = this.seen.get(key);
    if (known !== undefined && known > nowMs) return false;
    this.seen.delete(key);
    // Insertion order is roughly expiry order: drop expired entries from the front, then the oldest if full.
    for (const [k, exp] of this.seen) {
      if (exp > nowMs && this.seen.size < this.maxEntries) break;
      this.seen.delete(k);
    }
    this.seen.set(key, expiresAt.getTime());
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface DpopCheck {
  /** The DPoP header value: exactly one proof. */
  proof: string | undefined;
  /** The access token the proof must name in `ath` (at a resource; absent at the token endpoint). */
  accessToken?: string | undefined;
  /** The thumbprint the token is bound to (`cnf.jkt`; absent at the token endpoint, which binds to the proof's key). */
  jkt?: string | undefined;
  /** The request's method and absolute URL (RFC 9449 §4.3: htm, htu compared without query and fragment). */
  method: string;
  url: string;
  now: Date;
  algorithms: readonly string[];
  /** How old a proof's `iat` may be, and how far ahead of our clock, in seconds. */
  maxAgeSeconds: number;
  maxSkewSeconds: number;
  replay: DpopReplayStore;
}

const invalid = (message: string) => new TokenVerificationError('dpop_invalid', message, { scheme: 'DPoP' });

/** base64url(SHA-256(ASCII(token))): the `ath` of a proof presented with `token` (RFC 9449 §4.2). */
export const accessTokenHash = (token: string) => createHash('sha256').update(token, 'ascii').digest('base64url');

/**
 * Checks a DPoP proof (RFC 9449 §4.3): typ dpop+jwt, an allowed asymmetric alg, a public `jwk`, a valid
 * signature, `htm` and `htu` of this request, a fresh `iat`, and a `jti` not seen before; at a resource
 * (§7.1) also a key whose thumbprint is the token's `cnf.jkt` and the `ath` of this token. Returns the key's
 * RFC 7638 thumbprint (what the token endpoint binds a token to). Throws TokenVerificationError `dpop_invalid`
 * for anything wrong. The one proof checker of this codebase: token endpoint, admin API and the helper.
 */
export async function verifyDpopProof(check: DpopCheck): Promise<string> {
  const { proof } = check;
  if (proof === undefined || proof === '') throw invalid('a DPoP proof is required');
  // Several DPoP headers arrive joined by commas; a JWT has none.
  if (proof.includes(',') || proof.length > MAX_PROOF_LENGTH) throw invalid('send exactly one DPoP proof');

  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalid('the DPoP proof is not a JWT');
  }
  const { typ, alg, jwk } = header;
  if (typ !== 'dpop+jwt') throw invalid('the DPoP proof must have typ dpop+jwt');
  if (typeof alg !== 'string' || !check.algorithms.includes(alg)) {
    throw invalid(`the DPoP proof must be signed with one of ${check.algorithms.join(', ')}`);
  }
  if (!jwk || typeof jwk !== 'object' || PRIVATE_MEMBERS.some((m) => m in jwk)) {
    throw invalid('the DPoP proof must carry a public jwk');
  }

  let jkt: string;
  let payload: Record<string, unknown>;
  try {
    jkt = await calculateJwkThumbprint(jwk as JWK);
    const key = await importJWK(jwk as JWK, alg);
    ({ payload } = await jwtVerify(proof, key, { typ: 'dpop+jwt', algorithms: [alg], currentDate: check.now }));
  } catch {
    throw invalid('the DPoP proof signature or claims are invalid');
  }
  if (check.jkt !== undefined && jkt !== check.jkt) {
    throw invalid('the DPoP proof is signed by another key than the one the token is bound to');
  }

  const { jti, htm, htu, iat, ath } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw invalid('the DPoP proof needs a jti');
  if (htm !== check.method) throw invalid('the DPoP proof is for another HTTP method');
  if (typeof htu !== 'string' || normalizedUrl(htu) !== normalizedUrl(check.url)) throw invalid('the DPoP proof is for another URL');
  if (check.accessToken !== undefined && (typeof ath !== 'string' || ath !== accessTokenHash(check.accessToken))) {
    throw invalid('the DPoP proof is for another access token (ath)');
  }
  const now = Math.floor(check.now.getTime() / 1000);
  if (typeof iat !== 'number' || iat < now - check.maxAgeSeconds || iat > now + check.maxSkewSeconds) {
    throw invalid('the DPoP proof is too old or from the future');
  }
  // Remembered until the proof would be refused for its iat anyway; checked last, so a bad proof uses no slot.
  const expiresAt = new Date((iat + check.maxAgeSeconds + check.maxSkewSeconds + 1) * 1000);
  if (!(await check.replay.firstUse(`${jkt}:${jti}`, expiresAt, check.now))) throw invalid('the DPoP proof was used before');
  return jkt;
}

/** RFC 9449 §4.3: compared without query and fragment, after URI normalisation. */
function normalizedUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    url.search = '';
    url.hash = '';
    return url.href;
  } catch {
    return undefined;
  }
}

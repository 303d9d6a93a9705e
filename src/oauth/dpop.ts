import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { PRIVATE_MEMBERS } from '../tokens/public-jwk';
import { InvalidDpopProof } from './errors';
import type { JtiReplayGuard } from './jti-replay';

/** Asymmetric algorithms a DPoP proof may use (RFC 9449 §4.2: never `none` or a MAC). */
export const DPOP_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

/** How old a proof's `iat` may be, and how far ahead of our clock. */
const MAX_AGE_SECONDS = 300;
const MAX_SKEW_SECONDS = 60;
const MAX_JTI_LENGTH = 200;
const MAX_PROOF_LENGTH = 8192;

export interface DpopRequest {
  /** The HTTP method and URL the proof must name (RFC 9449 §4.3: htm, htu without query and fragment). */
  method: string;
  url: string;
  now: Date;
}

/**
 * Checks a DPoP proof (RFC 9449 §4.3) and returns the RFC 7638 thumbprint of its key, the `jkt` a token is
 * bound to. Throws InvalidDpopProof for anything wrong, including a replayed `jti` (any instance).
 */
export async function verifyDpopProof(header: string | undefined, request: DpopRequest, replay: JtiReplayGuard): Promise<string> {
  if (header === undefined) throw new InvalidDpopProof('a DPoP proof is required');
  // Several DPoP headers arrive joined by commas; a JWT has none.
  if (header.includes(',') || header.length > MAX_PROOF_LENGTH) throw new InvalidDpopProof('send exactly one DPoP proof');
  let protectedHeader: ReturnType<typeof decodeProtectedHeader>;
  try {
    protectedHeader = decodeProtectedHeader(header);
  } catch {
    throw new InvalidDpopProof('the DPoP proof is not a JWT');
  }
  const { typ, alg, jwk } = protectedHeader;
  if (typ !== 'dpop+jwt') throw new InvalidDpopProof('the DPoP proof must have typ dpop+jwt');
  if (!(DPOP_ALGS as readonly unknown[]).includes(alg)) throw new InvalidDpopProof(`the DPoP proof must be signed with one of ${DPOP_ALGS.join(', ')}`);
  if (!jwk || typeof jwk !== 'object' || PRIVATE_MEMBERS.some((m) => m in jwk)) {
    throw new InvalidDpopProof('the DPoP proof must carry a public jwk');
  }

  let payload;
  try {
    const key = await importJWK(jwk as JWK, alg);
    ({ payload } = await jwtVerify(header, key, { typ: 'dpop+jwt', algorithms: [alg!], currentDate: request.now }));
  } catch {
    throw new InvalidDpopProof('the DPoP proof signature or claims are invalid');
  }
  const { jti, htm, htu, iat } = payload as { jti?: unknown; htm?: unknown; htu?: unknown; iat?: unknown };
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) throw new InvalidDpopProof('the DPoP proof needs a jti');
  if (htm !== request.method) throw new InvalidDpopProof('the DPoP proof is for another HTTP method');
  if (typeof htu !== 'string' || normalizedUrl(htu) !== normalizedUrl(request.url)) {
    throw new InvalidDpopProof('the DPoP proof is for another URL');
  }
  const now = Math.floor(request.now.getTime() / 1000);
  if (typeof iat !== 'number' || iat < now - MAX_AGE_SECONDS || iat > now + MAX_SKEW_SECONDS) {
    throw new InvalidDpopProof('the DPoP proof is too old or from the future');
  }
  const jkt = await calculateJwkThumbprint(jwk as JWK);
  const expiresAt = new Date((iat + MAX_AGE_SECONDS + MAX_SKEW_SECONDS) * 1000);
  if (!(await replay.firstUse(`dpop:${jkt}`, jti, expiresAt, request.now))) {
    throw new InvalidDpopProof('the DPoP proof was used before');
  }
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

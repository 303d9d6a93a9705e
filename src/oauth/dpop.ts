import { DPOP_PROOF_ALGS, verifyDpopProof as checkProof } from '../verify/dpop-proof';
import { TokenVerificationError } from '../verify/errors';
import { InvalidDpopProof } from './errors';
import type { JtiReplayGuard } from './jti-replay';

/** Asymmetric algorithms a DPoP proof may use (RFC 9449 §4.2: never `none` or a MAC); advertised in the metadata. */
export const DPOP_ALGS = DPOP_PROOF_ALGS;

/** How old a proof's `iat` may be, and how far ahead of our clock. */
export const PROOF_MAX_AGE_SECONDS = 300;
export const PROOF_MAX_SKEW_SECONDS = 60;

export interface DpopRequest {
  /** The HTTP method and URL the proof must name (RFC 9449 §4.3: htm, htu without query and fragment). */
  method: string;
  url: string;
  now: Date;
}

/**
 * Checks the DPoP proof of a token request (RFC 9449 §4.3) and returns the RFC 7638 thumbprint of its key,
 * the `jkt` the token is bound to. Throws InvalidDpopProof for anything wrong, including a `jti` already used
 * on any instance (the database's replay guard).
 */
export async function verifyDpopProof(header: string | undefined, request: DpopRequest, replay: JtiReplayGuard): Promise<string> {
  try {
    return await checkProof({
      proof: header,
      ...request,
      algorithms: DPOP_ALGS,
      maxAgeSeconds: PROOF_MAX_AGE_SECONDS,
      maxSkewSeconds: PROOF_MAX_SKEW_SECONDS,
      replay: { firstUse: (key, expiresAt, now) => replay.firstUse('dpop', key, expiresAt, now) },
    });
  } catch (error) {
    if (error instanceof TokenVerificationError) throw new InvalidDpopProof(error.message);
    throw error;
  }
}

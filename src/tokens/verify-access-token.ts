import { jwtVerify, type JWTPayload } from 'jose';
import type { KeyStore } from './key-store';

export interface VerifiedAccessToken extends JWTPayload {
  client_id: string;
  sub: string;
  scope?: string;
  /** RFC 9449 §6.1: present when the token is DPoP-bound; `jkt` is the thumbprint of the client's key. */
  cnf?: { jkt: string };
}

/**
 * Verifies one of our own access tokens locally: signature by one of our keys, typ at+jwt, issuer, audience,
 * exp/nbf, and a well-formed `cnf` when there is one. Throws jose's typed errors (a TypeError for a claim of
 * the wrong shape) on any failure. Whether the token was presented the way its binding asks is the caller's
 * to check (see {@link boundKeyOf}).
 */
export async function verifyAccessToken(
  keys: KeyStore,
  token: string,
  expect: { issuer: string; audience: string; now: Date },
): Promise<VerifiedAccessToken> {
  const { payload } = await jwtVerify(token, keys.verificationKeys, {
    issuer: expect.issuer,
    audience: expect.audience,
    typ: 'at+jwt',
    algorithms: keys.algorithms,
    currentDate: expect.now,
    requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti'],
  });
  if (typeof payload.client_id !== 'string' || typeof payload.sub !== 'string') {
    throw new TypeError('token lacks client_id');
  }
  // We only ever issue `cnf: {jkt}`; any other confirmation is one we cannot check, so the token is refused.
  const { cnf } = payload as { cnf?: unknown };
  if (cnf !== undefined && !isJktConfirmation(cnf)) throw new TypeError('token has a cnf claim other than {jkt}');
  return payload as VerifiedAccessToken;
}

/** The thumbprint a DPoP-bound token is bound to (its `cnf.jkt`); undefined for a bearer token. */
export const boundKeyOf = (token: VerifiedAccessToken): string | undefined => token.cnf?.jkt;

export const scopesOf = (token: { scope?: unknown }): Set<string> =>
  new Set(typeof token.scope === 'string' ? token.scope.split(' ').filter(Boolean) : []);

function isJktConfirmation(cnf: unknown): cnf is { jkt: string } {
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return false;
  const members = Object.keys(cnf);
  const { jkt } = cnf as { jkt?: unknown };
  return members.length === 1 && typeof jkt === 'string' && jkt.length > 0;
}

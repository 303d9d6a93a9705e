import { jwtVerify, type JWTPayload } from 'jose';
import type { KeyStore } from './key-store';

export interface VerifiedAccessToken extends JWTPayload {
  client_id: string;
  sub: string;
  scope?: string;
}

/**
 * Verifies one of our own access tokens locally: signature by one of our keys, typ at+jwt, issuer, audience,
 * exp/nbf. Throws jose's typed errors on any failure.
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
  return payload as VerifiedAccessToken;
}

export const scopesOf = (token: { scope?: unknown }): Set<string> =>
  new Set(typeof token.scope === 'string' ? token.scope.split(' ').filter(Boolean) : []);

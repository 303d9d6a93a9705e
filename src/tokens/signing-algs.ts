import type { JWK } from 'jose';

/** Signing algorithms we can generate keys for. RS256 is the RFC 9068 default. */
export const SIGNING_ALGS = ['RS256', 'ES256', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** The one algorithm we sign with for each key type (RSA, EC P-256, Ed25519); undefined for any other key. */
export function algorithmOf(jwk: Pick<JWK, 'kty' | 'crv'>): SigningAlg | undefined {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') return 'ES256';
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

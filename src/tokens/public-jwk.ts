import type { JWK } from 'jose';

/** The members of a public JWK, per key type. Anything else (d, p, q, dp, dq, qi, oth, k…) never leaves. */
/** Members that only a private (or symmetric) JWK has. */
export const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

export const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};

/** The JWKS entry of a signing key: its public members by allowlist, with kid, alg and use=sig. */
export function publicJwk(jwk: JWK & { kid: string; alg: string }): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`unsupported key type ${jwk.kty}`);
  const source = jwk as unknown as Record<string, unknown>;
  const pub: Record<string, unknown> = {};
  for (const m of members) if (source[m] !== undefined) pub[m] = source[m];
  return { ...pub, kid: jwk.kid, alg: jwk.alg, use: 'sig' } as JWK;
}

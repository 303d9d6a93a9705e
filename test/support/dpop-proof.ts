import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** A client's DPoP key pair, its public JWK and the RFC 7638 thumbprint a token bound to it carries. */
export interface ProofKey {
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function proofKey(alg = 'ES256'): Promise<ProofKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { alg, privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** How a test forges a proof: claims changed or removed (undefined), header members changed, another signing key. */
export interface ProofChanges {
  claims?: Record<string, unknown>;
  header?: Record<string, unknown>;
  signWith?: CryptoKey;
}

/**
 * A DPoP proof (RFC 9449 §4.2): typ dpop+jwt with the key's public jwk, a fresh jti unless the claims name
 * one, then `changes` applied.
 */
export function signProof(key: ProofKey, claims: Record<string, unknown>, changes: ProofChanges = {}): Promise<string> {
  const all: Record<string, unknown> = { jti: randomUUID(), ...claims, ...changes.claims };
  for (const [name, value] of Object.entries(all)) if (value === undefined) delete all[name];
  return new SignJWT(all)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...changes.header } as { alg: string })
    .sign(changes.signWith ?? key.privateKey);
}

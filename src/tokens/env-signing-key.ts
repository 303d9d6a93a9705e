import { createHash, createPrivateKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { algorithmOf, SIGNING_ALGS, type SigningAlg } from './signing-algs';

/** A signing key given in the environment (SIGNING_KEY), for platforms without a volume for KEYS_DIR. */
export interface EnvSigningKey {
  kid: string;
  alg: SigningAlg;
  /** The private JWK, with kid and alg. */
  jwk: JWK & { kid: string; alg: SigningAlg };
}

/** RFC 7638 members, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/**
 * Parses SIGNING_KEY: a private JWK (JSON) or a PEM private key (PKCS#8; PKCS#1 and SEC1 are accepted too;
 * `\n` escapes stand for line breaks, as single-line variables carry them). The kid is `kid` when given
 * (SIGNING_KEY_ID), else the JWK's own kid, else its RFC 7638 thumbprint. Returns a message on failure that
 * never quotes the value: it is a private key.
 */
export function parseEnvSigningKey(value: string, kid?: string): EnvSigningKey | { error: string } {
  const text = value.trim();
  let keyObject: KeyObject;
  let declared: { alg?: unknown; kid?: unknown } = {};
  try {
    if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        return { error: 'is not valid JSON' };
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { error: 'is not a JWK object' };
      declared = parsed as typeof declared;
      if (!('d' in parsed)) return { error: 'holds a public key; the private key is needed' };
      keyObject = createPrivateKey({ key: parsed as JWK & { kty: string }, format: 'jwk' });
    } else if (text.includes('-----BEGIN')) {
      const pem = text.replace(/\\n/g, '\n');
      if (/-----BEGIN (RSA |EC )?PUBLIC KEY-----|-----BEGIN CERTIFICATE-----/.test(pem)) {
        return { error: 'holds a public key or certificate; the private key is needed' };
      }
      if (pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
        return { error: 'is an encrypted private key; give it unencrypted' };
      }
      keyObject = createPrivateKey({ key: pem, format: 'pem' });
    } else {
      return { error: 'is neither a private JWK (JSON) nor a PEM private key' };
    }
  } catch {
    return { error: 'is not a valid private key' };
  }
  const jwk = keyObject.export({ format: 'jwk' }) as JWK;
  const alg = algorithmOf(jwk);
  if (!alg) return { error: 'holds a key we cannot sign with: use RSA, EC P-256 or Ed25519' };
  if ((keyObject.asymmetricKeyDetails?.modulusLength ?? 2048) < 2048) {
    return { error: 'holds an RSA key shorter than 2048 bits' };
  }
  if (declared.alg !== undefined && declared.alg !== alg) {
    return {
      error: SIGNING_ALGS.includes(declared.alg as SigningAlg)
        ? `declares alg ${String(declared.alg)}, which does not fit its ${jwk.kty} key`
        : `declares an alg we do not sign with (${SIGNING_ALGS.join(', ')})`,
    };
  }
  const ownKid = typeof declared.kid === 'string' && declared.kid !== '' ? declared.kid : undefined;
  const chosenKid = kid ?? ownKid ?? thumbprint(jwk);
  return { kid: chosenKid, alg, jwk: { ...jwk, kid: chosenKid, alg, use: 'sig' } };
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url), the kid of keys we generate. */
export function thumbprint(jwk: JWK): string {
  const members = THUMBPRINT_MEMBERS[jwk.kty ?? ''] ?? [];
  const source = jwk as Record<string, unknown>;
  const canonical = JSON.stringify(Object.fromEntries(members.map((m) => [m, source[m]])));
  return createHash('sha256').update(canonical).digest('base64url');
}

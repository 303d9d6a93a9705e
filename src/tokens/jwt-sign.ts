import { KeyObject, sign, type SignKeyObjectInput } from 'node:crypto';
import type { CryptoKey } from 'jose';
import type { SigningAlg } from './signing-algs';

/** What node:crypto's sign() takes for each of our algorithms: the digest, and the key with its encoding. */
interface Signer {
  digest: string | null;
  key: KeyObject | SignKeyObjectInput;
}

const signers = new WeakMap<CryptoKey, Signer>();

function signerOf(alg: SigningAlg, privateKey: CryptoKey): Signer {
  let signer = signers.get(privateKey);
  if (!signer) {
    const key = KeyObject.from(privateKey);
    // JWS wants ECDSA signatures as r || s (RFC 7518 §3.4), not DER; Ed25519 hashes internally (no digest).
    if (alg === 'ES256') signer = { digest: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' } };
    else if (alg === 'EdDSA') signer = { digest: null, key };
    else signer = { digest: 'sha256', key };
    signers.set(privateKey, signer);
  }
  return signer;
}

const base64url = (json: object) => Buffer.from(JSON.stringify(json)).toString('base64url');

/**
 * A compact JWS (RFC 7515) over `payload`, signed by node:crypto's one-shot sign() on libuv's thread pool.
 * jose's SignJWT signs through WebCrypto, whose argument normalisation and promise jobs cost about twice
 * the CPU per token on our thread (bench: ES256 ~50 against ~100 µs); keys still come from jose (importJWK),
 * and every token verifies with jose like any other.
 */
export function signJws(
  alg: SigningAlg,
  privateKey: CryptoKey,
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<string> {
  const { digest, key } = signerOf(alg, privateKey);
  const input = `${base64url({ alg, ...header })}.${base64url(payload)}`;
  return new Promise((resolve, reject) => {
    sign(digest, Buffer.from(input), key, (error, signature) => {
      if (error) reject(error);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type CryptoKey,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import type { SigningAlg } from '../config';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  createdAt: string;
}

/** The members of a public JWK, per key type. Anything else (d, p, q, dp, dq, qi, oth, k…) never leaves. */
const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};

export function publicJwk(jwk: JWK & { kid: string; alg: string }): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`unsupported key type ${jwk.kty}`);
  const source = jwk as unknown as Record<string, unknown>;
  const pub: Record<string, unknown> = {};
  for (const m of members) if (source[m] !== undefined) pub[m] = source[m];
  return { ...pub, kid: jwk.kid, alg: jwk.alg, use: 'sig' } as JWK;
}

/**
 * Signing keys, kept as private JWK files in keys/ (mode 0600). Loads every key there, signs with the oldest
 * key of the configured algorithm (so instances sharing the folder agree), publishes the public part of all.
 */
export class KeyStore {
  private constructor(
    private readonly signing: SigningKey,
    readonly publicKeys: JWK[],
    private readonly localSet: JWTVerifyGetKey,
  ) {}

  static async open(dir: string, alg: SigningAlg, clock: () => Date = () => new Date()): Promise<KeyStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let files = await readKeyFiles(dir);
    if (!files.some((f) => f.alg === alg)) {
      await generateKeyFile(dir, alg, clock());
      files = await readKeyFiles(dir);
    }
    const candidates = files
      .filter((f) => f.alg === alg)
      .sort((a, b) => a.created_at.localeCompare(b.created_at) || a.kid.localeCompare(b.kid));
    const chosen = candidates[0];
    if (!chosen) throw new Error(`no ${alg} signing key in ${dir}`);
    const privateKey = (await importJWK(chosen, alg)) as CryptoKey;
    const publicKeys = files.map(publicJwk);
    return new KeyStore(
      { kid: chosen.kid, alg, privateKey, createdAt: chosen.created_at },
      publicKeys,
      createLocalJWKSet({ keys: publicKeys }),
    );
  }

  signingKey(): SigningKey {
    return this.signing;
  }

  /** The JWKS document: public members only. */
  jwks(): { keys: JWK[] } {
    return { keys: this.publicKeys };
  }

  /** Key resolver for jose's jwtVerify, over our own public keys. */
  get verificationKeys(): JWTVerifyGetKey {
    return this.localSet;
  }

  get algorithms(): string[] {
    return [...new Set(this.publicKeys.map((k) => k.alg!))];
  }
}

type KeyFile = JWK & { kid: string; alg: SigningAlg; created_at: string };

async function readKeyFiles(dir: string): Promise<KeyFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  const keys: KeyFile[] = [];
  for (const name of names) {
    const jwk = JSON.parse(await readFile(join(dir, name), 'utf8')) as Partial<KeyFile>;
    if (!jwk.kid || !jwk.alg || !jwk.kty) throw new Error(`${name} in the keys folder is not a signing key JWK`);
    keys.push({ ...jwk, created_at: jwk.created_at ?? '' } as KeyFile);
  }
  return keys;
}

async function generateKeyFile(dir: string, alg: SigningAlg, now: Date): Promise<void> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const file: KeyFile = { ...jwk, kid, alg, use: 'sig', created_at: now.toISOString() } as KeyFile;
  // 'wx': never overwrite a key another instance wrote.
  await writeFile(join(dir, `${kid}.json`), `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
}

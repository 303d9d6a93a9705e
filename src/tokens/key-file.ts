import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { KeyTimes } from './key-schedule';
import { algorithmOf, SIGNING_ALGS, type SigningAlg } from './signing-algs';

/**
 * One signing key as kept in KEYS_DIR: `<kid>.json`, mode 0600, holding the private JWK (with kid, alg and
 * use=sig) and the key's timestamps (`created_at`, `activates_at`, and `retired_at` once retired), RFC 3339.
 * A file without `activates_at` (written before rotation existed) is active since its `created_at`.
 */
export interface KeyRecord extends KeyTimes {
  alg: SigningAlg;
  jwk: JWK & { kid: string; alg: SigningAlg };
  /** Its file name in the keys folder; undefined for the key from SIGNING_KEY. */
  file?: string | undefined;
}

export interface KeyFileEntry {
  file: string;
  key?: KeyRecord;
  /** Why the file is not a usable key (never quoting its content). */
  problem?: string;
  /** Set when the file can be read by group or others. */
  tooOpen?: boolean;
}

const isKeyFileName = (name: string) => name.endsWith('.json') && !name.startsWith('.');

/** Every `*.json` file of the folder, parsed; undefined when there is no folder. */
export async function readKeyFolder(dir: string): Promise<KeyFileEntry[] | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isKeyFileName).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const entries: KeyFileEntry[] = [];
  for (const file of names) {
    const path = join(dir, file);
    try {
      const [text, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
      entries.push({ file, key: { ...parseKeyFile(text), file }, tooOpen: (info.mode & 0o077) !== 0 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') continue; // removed while we read
      entries.push({ file, problem: code ? `cannot be read (${code})` : (error as Error).message });
    }
  }
  return entries;
}

/** Parses a key file. Throws an Error saying what is wrong, without quoting the (private) content. */
export function parseKeyFile(text: string): Omit<KeyRecord, 'file'> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error('is not JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new Error('is not a JWK object');
  const jwk = data as Record<string, unknown>;
  if (typeof jwk.kid !== 'string' || jwk.kid === '') throw new Error('has no kid');
  if (!SIGNING_ALGS.includes(jwk.alg as SigningAlg)) throw new Error(`has no alg among ${SIGNING_ALGS.join(', ')}`);
  const alg = jwk.alg as SigningAlg;
  if (algorithmOf(jwk as JWK) !== alg) throw new Error(`holds no ${alg} key`);
  if (typeof jwk.d !== 'string') throw new Error('holds no private key');
  const time = (member: string, fallback?: number): number | undefined => {
    const value = jwk[member];
    if (value === undefined || value === '') return fallback;
    const ms = typeof value === 'string' ? Date.parse(value) : NaN;
    if (Number.isNaN(ms)) throw new Error(`has a ${member} that is not a date`);
    return ms;
  };
  const createdAt = time('created_at', 0)!;
  const activatesAt = time('activates_at');
  const { created_at, activates_at, retired_at, ...rest } = jwk;
  void created_at, activates_at, retired_at;
  return {
    kid: jwk.kid,
    alg,
    createdAt,
    activatesAt: activatesAt ?? createdAt,
    retiredAt: time('retired_at'),
    ...(activatesAt === undefined ? { legacy: true } : {}),
    jwk: { ...(rest as JWK), kid: jwk.kid, alg },
  };
}

/** The file's content: the private JWK and the key's timestamps. */
export function serializeKeyFile(key: KeyRecord): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  const body = {
    ...key.jwk,
    kid: key.kid,
    alg: key.alg,
    use: 'sig',
    created_at: iso(key.createdAt),
    // A legacy file stays one: written with activates_at, it would start retiring other legacy keys.
    ...(key.legacy ? {} : { activates_at: iso(key.activatesAt) }),
    ...(key.retiredAt !== undefined ? { retired_at: iso(key.retiredAt) } : {}),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** A new key pair; its kid is the RFC 7638 thumbprint of the public key. */
export async function generateKey(alg: SigningAlg, times: { createdAt: number; activatesAt: number }): Promise<KeyRecord> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, alg, ...times, jwk: { ...jwk, kid, alg, use: 'sig' } };
}

/**
 * Writes a key file atomically, mode 0600: a temporary file, synced, then moved into place, so no reader
 * ever sees half a key. `create` never replaces an existing file (another instance's key stays as written);
 * `replace` swaps the file for its new version (a retirement).
 */
export async function writeKeyFile(dir: string, key: KeyRecord, mode: 'create' | 'replace'): Promise<string> {
  const file = key.file ?? `${key.kid}.json`;
  if (mode === 'create' && !/^[A-Za-z0-9_-]+\.json$/.test(file)) {
    throw new Error(`unsafe key file name for kid ${key.kid}`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, file);
  const temp = join(dir, `.${file}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(serializeKeyFile({ ...key, file }), 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (mode === 'create') await link(temp, target); // fails with EEXIST rather than overwrite
    else await rename(temp, target);
  } finally {
    await unlink(temp).catch(() => {});
  }
  await syncFolder(dir);
  return file;
}

/** Makes the new directory entry durable; some platforms cannot open a folder, which is fine. */
async function syncFolder(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

import { generateKey, readKeyFolder, writeKeyFile, type KeyRecord } from './key-file';
import { keyStatuses, signingStatus, type KeyStatus } from './key-schedule';
import type { SigningAlg } from './signing-algs';

/**
 * The operator's actions on KEYS_DIR (`keys rotate`, `keys retire`, `keys list`). They only touch files:
 * running instances notice the change (folder watch, SIGHUP) and derive the same states from the same
 * timestamps.
 */
export interface KeyFolder {
  dir: string;
  /** MAX_TOKEN_TTL_SECONDS, which decides how long a retired key stays published. */
  maxTokenTtlSeconds: number;
}

/** A refused action: the operator's mistake, not a fault. */
export class KeyActionRefused extends Error {
  override name = 'KeyActionRefused';
}

export interface FolderKeys {
  statuses: KeyStatus<KeyRecord>[];
  /** Files that are no usable key, with the reason. */
  problems: { file: string; message: string }[];
}

export async function folderKeys(folder: KeyFolder, now: Date): Promise<FolderKeys> {
  const entries = (await readKeyFolder(folder.dir)) ?? [];
  const keys: KeyRecord[] = [];
  const problems: FolderKeys['problems'] = [];
  for (const entry of entries) {
    if (entry.key && !keys.some((k) => k.kid === entry.key!.kid)) keys.push(entry.key);
    else problems.push({ file: entry.file, message: entry.problem ?? `repeats kid ${entry.key?.kid}` });
  }
  return { statuses: keyStatuses(keys, now.getTime(), folder), problems };
}

/**
 * Adds a `next` key: published from now on, signing from `now + propagationSeconds`, by which time every
 * resource API honouring the JWKS's max-age has seen it. When no key is active, there is nothing to wait for:
 * the new key is active at once.
 */
export async function rotateKey(
  folder: KeyFolder,
  options: { alg: SigningAlg; propagationSeconds: number; now: Date },
): Promise<KeyStatus<KeyRecord>> {
  const now = options.now.getTime();
  const { statuses } = await folderKeys(folder, options.now);
  const anyActive = statuses.some((s) => s.state === 'active');
  const key = await generateKey(options.alg, {
    createdAt: now,
    activatesAt: anyActive ? now + options.propagationSeconds * 1000 : now,
  });
  key.file = await writeKeyFile(folder.dir, key, 'create');
  const after = keyStatuses([...statuses.map((s) => s.key), key], now, folder);
  return after.find((s) => s.key === key)!;
}

/**
 * Retires a key now. A `next` key leaves the JWKS at once (it never signed); an active one stops signing and
 * stays published until its tokens have expired. Refused when it would leave nothing to sign with (unless
 * `otherSigner`, i.e. SIGNING_KEY signs): the way to replace the active key is `keys rotate`, after which it
 * retires by itself.
 */
export async function retireKey(
  folder: KeyFolder,
  kid: string,
  options: { now: Date; otherSigner?: boolean },
): Promise<{ status: KeyStatus<KeyRecord>; changed: boolean }> {
  const now = options.now.getTime();
  const { statuses } = await folderKeys(folder, options.now);
  const current = statuses.find((s) => s.key.kid === kid);
  if (!current) throw new KeyActionRefused(`no key with kid ${kid} in ${folder.dir}`);
  if (current.state === 'retired') return { status: current, changed: false };
  const retired: KeyRecord = { ...current.key, retiredAt: now };
  const after = keyStatuses(
    statuses.map((s) => (s === current ? retired : s.key)),
    now,
    folder,
  );
  if (current.state === 'active' && !options.otherSigner && !signingStatus(after, current.key.alg)) {
    const pending = after.find((s) => s.state === 'next');
    const when = pending && new Date(pending.key.activatesAt).toISOString();
    throw new KeyActionRefused(
      `${kid} is the only active key: retiring it would leave nothing to sign with. ` +
        (pending
          ? `It retires by itself when ${pending.key.kid} becomes active at ${when}.`
          : 'Run `keys rotate` first; it retires by itself when the new key becomes active.'),
    );
  }
  await writeKeyFile(folder.dir, retired, 'replace');
  return { status: after.find((s) => s.key === retired)!, changed: true };
}

import { mkdir } from 'node:fs/promises';
import { createLocalJWKSet, importJWK, type CryptoKey, type JWK, type JWTVerifyGetKey } from 'jose';
import type { EnvSigningKey } from './env-signing-key';
import { generateKey, readKeyFolder, writeKeyFile, type KeyRecord } from './key-file';
import { compareActivation, keyStatuses, nextChangeAfter, signingStatus, type KeyStatus } from './key-schedule';
import { publicJwk } from './public-jwk';
import type { SigningAlg } from './signing-algs';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  createdAt: string;
}

export interface KeyStoreOptions {
  /** KEYS_DIR. */
  dir: string;
  /** SIGNING_ALG: the algorithm this instance signs with, and that of a key generated at start. */
  alg: SigningAlg;
  /** MAX_TOKEN_TTL_SECONDS: how long a retired key stays published. */
  maxTokenTtlSeconds: number;
  clock?: () => Date;
  /** SIGNING_KEY: when set, always the signing key; the folder's keys are still published. */
  envKey?: EnvSigningKey | undefined;
  /** Told about a key file that cannot be used on a reload (the other keys still are). */
  onProblem?: (file: string, message: string) => void;
}

interface LoadedKey {
  record: KeyRecord;
  /** Imported while the key may still sign; a key retired for good needs none. */
  privateKey: CryptoKey | undefined;
}

interface View {
  /** Valid for clock times in [at, until). */
  at: number;
  until: number;
  statuses: KeyStatus<KeyRecord>[];
  signing: SigningKey | undefined;
  published: JWK[];
  localSet: JWTVerifyGetKey;
  /** The signing kid and the published kids: what listeners care about. */
  fingerprint: string;
}

export class NoSigningKey extends Error {
  override name = 'NoSigningKey';
}

/**
 * The signing keys of KEYS_DIR (and SIGNING_KEY): which one signs now, and the JWKS. States follow from the
 * keys' timestamps and the clock (see key-schedule.ts), evaluated when asked and kept until the next moment
 * anything changes, so the hot path costs a clock read. `reload()` re-reads the folder; listeners hear of any
 * change of the signing key or the published keys, whether a reload or time passing caused it.
 */
export class KeyStore {
  private loaded: LoadedKey[] = [];
  private envLoaded: SigningKey | undefined;
  private view: View | undefined;
  private readonly listeners = new Set<() => void>();
  private running: Promise<void> = Promise.resolve();
  /** Problems already told of, so a poll does not repeat them every minute. */
  private reported = new Set<string>();
  private queued: Promise<void> | undefined;

  private constructor(
    private readonly options: KeyStoreOptions,
    private readonly clock: () => Date,
  ) {}

  /**
   * Loads the keys. Without SIGNING_KEY, first writes a new key, active at once, when nothing could sign or
   * the folder has never held a key of SIGNING_ALG (so a first start, or a change of SIGNING_ALG, signs at once).
   */
  static async open(options: KeyStoreOptions): Promise<KeyStore> {
    const store = new KeyStore(options, options.clock ?? (() => new Date()));
    if (options.envKey) {
      const { jwk, kid, alg } = options.envKey;
      const privateKey = (await importJWK(jwk, alg)) as CryptoKey;
      store.envLoaded = { kid, alg, privateKey, createdAt: new Date(0).toISOString() };
    } else {
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
    }
    await store.load({ strict: true });
    if (!options.envKey && store.needsNewKey()) {
      const now = store.clock().getTime();
      await writeKeyFile(options.dir, await generateKey(options.alg, { createdAt: now, activatesAt: now }), 'create');
      await store.load({ strict: true });
    }
    store.signingKey(); // fails now rather than at the first token request
    return store;
  }

  /** Re-reads the folder (rereads are serialised; calls made while one waits share it). */
  reload(): Promise<void> {
    if (!this.queued) {
      const queued = this.running.then(() => {
        this.queued = undefined;
        return this.load({ strict: false });
      });
      this.queued = queued;
      this.running = queued.catch(() => {});
    }
    return this.queued;
  }

  /** Brings the states up to the clock; listeners hear if that changed anything. Cheap when nothing is due. */
  refresh(): void {
    this.current();
  }

  /** Calls `listener` after each change of the signing key or of the published keys. Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  signingKey(): SigningKey {
    const signing = this.current().signing;
    if (!signing) throw new NoSigningKey(`no active signing key in ${this.options.dir}: run \`keys rotate\``);
    return signing;
  }

  /** The JWKS document: public members only. */
  jwks(): { keys: JWK[] } {
    return { keys: this.current().published };
  }

  /** The kid tokens are signed with now, if any key can sign. */
  get signingKid(): string | undefined {
    return this.current().signing?.kid;
  }

  get publicKeys(): JWK[] {
    return this.current().published;
  }

  /** Every folder key's state now (the SIGNING_KEY key is not among them). */
  statuses(): KeyStatus<KeyRecord>[] {
    return this.current().statuses;
  }

  /** Key resolver for jose's jwtVerify, over our own published keys. */
  get verificationKeys(): JWTVerifyGetKey {
    return this.current().localSet;
  }

  get algorithms(): string[] {
    return [...new Set(this.current().published.map((k) => k.alg!))];
  }

  private needsNewKey(): boolean {
    const statuses = this.current().statuses;
    return !statuses.some((s) => s.key.alg === this.options.alg) || !signingStatus(statuses, this.options.alg);
  }

  private async load({ strict }: { strict: boolean }): Promise<void> {
    const { dir } = this.options;
    const entries = await readKeyFolder(dir);
    const reported = new Set<string>();
    const warn = (file: string, message: string) => {
      const key = `${file}\n${message}`;
      reported.add(key);
      if (!this.reported.has(key)) this.options.onProblem?.(file, message);
    };
    if (!entries && this.loaded.length > 0) {
      // An unmounted volume rather than an intent to stop signing: keep what was loaded.
      warn('.', 'the keys folder is gone; keeping the keys read before');
      this.reported = reported;
      return;
    }
    const previous = new Map(this.loaded.map((k) => [k.record.file, k]));
    const now = this.clock().getTime();
    const next: LoadedKey[] = [];
    const kids = new Set<string>(this.envLoaded ? [this.envLoaded.kid] : []);
    const problem = (file: string, message: string) => {
      if (strict) throw new Error(`${file} in the keys folder ${message}`);
      warn(file, message);
    };
    for (const entry of entries ?? []) {
      if (entry.tooOpen) warn(entry.file, 'can be read by others than its owner: chmod 600 it');
      const kept = previous.get(entry.file);
      if (!entry.key) {
        problem(entry.file, entry.problem ?? 'is not a signing key');
        if (kept && !kids.has(kept.record.kid)) {
          kids.add(kept.record.kid);
          next.push(kept); // a file being rewritten by hand: keep what it held until it reads well again
        }
        continue;
      }
      const record = entry.key;
      if (kids.has(record.kid)) {
        if (record.kid !== this.envLoaded?.kid) warn(entry.file, `repeats kid ${record.kid}; ignored`);
        continue;
      }
      kids.add(record.kid);
      const same = kept && kept.record.kid === record.kid && kept.record.jwk.d === record.jwk.d ? kept : undefined;
      next.push({ record, privateKey: same?.privateKey ?? (await this.importUnlessRetired(record, now, problem)) });
    }
    this.loaded = next;
    this.reported = reported;
    this.evaluate(now);
  }

  private async importUnlessRetired(
    record: KeyRecord,
    now: number,
    problem: (file: string, message: string) => void,
  ): Promise<CryptoKey | undefined> {
    if (record.retiredAt !== undefined && record.retiredAt <= now) return undefined;
    try {
      return (await importJWK(record.jwk, record.alg)) as CryptoKey;
    } catch {
      problem(record.file ?? record.kid, 'holds a key that cannot be imported');
      return undefined;
    }
  }

  private current(): View {
    const now = this.clock().getTime();
    if (!this.view || now < this.view.at || now >= this.view.until) this.evaluate(now);
    return this.view!;
  }

  private evaluate(now: number): void {
    const records = this.loaded.map((k) => k.record);
    const statuses = keyStatuses(records, now, { maxTokenTtlSeconds: this.options.maxTokenTtlSeconds });
    let signing = this.envLoaded;
    if (!signing) {
      const status = signingStatus(statuses, this.options.alg);
      const privateKey = status && this.loaded.find((k) => k.record === status.key)?.privateKey;
      if (status && privateKey) {
        const { kid, alg, createdAt } = status.key;
        signing = { kid, alg, privateKey, createdAt: new Date(createdAt).toISOString() };
      }
    }
    const rank = { active: 0, next: 1, retired: 2 } as const;
    const publishedStatuses = statuses
      .filter((s) => s.published)
      .sort((a, b) => rank[a.state] - rank[b.state] || compareActivation(b.key, a.key));
    const envJwk = this.options.envKey?.jwk;
    const jwks = [...(envJwk ? [envJwk] : []), ...publishedStatuses.map((s) => s.key.jwk)];
    const fingerprint = `${signing?.kid ?? ''}|${jwks.map((k) => k.kid).join(',')}`;
    const previous = this.view;
    const unchanged = previous?.fingerprint === fingerprint;
    const published = unchanged ? previous.published : jwks.map(publicJwk);
    this.view = {
      at: now,
      until: nextChangeAfter(statuses, now),
      statuses,
      signing,
      published,
      localSet: unchanged ? previous.localSet : createLocalJWKSet({ keys: published }),
      fingerprint,
    };
    if (previous && !unchanged) {
      for (const listener of this.listeners) {
        try {
          listener();
        } catch {
          // a listener's failure is its own
        }
      }
    }
  }
}

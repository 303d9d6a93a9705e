import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  /** How many argon2 computations may run at once; the rest wait in line. */
  maxConcurrency: number;
}

/**
 * argon2id hashing off the event loop (libuv threads), with bounded concurrency so a flood of wrong secrets
 * queues behind itself instead of starving the process, and a per-process memo of recently verified
 * secrets so a client calling again skips argon2. The memo only answers "this plaintext matches this hash":
 * status, expiry and ownership are still checked by the caller on every request.
 */
export class PasswordHasher {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly verified = new Map<string, { hash: string; digest: Buffer }>();
  private dummyHash: Promise<string> | undefined;

  constructor(
    private readonly params: Argon2Params,
    private readonly memoLimit = 10_000,
  ) {}

  async hash(plaintext: string): Promise<string> {
    return this.limited(() =>
      argon2Hash(plaintext, {
        memoryCost: this.params.memoryCost,
        timeCost: this.params.timeCost,
        parallelism: this.params.parallelism,
      }),
    );
  }

  /** Constant-time check of `plaintext` against `phc`; `memoKey` (the secret id) enables the memo. */
  async verify(phc: string, plaintext: string, memoKey?: string): Promise<boolean> {
    const digest = createHash('sha256').update(plaintext).digest();
    if (memoKey) {
      const memo = this.verified.get(memoKey);
      if (memo && memo.hash === phc && timingSafeEqual(memo.digest, digest)) return true;
    }
    let ok: boolean;
    try {
      ok = await this.limited(() => argon2Verify(phc, plaintext));
    } catch {
      ok = false; // a malformed stored hash verifies nothing
    }
    if (ok && memoKey) this.remember(memoKey, phc, digest);
    return ok;
  }

  /** Spends the same work as a real verify, for requests that have no hash to check (unknown client). */
  async burn(plaintext: string): Promise<void> {
    this.dummyHash ??= this.hash(randomBytes(32).toString('base64url'));
    await this.verify(await this.dummyHash, plaintext);
  }

  /** argon2 computations waiting for a slot (metrics). */
  get queued(): number {
    return this.waiting.length;
  }

  /** argon2 computations running now (metrics). */
  get running(): number {
    return this.active;
  }

  private remember(key: string, hash: string, digest: Buffer): void {
    this.verified.delete(key);
    this.verified.set(key, { hash, digest });
    if (this.verified.size > this.memoLimit) {
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
  }

  private async limited<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.params.maxConcurrency) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

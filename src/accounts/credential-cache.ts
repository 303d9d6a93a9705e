import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { DatabaseHandle } from '../db/connect';
import type { ClientSecretRow, ServiceAccountRow } from '../db/schema';

/**
 * What client authentication and the token path read of an account: its row without the fields shown to
 * admins only (name, description, timestamps, last use). The cache keeps just this, copied out of the row:
 * a few hundred bytes less per entry, out of ~4 KB, times up to CREDENTIAL_CACHE_MAX_ENTRIES.
 */
export type AuthenticatedAccount = Omit<
  ServiceAccountRow,
  'name' | 'description' | 'createdAt' | 'updatedAt' | 'lastUsedAt' | 'lastUsedIp'
>;

/** What judging a secret needs: its state and expiry (a verified secret's hash is of no further use). */
export type VerifiedSecret = Pick<ClientSecretRow, 'id' | 'status' | 'expiresAt'>;

export interface CachedCredential {
  account: AuthenticatedAccount;
  secret: VerifiedSecret;
}

interface Entry extends CachedCredential {
  digest: Buffer;
  expiresAt: number;
}

export interface CredentialCacheOptions {
  /** Safety net only: every change reaches every instance through NOTIFY at once. */
  ttlMs: number;
  maxEntries: number;
}

/** A change about to be committed: NOTIFY `payload` on `channel` in the same transaction, then await `seen`. */
export interface Announcement {
  channel: string;
  payload: string;
  /** Resolves once this process has received its own notification back (or after a timeout). */
  seen(): Promise<void>;
}

export const ACCOUNT_CHANGES_CHANNEL = 'account_changes';
const ECHO_TIMEOUT_MS = 2000;

/**
 * Credentials this process has verified recently: the secret's id (or, for an operator-supplied secret, the
 * client_id) and a SHA-256 of the presented value → the account and secret rows. A hit costs no database
 * round trip and no argon2; the caller still checks status and expiry of the cached rows on every request.
 *
 * Every change to an account or its secrets sends a NOTIFY in the transaction that makes it (see
 * `announce`), so the notification exists if and only if the change committed. Each process drops that
 * account's entries when the notification arrives; the admin call returns once its own process has seen it,
 * and PostgreSQL signalled every listener at the same commit (another process may take milliseconds more to
 * read it when its host is overloaded). An epoch guards the race where a request read
 * the rows before a change and would cache them after it. If the LISTEN connection is re-established,
 * notifications may have been missed: everything is dropped. The TTL is only a safety net.
 *
 * While the LISTEN connection is down, `get` answers nothing: changes committed meanwhile by other instances
 * would go unseen. The entries are kept, though, for one case: when the database cannot be reached either,
 * `getWhileUnreachable` may answer an entry until its TTL runs out, counted from the moment its rows were
 * read from the database. A database this process cannot reach may still be reachable by another instance,
 * and a revoke committed just before an outage may have lost its notification: so during an outage a revoke
 * or disable reaches this instance's token endpoint at most CREDENTIAL_CACHE_TTL_SECONDS after the rows were
 * read (access tokens already issued outlive a revoke by up to their own lifetime anyway). Whenever the
 * database answers, its rows are used, and stored in place of the old entry; when LISTEN is back, everything
 * cached before is dropped.
 */
export class CredentialCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byAccount = new Map<string, Set<string>>();
  private readonly instance = randomBytes(6).toString('hex');
  private readonly echoes = new Map<number, () => void>();
  private readonly listeners: Array<(accountId: string | undefined) => void> = [];
  private sequence = 0;
  private stopListening: (() => Promise<void>) | undefined;
  /** The cache is used only while changes are being received. */
  private listening = false;
  /** Incremented by every invalidation; an entry read before one is not stored after it. */
  epoch = 0;
  hits = 0;
  misses = 0;
  /** Answers of `getWhileUnreachable`: credentials accepted from memory while the database was unreachable. */
  unreachableHits = 0;

  constructor(
    private readonly options: CredentialCacheOptions,
    private readonly logger?: Logger,
  ) {}

  /** Subscribes to changes made by every process on the database. */
  async attach(database: DatabaseHandle): Promise<void> {
    this.stopListening = await database.listen(ACCOUNT_CHANGES_CHANNEL, {
      onMessage: (payload) => this.onNotification(payload),
      onListen: () => {
        this.listening = true;
        this.invalidate(undefined);
      },
      onLost: () => {
        // Changes made meanwhile would go unseen: answer nothing from the cache in the ordinary way until we
        // listen again, which drops every entry and tells the listeners. Entries are kept meanwhile for
        // `getWhileUnreachable` only; the listeners' documents (discovery) keep serving, a little stale at worst.
        this.listening = false;
        this.epoch++;
        for (const resolve of this.echoes.values()) resolve();
        this.echoes.clear();
      },
    });
  }

  async detach(): Promise<void> {
    const stop = this.stopListening;
    this.stopListening = undefined;
    this.listening = false;
    await stop?.();
    for (const resolve of this.echoes.values()) resolve();
    this.echoes.clear();
  }

  /**
   * Called with the account id on each change, and with undefined when anything may have changed (when the
   * LISTEN connection is back after a drop).
   */
  onInvalidate(listener: (accountId: string | undefined) => void): void {
    this.listeners.push(listener);
  }

  static keyOf(secretId: string | undefined, clientId: string): string {
    return secretId ?? `client:${clientId}`;
  }

  get(key: string, presented: string): CachedCredential | undefined {
    const entry = this.listening ? this.entries.get(key) : undefined;
    if (!entry || entry.expiresAt <= performance.now() || !timingSafeEqual(entry.digest, digestOf(presented))) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    return entry;
  }

  /**
   * For a caller that has just failed to reach the database: the entry for `key` if it holds `presented`
   * and its TTL has not run out, whether or not changes are being received (see the class comment for why
   * this is bounded by the TTL). Status and expiry must still be judged by the caller.
   */
  getWhileUnreachable(key: string, presented: string): CachedCredential | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.expiresAt <= performance.now() || !timingSafeEqual(entry.digest, digestOf(presented))) return undefined;
    this.unreachableHits++;
    return entry;
  }

  /**
   * Stores a verified credential, unless an invalidation happened since `epoch` was read. Stored while not
   * listening, it serves only `getWhileUnreachable`, and is dropped when listening starts again.
   */
  set(key: string, presented: string, credential: CachedCredential, epoch: number): void {
    if (epoch !== this.epoch || this.options.ttlMs === 0) return;
    this.remove(key);
    if (this.entries.size >= this.options.maxEntries) this.evictOldest();
    this.entries.set(key, {
      account: authenticatedPart(credential.account),
      secret: { id: credential.secret.id, status: credential.secret.status, expiresAt: credential.secret.expiresAt },
      digest: digestOf(presented),
      expiresAt: performance.now() + this.options.ttlMs,
    });
    const keys = this.byAccount.get(credential.account.id) ?? new Set<string>();
    keys.add(key);
    this.byAccount.set(credential.account.id, keys);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether changes are being received, and so whether the cache is in use. */
  get isListening(): boolean {
    return this.listening;
  }

  /**
   * Prepares the notification of a change to `accountId`. While this process is not listening, it caches
   * nothing and has no echo to wait for.
   */
  announce(accountId: string): Announcement {
    if (!this.listening) {
      return { channel: ACCOUNT_CHANGES_CHANNEL, payload: `-:0:${accountId}`, seen: async () => this.invalidate(accountId) };
    }
    const seq = ++this.sequence;
    const seen = new Promise<void>((resolve) => this.echoes.set(seq, resolve));
    return {
      channel: ACCOUNT_CHANGES_CHANNEL,
      payload: `${this.instance}:${seq}:${accountId}`,
      seen: async () => {
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            // Our own LISTEN connection is late or down: drop everything here, to be safe.
            this.logger?.warn({ account_id: accountId }, 'account change notification not echoed in time');
            this.invalidate(undefined);
            resolve();
          }, ECHO_TIMEOUT_MS);
          timer.unref();
        });
        await Promise.race([seen, timedOut]);
        clearTimeout(timer);
        this.echoes.delete(seq);
      },
    };
  }

  /** A change that was not committed: stop waiting for its echo. */
  abandon(announcement: Announcement): void {
    const seq = Number(announcement.payload.split(':')[1]);
    this.echoes.get(seq)?.();
    this.echoes.delete(seq);
  }

  private invalidate(accountId: string | undefined): void {
    this.epoch++;
    if (accountId === undefined) {
      this.entries.clear();
      this.byAccount.clear();
    } else {
      for (const key of this.byAccount.get(accountId) ?? []) this.entries.delete(key);
      this.byAccount.delete(accountId);
    }
    for (const listener of this.listeners) listener(accountId);
  }

  private onNotification(payload: string): void {
    const [instance, seq, accountId] = payload.split(':');
    this.invalidate(accountId || undefined);
    if (instance === this.instance) {
      this.echoes.get(Number(seq))?.();
      this.echoes.delete(Number(seq));
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.byAccount.get(entry.account.id)?.delete(key);
  }

  private evictOldest(): void {
    const oldest = this.entries.keys().next().value;
    if (oldest !== undefined) this.remove(oldest);
  }
}

function authenticatedPart(account: AuthenticatedAccount): AuthenticatedAccount {
  // Field by field: a spread of the full row would keep what the type leaves out.
  return {
    id: account.id,
    clientId: account.clientId,
    orgId: account.orgId,
    status: account.status,
    scopes: account.scopes,
    audiences: account.audiences,
    tokenTtlSeconds: account.tokenTtlSeconds,
    rateLimitPerMinute: account.rateLimitPerMinute,
    allowedIps: account.allowedIps,
    tokenEndpointAuthMethods: account.tokenEndpointAuthMethods,
    requireDpop: account.requireDpop,
    roles: account.roles,
    permissions: account.permissions,
  };
}

const digestOf = (presented: string) => createHash('sha256').update(presented).digest();

/**
 * The soak's HTTP client (bench/soak.ts): every request it makes to the service, counted by kind and status,
 * with its latency; the unexpected errors it meets; and token verification against the JWKS as a resource API
 * does it (the set cached, fetched again when a token names an unknown kid).
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { basicAuth } from './token-request';

export interface Answer {
  status: number;
  json: any;
  text: string;
}

export const bump = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by);

export class SoakClient {
  /** kind → status (or "socket error") → count. */
  readonly requests = new Map<string, Map<string, number>>();
  readonly latencies = new Map<string, number[]>();
  readonly unexpected = new Map<string, { count: number; examples: string[] }>();
  /** Token requests that got an answer (each must leave one token.* audit row), and those that did not. */
  readonly tokenCalls = { answered: 0, socketErrors: 0 };
  /** Admin changes answered 2xx, by the audit action each must leave. */
  readonly adminChanges = new Map<string, number>();
  readonly tokensByKid = new Map<string, number>();
  private bearer: { token: string; at: number } | undefined;
  private jwks: { keyset: ReturnType<typeof createLocalJWKSet>; kids: Set<string> } | undefined;
  private jwksRefresh: Promise<void> | undefined;

  constructor(
    readonly base: string,
    private readonly adminCreds: { id: string; secret: string },
    readonly audience: string,
    private readonly log: (line: string) => void,
  ) {}

  flag(kind: string, detail: string): void {
    const entry = this.unexpected.get(kind) ?? { count: 0, examples: [] };
    entry.count++;
    if (entry.examples.length < 3) entry.examples.push(detail.slice(0, 300));
    this.unexpected.set(kind, entry);
    if (entry.count <= 3) this.log(`UNEXPECTED ${kind}: ${detail.slice(0, 300)}`);
  }

  get unexpectedCount(): number {
    return [...this.unexpected.values()].reduce((sum, e) => sum + e.count, 0);
  }

  async call(kind: string, path: string, init: RequestInit = {}): Promise<Answer | undefined> {
    const t0 = performance.now();
    const byStatus = this.requests.get(kind) ?? new Map<string, number>();
    this.requests.set(kind, byStatus);
    try {
      const res = await fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      bump(byStatus, String(res.status));
      const list = this.latencies.get(kind) ?? [];
      list.push(performance.now() - t0);
      this.latencies.set(kind, list);
      if (res.status >= 500) this.flag('5xx', `${kind} ${path}: ${res.status} ${text}`);
      let json: any;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text };
    } catch (error) {
      bump(byStatus, 'socket error');
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      this.flag('socket error', `${kind} ${path}: ${cause?.code ?? cause?.message ?? String(error)}`);
      return undefined;
    }
  }

  /** POST /oauth/token with client_secret_basic, for the soak's audience unless `audience` is false. */
  async token(kind: string, clientId: string, secret: string, audience = true): Promise<Answer | undefined> {
    const res = await this.call(kind, '/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(clientId, secret) },
      body: `grant_type=client_credentials${audience ? `&audience=${encodeURIComponent(this.audience)}` : ''}`,
    });
    if (res) this.tokenCalls.answered++;
    else this.tokenCalls.socketErrors++;
    return res;
  }

  /** A request to the admin API with the administrator's token (renewed every five minutes). */
  async admin(kind: string, method: string, path: string, body?: unknown): Promise<Answer | undefined> {
    if (!this.bearer || performance.now() - this.bearer.at > 5 * 60_000) {
      const res = await this.token('admin token', this.adminCreds.id, this.adminCreds.secret, false);
      if (res?.status !== 200) throw new Error(`admin token: ${res?.status} ${res?.text.slice(0, 200)}`);
      this.bearer = { token: res.json.access_token, at: performance.now() };
    }
    return this.call(kind, `/admin/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.bearer.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  /** An admin change, named by the audit action it must leave: counted when it succeeds. */
  async change(action: string, method: string, path: string, body?: unknown): Promise<Answer | undefined> {
    const res = await this.admin(`admin ${action}`, method, path, body);
    if (res && res.status >= 200 && res.status < 300) bump(this.adminChanges, action);
    return res;
  }

  /** The JWKS as the service publishes it now (one fetch at a time, shared by whoever asks meanwhile). */
  refreshJwks(): Promise<void> {
    this.jwksRefresh ??= (async () => {
      const res = await this.call('jwks', '/.well-known/jwks.json');
      if (res?.status === 200) {
        const set = res.json as JSONWebKeySet;
        this.jwks = { keyset: createLocalJWKSet(set), kids: new Set(set.keys.map((k) => String(k.kid))) };
      }
    })().finally(() => (this.jwksRefresh = undefined));
    return this.jwksRefresh;
  }

  /** Verifies a token as a resource API would; a failure is an unexpected error. */
  async verifyToken(accessToken: string, clientId: string): Promise<void> {
    let kid = '?';
    try {
      kid = String(decodeProtectedHeader(accessToken).kid);
      if (!this.jwks?.kids.has(kid)) await this.refreshJwks();
      if (!this.jwks) throw new Error('no JWKS');
      const { payload } = await jwtVerify(accessToken, this.jwks.keyset, {
        issuer: this.base,
        audience: this.audience,
        typ: 'at+jwt',
      });
      if (payload.sub !== clientId || payload.client_id !== clientId) throw new Error(`sub ${payload.sub} for ${clientId}`);
      bump(this.tokensByKid, kid);
    } catch (error) {
      this.flag('token fails verification', `kid ${kid}: ${(error as Error).message}`);
    }
  }
}

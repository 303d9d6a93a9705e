import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { loadConfig, type Config } from '../../src/config';
import { openService, type Service } from '../../src/service';
import { freshDatabase, secondConnection, type DatabaseKind, type TestDatabase } from './database';

/** A clock the tests move by hand: expiry is tested by advancing it, never by sleeping. */
export class TestClock {
  constructor(public current = new Date('2026-06-01T12:00:00.000Z')) {}
  readonly now = (): Date => new Date(this.current.getTime());
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export const ADMIN_CLIENT_ID = 'test-admin';

export interface HttpResult {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export interface TestService {
  url: string;
  config: Config;
  service: Service;
  database: TestDatabase;
  clock: TestClock;
  adminSecret: string;
  /** Raw fetch against the running server. */
  fetch(path: string, init?: RequestInit): Promise<HttpResult>;
  /** POST /oauth/token with a form body and optional Basic credentials. */
  token(form: Record<string, string>, basic?: { id: string; secret: string }): Promise<HttpResult>;
  /** A fresh access token of the bootstrap admin (all admin scopes). */
  adminToken(): Promise<string>;
  /** JSON request to the admin API with a bearer token (the bootstrap admin's, reused while the clock stands still, unless given). */
  admin(method: string, path: string, body?: unknown, token?: string): Promise<HttpResult>;
  /** Creates a service account through the admin API; returns the 201 body. */
  createAccount(input?: Record<string, unknown>): Promise<any>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** RFC 6749 §2.3.1: form-urlencode id and secret, join with ':', base64. */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function readResult(res: Response): Promise<HttpResult> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, body, text };
}

let nameCounter = 0;
export const uniqueName = (base = 'svc') => `${base}-${process.pid}-${++nameCounter}-${randomBytes(3).toString('hex')}`;

/**
 * Starts the real service over HTTP on a free loopback port, on a fresh database of the given kind, with a
 * bootstrap admin, a temporary keys folder and a hand-driven clock.
 */
export async function startTestService(
  kind: DatabaseKind,
  env: Record<string, string> = {},
  options: {
    clock?: TestClock;
    database?: TestDatabase;
    keysDir?: string;
    adminSecret?: string;
    /** Address to listen on; '::' (dual stack) makes IPv4 clients appear as IPv4-mapped IPv6 addresses. */
    host?: string;
    /** The service's logger (default: silent); e.g. createLogger(level, stream) to read what it logs. */
    logger?: Logger;
  } = {},
): Promise<TestService> {
  const clock = options.clock ?? new TestClock();
  const database = options.database ?? (await freshDatabase(kind));
  const keysDir = options.keysDir ?? (await mkdtemp(join(tmpdir(), 'keys-')));
  const port = await freePort();
  const adminSecret = options.adminSecret ?? randomBytes(32).toString('base64url');
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    ISSUER: `http://127.0.0.1:${port}`,
    KEYS_DIR: keysDir,
    BOOTSTRAP_ADMIN_CLIENT_ID: ADMIN_CLIENT_ID,
    BOOTSTRAP_ADMIN_CLIENT_SECRET: adminSecret,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const service = await openService(config, {
    clock: clock.now,
    database: database.handle,
    logger: options.logger ?? pino({ level: 'silent' }),
  });
  const listenUrl = await service.listen(port, options.host ?? '127.0.0.1');
  // Always reach the server over IPv4 loopback, whatever it listens on.
  const url = options.host ? `http://127.0.0.1:${port}` : listenUrl;

  const doFetch = async (path: string, init?: RequestInit) => readResult(await fetch(`${url}${path}`, init));
  const token: TestService['token'] = (form, basic) =>
    doFetch('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(basic ? { authorization: basicAuth(basic.id, basic.secret) } : {}),
      },
      body: new URLSearchParams(form).toString(),
    });
  const adminToken = async () => {
    const res = await token({ grant_type: 'client_credentials' }, { id: ADMIN_CLIENT_ID, secret: adminSecret });
    if (res.status !== 200) throw new Error(`admin token: ${res.status} ${res.text}`);
    return res.body.access_token as string;
  };
  // The admin's token is reused while the test clock stands still, so a test's admin calls neither spend the
  // admin's per-minute rate limit nor fill the audit trail with token requests; moving the clock renews it.
  let cachedAdmin: { at: number; token: string } | undefined;
  const cachedAdminToken = async () => {
    const at = clock.now().getTime();
    if (cachedAdmin?.at !== at) cachedAdmin = { at, token: await adminToken() };
    return cachedAdmin.token;
  };
  const admin: TestService['admin'] = async (method, path, body, bearer) =>
    doFetch(`/admin/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${bearer ?? (await cachedAdminToken())}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  return {
    url,
    config,
    service,
    database,
    clock,
    adminSecret,
    fetch: doFetch,
    token,
    adminToken,
    admin,
    async createAccount(input = {}) {
      const res = await admin('POST', '/service-accounts', { name: uniqueName(), ...input });
      if (res.status !== 201) throw new Error(`create account: ${res.status} ${res.text}`);
      return res.body;
    },
    async close() {
      // No traffic is under way: idle keep-alive connections may go at once (a running service waits a second).
      await service.close({ idleGraceMs: 0 });
      if (!options.database) await database.destroy();
      if (!options.keysDir) await rm(keysDir, { recursive: true, force: true });
    },
  };
}

/**
 * Two instances behind one load balancer: one database (on PostgreSQL, each through its own connections),
 * the same issuer, keys and bootstrap admin.
 */
export async function startTwoInstances(
  kind: DatabaseKind,
): Promise<{ a: TestService; b: TestService; database: TestDatabase; close(): Promise<void> }> {
  const database = await freshDatabase(kind);
  const bDatabase = await secondConnection(database);
  const a = await startTestService(kind, {}, { database });
  const b = await startTestService(
    kind,
    { ISSUER: a.config.issuer },
    { database: bDatabase, keysDir: a.config.keysDir, adminSecret: a.adminSecret },
  );
  return {
    a,
    b,
    database,
    async close() {
      await a.close();
      await b.close();
      await bDatabase.destroy();
      await database.destroy();
    },
  };
}

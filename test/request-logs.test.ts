import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { createLogger, loggableError } from '../src/logger';
import { DATABASE_KINDS, freshDatabase } from './support/database';
import { ADMIN_CLIENT_ID, basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const FORM = 'application/x-www-form-urlencoded';

/** Everything the service logs, as written. */
class CapturedLog {
  readonly chunks: string[] = [];
  write(chunk: string): void {
    this.chunks.push(chunk);
  }
  get text(): string {
    return this.chunks.join('');
  }
  lines(): Array<Record<string, any>> {
    return this.text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, any>);
  }
  requestLines(requestId: string): Array<Record<string, any>> {
    return this.lines().filter((line) => line.msg === 'request' && line.req_id === requestId);
  }
}

describe.each(DATABASE_KINDS)('request logs (%s)', (kind) => {
  let h: TestService;
  let log: CapturedLog;
  let account: any;
  let secret: string;
  /** Every credential and token that crossed the wire in this suite: none may reach the log. */
  const sensitive: string[] = [];

  beforeAll(async () => {
    log = new CapturedLog();
    h = await startTestService(kind, {}, { logger: createLogger('info', log) });
    account = await h.createAccount({ token_endpoint_auth_methods: ['client_secret_basic', 'client_secret_post'] });
    secret = account.secret.secret;
    sensitive.push(secret, h.adminSecret);
  });
  afterAll(() => h?.close());

  /** A request carrying our own X-Request-Id, so its log line can be found. */
  async function send(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<HttpResult & { id: string }> {
    const id = randomUUID();
    const res = await h.fetch(path, { ...init, headers: { ...init.headers, 'x-request-id': id } });
    return { ...res, id };
  }

  function tokenRequest(form: Record<string, string>, authorization?: string) {
    if (authorization) sensitive.push(authorization);
    return send('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': FORM, ...(authorization ? { authorization } : {}) },
      body: new URLSearchParams(form).toString(),
    });
  }

  function expectOneLine(res: HttpResult & { id: string }, expected: Record<string, unknown>) {
    expect(res.headers.get('x-request-id')).toBe(res.id);
    const lines = log.requestLines(res.id);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, req_id: res.id, status: res.status, ...expected });
    expect(lines[0]!.latency_ms).toEqual(expect.any(Number));
    expect(lines[0]!.latency_ms).toBeGreaterThanOrEqual(0);
    return lines[0]!;
  }

  it('logs a token request with client_secret_basic as one line naming the client', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials' }, basicAuth(account.client_id, secret));
    expect(res.status).toBe(200);
    sensitive.push(res.body.access_token);
    expectOneLine(res, { method: 'POST', route: '/oauth/token', client_id: account.client_id });
  });

  it('logs a token request with client_secret_post without its body', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_id: account.client_id, client_secret: secret });
    expect(res.status).toBe(200);
    sensitive.push(res.body.access_token);
    const line = expectOneLine(res, { method: 'POST', route: '/oauth/token', client_id: account.client_id });
    expect(Object.keys(line).sort()).toEqual(
      ['client_id', 'hostname', 'latency_ms', 'level', 'method', 'msg', 'pid', 'req_id', 'route', 'status', 'time'].sort(),
    );
  });

  it('logs an admin call by its route pattern and the admin client', async () => {
    const bearer = await h.adminToken();
    sensitive.push(bearer, `Bearer ${bearer}`);
    const res = await send(`/admin/v1/service-accounts/${account.id}`, { headers: { authorization: `Bearer ${bearer}` } });
    expect(res.status).toBe(200);
    expectOneLine(res, { method: 'GET', route: '/admin/v1/service-accounts/:id', client_id: ADMIN_CLIENT_ID });
  });

  it('logs a refused request with its status, and the client it named', async () => {
    const wrong = `${secret.slice(0, -4)}${secret.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    sensitive.push(wrong);
    const res = await tokenRequest({ grant_type: 'client_credentials' }, basicAuth(account.client_id, wrong));
    expect(res.status).toBe(401);
    expectOneLine(res, { method: 'POST', route: '/oauth/token', status: 401, client_id: account.client_id });
  });

  it('does not echo a client_id that names no account', async () => {
    const res = await tokenRequest({ grant_type: 'client_credentials', client_id: 'no-such-client', client_secret: 'x'.repeat(40) });
    expect(res.status).toBe(401);
    const line = expectOneLine(res, { route: '/oauth/token', status: 401 });
    expect(line).not.toHaveProperty('client_id');
  });

  it('logs an unmatched path as the path, and replaces an unusable X-Request-Id', async () => {
    const res = await h.fetch('/no/such/path', { headers: { 'x-request-id': 'two words' } });
    expect(res.status).toBe(404);
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(log.requestLines(id)).toEqual([expect.objectContaining({ method: 'GET', route: '/no/such/path', status: 404 })]);
  });

  it('never writes a secret, an Authorization header or a token', () => {
    const text = log.text;
    expect(sensitive.length).toBeGreaterThanOrEqual(8);
    for (const value of sensitive) expect(text).not.toContain(value);
    // nor the base64 inside a Basic header, nor a token's signature on its own
    for (const value of sensitive.filter((v) => v.startsWith('Basic '))) expect(text).not.toContain(value.slice(6));
    for (const value of sensitive.filter((v) => v.startsWith('eyJ'))) expect(text).not.toContain(value.split('.')[2]);
  });

  it('redacts credential-named fields even if code logged them by mistake', () => {
    const probe = new CapturedLog();
    createLogger('info', probe).info(
      { client_secret: 's1', headers: { authorization: 'Basic czI=', cookie: 'c' }, req: { headers: { dpop: 'p' } }, token: 't' },
      'oops',
    );
    const [line] = probe.lines();
    expect(line).toMatchObject({
      client_secret: '[redacted]',
      headers: { authorization: '[redacted]', cookie: '[redacted]' },
      req: { headers: { dpop: '[redacted]' } },
      token: '[redacted]',
    });
  });
});

describe.each(DATABASE_KINDS)('database errors in logs (%s)', (kind) => {
  it("log the query and the database's reason, never the query's parameters", async () => {
    const database = await freshDatabase(kind);
    const value = `argon2-hash-like-${randomUUID()}`;
    try {
      const error = await database.handle.db.execute(sql`select ${value}::uuid`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toContain(value); // what a naive `err.message` would have logged

      const logged = JSON.stringify(loggableError(error));
      expect(logged).not.toContain(value);
      expect(logged).toContain('select $1::uuid');
      expect(logged).toMatch(/invalid input syntax for type uuid/);
      expect(loggableError(error)).toMatchObject({ code: '22P02' });
    } finally {
      await database.destroy();
    }
  });
});

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { ADMIN_CLIENT_ID, basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RETENTION_DAYS = 30;
const API = 'https://orders.example.com';
/** What every failed client authentication looks like to the client, whatever the real reason. */
const GENERIC_INVALID_CLIENT = { error: 'invalid_client', error_description: 'client authentication failed' };

interface Creds {
  id: string;
  secret: string;
}

/** The same secret with its last character changed: right format, right secret id, wrong value. */
const wrong = (creds: Creds): Creds => ({
  id: creds.id,
  secret: `${creds.secret.slice(0, -1)}${creds.secret.endsWith('A') ? 'B' : 'A'}`,
});

function expectProblem(res: HttpResult, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status });
}

describe.each(DATABASE_KINDS)('audit trail (%s)', (kind) => {
  let h: TestService;
  /** Every plaintext secret this suite has seen; none may ever appear in the audit trail. */
  const secretsSeen: string[] = [];
  beforeAll(async () => {
    h = await startTestService(kind);
    secretsSeen.push(h.adminSecret);
  });
  afterAll(() => h?.close());

  /** A service account made through the admin API, its one-time secret remembered for the leak check. */
  const newAccount = async (input: Record<string, unknown> = {}) => {
    const account = await h.createAccount({ scopes: ['orders:read', 'orders:write'], audiences: [API], ...input });
    secretsSeen.push(account.secret.secret);
    return { account, creds: { id: account.client_id, secret: account.secret.secret } as Creds };
  };

  /** A token request under a User-Agent of its own, by which its audit event is found even without a client. */
  const tokenRequest = async (form: Record<string, string>, basic?: Creds) => {
    const userAgent = `audit-test/${randomBytes(6).toString('hex')}`;
    const res = await h.fetch('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': userAgent,
        ...(basic ? { authorization: basicAuth(basic.id, basic.secret) } : {}),
      },
      body: new URLSearchParams(form).toString(),
    });
    return { res, userAgent };
  };

  /** One page of GET /admin/v1{path}?{query}. */
  const page = async (query: string, path = '/audit-events') => {
    const res = await h.admin('GET', `${path}?${query}`);
    expect(res.status, res.text).toBe(200);
    return res.body as { items: any[]; next_cursor: string | null };
  };

  /** Every event matching `query`, following next_cursor to the end. */
  const allEvents = async (query = '', path = '/audit-events', limit = 100) => {
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const body = await page(`${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, path);
      items.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    return items;
  };

  /** The one event of `action` recorded for the request sent with `userAgent`. */
  const eventOf = async (action: string, userAgent: string) => {
    const found = (await allEvents(`action=${action}`)).filter((e) => e.user_agent === userAgent);
    expect(found).toHaveLength(1);
    return found[0];
  };

  describe('token requests', () => {
    it('an issued token is recorded as token.issued with who asked, from where, with which secret and for what', async () => {
      const { account, creds } = await newAccount();
      const { res, userAgent } = await tokenRequest({ ...grant, scope: 'orders:read', audience: API }, creds);
      expect(res.status, res.text).toBe(200);
      await h.service.flush();

      expect(await eventOf('token.issued', userAgent)).toMatchObject({
        action: 'token.issued',
        outcome: 'success',
        reason: null,
        actor: creds.id,
        client_id: creds.id,
        service_account_id: account.id,
        secret_id: account.secret.id,
        source_ip: '127.0.0.1',
        user_agent: userAgent,
        http_status: 200,
        details: { scope: 'orders:read', audience: API, granted_scope: 'orders:read' },
      });
    });

    it('a request smuggling a NUL character into what is recorded is still recorded, and holds back no later event', async () => {
      const { creds } = await newAccount();
      const smuggled = await tokenRequest({ ...grant, scope: 'orders:read\u0000x', audience: API }, creds);
      expect(smuggled.res.status, smuggled.res.text).toBe(400);
      const after = await tokenRequest({ ...grant, scope: 'orders:read', audience: API }, creds);
      expect(after.res.status, after.res.text).toBe(200);
      await h.service.flush();

      expect(h.service.audit.pending).toBe(0);
      const denied = await eventOf('token.denied', smuggled.userAgent);
      expect(denied.details.scope).toBe('orders:read\ufffdx');
      await eventOf('token.issued', after.userAgent);
    });

    it('a lone UTF-16 surrogate smuggled in a JSON request is recorded as U+FFFD, and holds back no later event', async () => {
      const { creds } = await newAccount();
      const userAgent = `audit-test/${randomBytes(6).toString('hex')}`;
      // JSON text can name half a surrogate pair ("\\ud800"), which jsonb refuses.
      const body = '{"grant_type":"client_credentials","scope":"orders:read\\ud800x","audience":"' + API + '"}';
      const smuggled = await h.fetch('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': userAgent, authorization: basicAuth(creds.id, creds.secret) },
        body,
      });
      expect(smuggled.status, smuggled.text).toBe(400);
      const after = await tokenRequest({ ...grant, scope: 'orders:read', audience: API }, creds);
      expect(after.res.status, after.res.text).toBe(200);
      await h.service.flush();

      expect(h.service.audit.pending).toBe(0);
      const denied = await eventOf('token.denied', userAgent);
      expect(denied.details.scope).toBe('orders:read\ufffdx');
      await eventOf('token.issued', after.userAgent);
    });

    it('quotes, commas, backslashes and line breaks are recorded exactly as sent (none of them splits or shifts a field)', async () => {
      const { creds } = await newAccount();
      const userAgent = `audit-test/${randomBytes(6).toString('hex')} "quoted", a\\b,,""`;
      const scope = 'orders:read "x",\n\\N,\r\n""';
      const res = await h.fetch('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent, authorization: basicAuth(creds.id, creds.secret) },
        body: new URLSearchParams({ ...grant, scope, audience: API }).toString(),
      });
      expect(res.status, res.text).toBe(400);
      await h.service.flush();

      expect(await eventOf('token.denied', userAgent)).toMatchObject({
        client_id: creds.id,
        user_agent: userAgent,
        reason: 'invalid_scope',
        http_status: 400,
        details: { scope, audience: API },
      });
    });

    /** A fresh account after one admin change (a path under the account), presented with its own secret. */
    const afterAdmin = (method: string, under: (account: any) => string, body?: unknown) => async () => {
      const { account, creds } = await newAccount();
      const res = await h.admin(method, `/service-accounts/${account.id}${under(account)}`, body);
      expect(res.status, res.text).toBeLessThan(300);
      return { creds, account, secretId: account.secret.id };
    };
    /** Each arranges a credential the service refuses for that reason, and says what the event should name. */
    const credentialCases: [string, () => Promise<{ creds: Creds; account?: any; secretId?: string }>][] = [
      ['unknown_client', async () => ({ creds: { id: `sa_${randomBytes(12).toString('hex')}`, secret: 'x'.repeat(40) } })],
      ['bad_secret', async () => {
        const { account, creds } = await newAccount();
        return { creds: wrong(creds), account, secretId: account.secret.id };
      }],
      ['secret_disabled', afterAdmin('PATCH', (a) => `/secrets/${a.secret.id}`, { status: 'disabled' })],
      ['secret_revoked', afterAdmin('DELETE', (a) => `/secrets/${a.secret.id}`)],
      ['secret_expired', async () => {
        const { account, creds } = await newAccount();
        const expiresAt = new Date(h.clock.now().getTime() + HOUR).toISOString();
        const added = await h.admin('POST', `/service-accounts/${account.id}/secrets`, { expires_at: expiresAt });
        expect(added.status, added.text).toBe(201);
        secretsSeen.push(added.body.secret);
        h.clock.advance(HOUR + 1000); // past expires_at, by the service's clock
        return { creds: { id: creds.id, secret: added.body.secret }, account, secretId: added.body.id };
      }],
      ['account_disabled', afterAdmin('PATCH', () => '', { status: 'disabled' })],
      ['account_revoked', afterAdmin('POST', () => '/revoke')],
    ];

    it.each(credentialCases)('a %s denial is recorded with its real reason; the client only hears invalid_client', async (reason, arrange) => {
      const { creds, account, secretId } = await arrange();
      const { res, userAgent } = await tokenRequest({ ...grant, scope: 'orders:read' }, creds);
      expect(res.status, res.text).toBe(401);
      expect(res.body).toEqual(GENERIC_INVALID_CLIENT);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      await h.service.flush();

      expect(await eventOf('token.denied', userAgent)).toMatchObject({
        outcome: 'failure',
        reason,
        client_id: creds.id,
        service_account_id: account?.id ?? null,
        secret_id: secretId ?? null,
        source_ip: '127.0.0.1',
        http_status: 401,
        details: { scope: 'orders:read' },
      });
    });

    it('missing or unparseable client credentials are recorded as malformed_credentials', async () => {
      const missing = await tokenRequest({ ...grant });
      expect(missing.res.status).toBe(401);
      expect(missing.res.body.error).toBe('invalid_client');
      const garbled = await h.fetch('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic %%%', 'user-agent': 'garbled-basic' },
        body: 'grant_type=client_credentials',
      });
      expect(garbled.status).toBe(401);
      expect(garbled.headers.get('www-authenticate')).toMatch(/^Basic /);
      for (const userAgent of [missing.userAgent, 'garbled-basic']) {
        expect(await eventOf('token.denied', userAgent)).toMatchObject({ reason: 'malformed_credentials', http_status: 401 });
      }
    });

    const requestCases: [string, (creds: Creds) => Record<string, string>, Record<string, unknown>, boolean][] = [
      ['invalid_scope', () => ({ ...grant, scope: 'orders:read orders:delete' }), { scope: 'orders:read orders:delete' }, true],
      ['invalid_target', () => ({ ...grant, audience: 'https://elsewhere.example' }), { audience: 'https://elsewhere.example' }, true],
      ['unsupported_grant_type', () => ({ grant_type: 'password', scope: 'orders:read' }), { scope: 'orders:read' }, false],
      ['invalid_request', () => ({ scope: 'orders:read' }), { scope: 'orders:read' }, false],
    ];

    it.each(requestCases)('a request refused as %s is recorded with that reason and status 400', async (reason, form, details, authenticated) => {
      const { account, creds } = await newAccount();
      const { res, userAgent } = await tokenRequest(form(creds), creds);
      expect(res.status, res.text).toBe(400);
      expect(res.body).toEqual({ error: reason, error_description: expect.any(String) });
      expect(res.body.access_token).toBeUndefined();

      const event = await eventOf('token.denied', userAgent);
      expect(event).toMatchObject({ outcome: 'failure', reason, http_status: 400, source_ip: '127.0.0.1', details });
      // Refused after authentication: the client is known; refused while parsing: nothing is claimed about it.
      expect(event).toMatchObject(
        authenticated
          ? { client_id: creds.id, service_account_id: account.id, secret_id: account.secret.id }
          : { client_id: null, service_account_id: null, secret_id: null },
      );
    });
  });

  describe('admin actions', () => {
    it('every change to an account and its secrets is recorded, by whom and what, and outlives the account', async () => {
      const { account } = await newAccount({ description: 'first' });
      const path = `/service-accounts/${account.id}`;
      const ok = async (res: Promise<HttpResult>, status: number) => {
        const done = await res;
        expect(done.status, done.text).toBe(status);
        return done.body;
      };
      await ok(h.admin('PATCH', path, { description: 'second', scopes: ['orders:read'] }), 200);
      await ok(h.admin('PATCH', path, { status: 'disabled' }), 200);
      await ok(h.admin('PATCH', path, { status: 'active' }), 200);
      const added = await ok(h.admin('POST', `${path}/secrets`, { description: 'rotation' }), 201);
      secretsSeen.push(added.secret);
      const secretPath = `${path}/secrets/${added.id}`;
      await ok(h.admin('PATCH', secretPath, { status: 'disabled' }), 200);
      await ok(h.admin('PATCH', secretPath, { status: 'active' }), 200);
      await ok(h.admin('DELETE', secretPath), 204);
      await ok(h.admin('POST', `${path}/revoke`), 200);
      await ok(h.admin('DELETE', path), 204);
      expect((await h.admin('GET', path)).status).toBe(404);

      // The account is gone; its trail, newest first, is still there, under both ways of asking.
      const events = await allEvents('', `${path}/audit-events`);
      expect(await allEvents(`service_account_id=${account.id}`)).toEqual(events);
      const expected: [string, number, string | null, Record<string, unknown>][] = [
        ['service_account.created', 201, account.secret.id, { name: account.name, description: 'first', scopes: ['orders:read', 'orders:write'], audiences: [API], secret_prefix: account.secret.prefix }],
        ['service_account.updated', 200, null, { changes: { description: 'second', scopes: ['orders:read'] } }],
        ['service_account.disabled', 200, null, { changes: { status: 'disabled' } }],
        ['service_account.enabled', 200, null, { changes: { status: 'active' } }],
        ['secret.created', 201, added.id, { prefix: added.prefix, expires_at: added.expires_at }],
        ['secret.disabled', 200, added.id, { prefix: added.prefix }],
        ['secret.enabled', 200, added.id, { prefix: added.prefix }],
        ['secret.revoked', 204, added.id, { prefix: added.prefix }],
        ['service_account.revoked', 200, null, { name: account.name }],
        ['service_account.deleted', 204, null, { name: account.name }],
      ];
      expect(events.map((e) => e.action)).toEqual(expected.map(([action]) => action).reverse());
      for (const [action, httpStatus, secretId, details] of expected) {
        const event = events.find((e) => e.action === action);
        expect(event, action).toMatchObject({
          outcome: 'success',
          actor: ADMIN_CLIENT_ID,
          service_account_id: account.id,
          secret_id: secretId,
          source_ip: '127.0.0.1',
          http_status: httpStatus,
          details: expect.objectContaining(details),
        });
      }
      expect(events.find((e) => e.action === 'service_account.created').client_id).toBe(account.client_id);
    });

    it('no plaintext secret, of a client or of the admin, appears anywhere in the audit trail', async () => {
      const { account, creds } = await newAccount();
      const added = await h.admin('POST', `/service-accounts/${account.id}/secrets`, {});
      expect(added.status, added.text).toBe(201);
      secretsSeen.push(added.body.secret);
      // Used rightly and wrongly, by Basic and in the body, and by a client that does not exist.
      expect((await tokenRequest(grant, { id: creds.id, secret: added.body.secret })).res.status).toBe(200);
      expect((await tokenRequest({ ...grant, client_id: creds.id, client_secret: creds.secret })).res.status).toBe(200);
      expect((await tokenRequest(grant, wrong(creds))).res.status).toBe(401);
      expect((await tokenRequest(grant, { id: 'no-such-client', secret: added.body.secret })).res.status).toBe(401);
      expect((await tokenRequest({ ...grant, client_secret: creds.secret }, creds)).res.status).toBe(400);
      secretsSeen.push(wrong(creds).secret);

      const trail = JSON.stringify(await allEvents());
      // The search does see what is derived from the secrets: their ids and display prefixes.
      expect(trail).toContain(account.secret.prefix);
      expect(trail).toContain(added.body.id);
      for (const secret of secretsSeen) {
        expect(trail.includes(secret), `a secret ending …${secret.slice(-4)} leaked`).toBe(false);
        // The random part alone (after the ccs_<id>_ prefix) is the secret too.
        expect(trail.includes(secret.slice(-43)), `a secret ending …${secret.slice(-4)} leaked`).toBe(false);
      }
    });
  });

  describe('GET /admin/v1/audit-events', () => {
    it('filters by service account, action and outcome', async () => {
      const a = await newAccount();
      const b = await newAccount();
      expect((await tokenRequest(grant, a.creds)).res.status).toBe(200);
      expect((await tokenRequest({ ...grant, scope: 'nope' }, a.creds)).res.status).toBe(400);
      expect((await tokenRequest(grant, b.creds)).res.status).toBe(200);

      const ofA = await allEvents(`service_account_id=${a.account.id}`);
      expect(ofA.map((e) => [e.action, e.outcome])).toEqual([
        ['token.denied', 'failure'],
        ['token.issued', 'success'],
        ['service_account.created', 'success'],
      ]);
      expect(ofA.every((e) => e.service_account_id === a.account.id)).toBe(true);

      const issued = await allEvents(`action=token.issued`);
      expect(issued.every((e) => e.action === 'token.issued')).toBe(true);
      expect(issued.map((e) => e.client_id)).toEqual(expect.arrayContaining([a.creds.id, b.creds.id]));

      const failures = await allEvents('outcome=failure');
      expect(failures.length).toBeGreaterThan(0);
      expect(failures.every((e) => e.outcome === 'failure')).toBe(true);
      expect(failures.some((e) => e.service_account_id === b.account.id)).toBe(false);

      const combined = await allEvents(`service_account_id=${a.account.id}&action=token.denied&outcome=failure`);
      expect(combined.map((e) => e.reason)).toEqual(['invalid_scope']);
      expect(await allEvents(`service_account_id=${b.account.id}&outcome=failure`)).toEqual([]);
    });

    it('from and to select a time range, both ends included, in any offset', async () => {
      const { account, creds } = await newAccount();
      const times: string[] = [h.clock.now().toISOString()];
      for (let i = 0; i < 3; i++) {
        h.clock.advance(HOUR);
        times.push(h.clock.now().toISOString());
        expect((await tokenRequest(grant, creds)).res.status).toBe(200);
      }
      const within = async (range: string) =>
        (await allEvents(`service_account_id=${account.id}&${range}`)).map((e) => e.occurred_at);

      expect(await within('')).toEqual([...times].reverse());
      expect(await within(`from=${times[1]}&to=${times[2]}`)).toEqual([times[2], times[1]]);
      expect(await within(`from=${times[2]}`)).toEqual([times[3], times[2]]);
      expect(await within(`to=${times[1]}`)).toEqual([times[1], times[0]]);
      // The same instant written with an offset.
      const plusTwo = new Date(times[1]!).getTime() + 2 * HOUR;
      const withOffset = `${new Date(plusTwo).toISOString().slice(0, 23)}+02:00`;
      expect(await within(`from=${encodeURIComponent(withOffset)}&to=${encodeURIComponent(withOffset)}`)).toEqual([times[1]]);
      expect(await within(`from=${times[3]}&to=${times[0]}`)).toEqual([]);
    });

    it('lists newest first and pages with limit and next_cursor, without duplicates or gaps, even within one instant', async () => {
      const { account, creds } = await newAccount();
      // Seven events at the same instant, then three an hour later.
      for (let i = 0; i < 6; i++) expect((await tokenRequest(grant, creds)).res.status).toBe(200);
      h.clock.advance(HOUR);
      for (let i = 0; i < 3; i++) expect((await tokenRequest(grant, creds)).res.status).toBe(200);

      const query = `service_account_id=${account.id}`;
      const whole = await allEvents(query);
      expect(whole).toHaveLength(10);
      for (let i = 1; i < whole.length; i++) {
        const [newer, older] = [whole[i - 1], whole[i]];
        expect(newer.occurred_at >= older.occurred_at).toBe(true);
        if (newer.occurred_at === older.occurred_at) expect(Number(newer.id)).toBeGreaterThan(Number(older.id));
      }

      const first = await page(`${query}&limit=3`);
      expect(first.items).toHaveLength(3);
      expect(first.next_cursor).toEqual(expect.any(String));
      const paged = await allEvents(query, '/audit-events', 3);
      expect(paged.map((e) => e.id)).toEqual(whole.map((e) => e.id));
      expect(new Set(paged.map((e) => e.id)).size).toBe(10);
      // An exact last page says so.
      const last = await page(`${query}&limit=10`);
      expect(last.items).toHaveLength(10);
      expect(last.next_cursor).toBeNull();
    });

    it('refuses bad filter values with a problem naming the field', async () => {
      const bad: [string, string][] = [
        ['service_account_id=not-a-uuid', 'service_account_id'],
        ['outcome=maybe', 'outcome'],
        [`action=${'x'.repeat(101)}`, 'action'],
        ['from=yesterday', 'from'],
        ['to=2026-13-01T00:00:00Z', 'to'],
        ['from=2026-06-01', 'from'],
        ['limit=0', 'limit'],
        ['limit=101', 'limit'],
        ['limit=ten', 'limit'],
        ['cursor=not-a-cursor', 'cursor'],
      ];
      for (const [query, field] of bad) {
        const res = await h.admin('GET', `/audit-events?${query}`);
        expectProblem(res, 400);
        expect(res.body.errors.map((e: { field: string }) => e.field), query).toContain(field);
      }
      expectProblem(await h.admin('GET', '/service-accounts/not-a-uuid/audit-events'), 404);
    });

    it('needs service-account:read', async () => {
      const { account, creds } = await newAccount({ scopes: ['service-account:create'], audiences: [h.config.adminAudience] });
      const { res } = await tokenRequest(grant, creds);
      expect(res.status, res.text).toBe(200);
      const token = res.body.access_token as string;
      for (const path of ['/audit-events', `/service-accounts/${account.id}/audit-events`]) {
        const refused = await h.admin('GET', path, undefined, token);
        expectProblem(refused, 403);
        expect(refused.headers.get('www-authenticate')).toContain('service-account:read');
      }
    });
  });
});

describe.each(DATABASE_KINDS)('audit retention (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { AUDIT_RETENTION_DAYS: String(RETENTION_DAYS) });
  });
  afterAll(() => h?.close());

  /** `action@occurred_at` of each event listed at `path`, newest first. */
  const listed = async (path: string) => {
    const res = await h.admin('GET', `${path}${path.includes('?') ? '&' : '?'}limit=100`);
    expect(res.status, res.text).toBe(200);
    return (res.body.items as any[]).map((e) => `${e.action}@${e.occurred_at}`);
  };

  it('purgeExpired deletes events older than AUDIT_RETENTION_DAYS and keeps the rest', async () => {
    const account = await h.createAccount();
    const creds = { id: account.client_id, secret: account.secret.secret };
    const start = h.clock.now().toISOString();
    expect((await h.token(grant, creds)).status).toBe(200);
    h.clock.advance(10 * DAY);
    const later = h.clock.now().toISOString();
    expect((await h.token(grant, creds)).status).toBe(200);
    await h.service.flush();

    // Exactly RETENTION_DAYS old: still kept.
    h.clock.advance((RETENTION_DAYS - 10) * DAY);
    expect(await h.service.purgeExpired()).toEqual({ auditEvents: 0 });
    const ofAccount = `/service-accounts/${account.id}/audit-events`;
    expect(await listed(ofAccount)).toEqual([`token.issued@${later}`, `token.issued@${start}`, `service_account.created@${start}`]);

    // A moment later: the first instant's events go (the account's two and the admin's token), the later one stays.
    h.clock.advance(1);
    expect(await h.service.purgeExpired()).toEqual({ auditEvents: 3 });
    expect(await listed(ofAccount)).toEqual([`token.issued@${later}`]);
    expect(await listed(`/audit-events?to=${encodeURIComponent(start)}`)).toEqual([]);
  });
});

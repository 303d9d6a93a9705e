import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { ADMIN_CLIENT_ID, startTestService, uniqueName, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const ALL_ADMIN = ['service-account:read', 'service-account:create', 'service-account:update', 'service-account:delete'];

function expectProblem(res: HttpResult, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
}

/** 401 with a Bearer challenge saying the presented token is no good (RFC 6750 §3.1). */
function expectInvalidToken(res: HttpResult) {
  expectProblem(res, 401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer\b/);
  expect(challenge).toContain('error="invalid_token"');
}

function expectInsufficientScope(res: HttpResult, scope: string) {
  expectProblem(res, 403);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer\b/);
  expect(challenge).toContain('error="insufficient_scope"');
  expect(challenge).toContain(scope);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decodePart = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));

describe.each(DATABASE_KINDS)('admin API authentication and authorization (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  /** Creates an account and returns it with a fresh token of it. */
  const accountWithToken = async (input: Record<string, unknown>) => {
    const account = await h.createAccount(input);
    const res = await h.token(grant, { id: account.client_id, secret: account.secret.secret });
    expect(res.status, res.text).toBe(200);
    return { account, token: res.body.access_token as string };
  };
  const adminWith = (scopes: string[]) => accountWithToken({ scopes, audiences: [h.config.adminAudience] });
  const search = async (name: string) =>
    (await h.admin('GET', `/service-accounts?q=${encodeURIComponent(name)}`)).body.items as any[];

  describe('authentication', () => {
    it('answers a request without Authorization with 401, a Bearer challenge and a problem', async () => {
      const name = uniqueName('anon');
      const attempts = [
        await h.fetch('/admin/v1/service-accounts'),
        await h.fetch('/admin/v1/service-accounts', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name }),
        }),
        await h.fetch('/admin/v1/service-accounts/00000000-0000-4000-8000-000000000000', { method: 'DELETE' }),
      ];
      for (const res of attempts) {
        expectProblem(res, 401);
        const challenge = res.headers.get('www-authenticate') ?? '';
        expect(challenge).toMatch(/^Bearer\b/);
        // RFC 6750 §3.1: no error code when the request carried no credentials.
        expect(challenge).not.toContain('error=');
      }
      expect(await search(name)).toEqual([]);
    });

    it('refuses a garbage token with 401 invalid_token', async () => {
      for (const token of ['garbage', 'a.b.c', 'eyJhbGciOiJSUzI1NiJ9.e30.', `${'x'.repeat(40)}.${'y'.repeat(40)}.zz`]) {
        expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, token));
      }
    });

    it('refuses other authorization schemes with 401 and a Bearer challenge', async () => {
      for (const authorization of [`Basic ${Buffer.from(`${ADMIN_CLIENT_ID}:${h.adminSecret}`).toString('base64')}`, 'Bearer', 'Bearer  ']) {
        const res = await h.fetch('/admin/v1/service-accounts', { headers: { authorization } });
        expectProblem(res, 401);
        expect(res.headers.get('www-authenticate') ?? '').toMatch(/^Bearer\b/);
      }
    });

    it('refuses an admin token with a tampered signature', async () => {
      const [header, payload, signature] = (await h.adminToken()).split('.') as [string, string, string];
      const middle = Math.floor(signature.length / 2);
      const flipped = signature[middle] === 'A' ? 'B' : 'A';
      const tampered = `${header}.${payload}.${signature.slice(0, middle)}${flipped}${signature.slice(middle + 1)}`;
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, tampered));
      // The untampered token is accepted.
      expect((await h.admin('GET', '/service-accounts', undefined, `${header}.${payload}.${signature}`)).status).toBe(200);
    });

    it('refuses a token whose claims were altered under the original signature', async () => {
      const { token } = await adminWith(['service-account:read']);
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const claims = decodePart(payload);
      const forged = `${header}.${b64({ ...claims, scope: ALL_ADMIN.join(' ') })}.${signature}`;
      expectInvalidToken(await h.admin('POST', '/service-accounts', { name: uniqueName('forged') }, forged));
    });

    it('refuses an unsigned (alg none) token', async () => {
      const [, payload] = (await h.adminToken()).split('.') as [string, string];
      const unsigned = `${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`;
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, unsigned));
    });

    it('refuses a token issued for another audience, even one carrying admin scopes', async () => {
      const normal = await accountWithToken({ scopes: ['orders:read'], audiences: ['https://orders.example.com'] });
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, normal.token));

      const lookalike = await accountWithToken({ scopes: ALL_ADMIN, audiences: ['https://orders.example.com'] });
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, lookalike.token));

      const defaultAudience = await accountWithToken({ scopes: ALL_ADMIN });
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, defaultAudience.token));
    });

    it('refuses an access token issued by another token service', async () => {
      const other = await startTestService(kind);
      try {
        const foreign = await other.adminToken();
        expect((await other.admin('GET', '/service-accounts', undefined, foreign)).status).toBe(200);
        expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, foreign));
      } finally {
        await other.close();
      }
    });

    it('cuts off an admin disabled by another admin at once', async () => {
      const { account, token } = await adminWith(ALL_ADMIN);
      expect((await h.admin('GET', '/service-accounts', undefined, token)).status).toBe(200);
      expect((await h.admin('PATCH', `/service-accounts/${account.id}`, { status: 'disabled' })).status).toBe(200);
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, token));
      expectInvalidToken(await h.admin('POST', '/service-accounts', { name: uniqueName('by-disabled') }, token));
    });

    it('cuts off a revoked admin at once', async () => {
      const { account, token } = await adminWith(ALL_ADMIN);
      expect((await h.admin('GET', '/service-accounts', undefined, token)).status).toBe(200);
      expect((await h.admin('POST', `/service-accounts/${account.id}/revoke`)).status).toBe(200);
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, token));
    });

    it('cuts off a deleted admin at once', async () => {
      const { account, token } = await adminWith(ALL_ADMIN);
      expect((await h.admin('DELETE', `/service-accounts/${account.id}`)).status).toBe(204);
      expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, token));
    });

    it('an admin cannot get a new token once disabled, and regains access when re-enabled', async () => {
      const { account } = await adminWith(ALL_ADMIN);
      const creds = { id: account.client_id, secret: account.secret.secret };
      await h.admin('PATCH', `/service-accounts/${account.id}`, { status: 'disabled' });
      expect((await h.token(grant, creds)).body.error).toBe('invalid_client');
      await h.admin('PATCH', `/service-accounts/${account.id}`, { status: 'active' });
      const fresh = await h.token(grant, creds);
      expect(fresh.status).toBe(200);
      expect((await h.admin('GET', '/service-accounts', undefined, fresh.body.access_token)).status).toBe(200);
    });
  });

  describe('authorization by scope', () => {
    it('a read-only admin can read but not create, edit, revoke, add or change secrets, or delete', async () => {
      const { token } = await adminWith(['service-account:read']);
      const target = await h.createAccount({ description: 'untouched' });
      const path = `/service-accounts/${target.id}`;

      expect((await h.admin('GET', '/service-accounts', undefined, token)).status).toBe(200);
      const got = await h.admin('GET', path, undefined, token);
      expect(got.status).toBe(200);
      expect(got.body.id).toBe(target.id);
      expect((await h.admin('GET', `${path}/secrets`, undefined, token)).status).toBe(200);

      const name = uniqueName('by-reader');
      expectInsufficientScope(await h.admin('POST', '/service-accounts', { name }, token), 'service-account:create');
      expectInsufficientScope(await h.admin('PATCH', path, { description: 'changed' }, token), 'service-account:update');
      expectInsufficientScope(await h.admin('PATCH', path, { status: 'disabled' }, token), 'service-account:update');
      expectInsufficientScope(await h.admin('POST', `${path}/revoke`, undefined, token), 'service-account:update');
      expectInsufficientScope(await h.admin('POST', `${path}/secrets`, {}, token), 'service-account:update');
      const secretPath = `${path}/secrets/${target.secret.id}`;
      expectInsufficientScope(await h.admin('PATCH', secretPath, { status: 'disabled' }, token), 'service-account:update');
      expectInsufficientScope(await h.admin('DELETE', secretPath, undefined, token), 'service-account:update');
      expectInsufficientScope(await h.admin('DELETE', path, undefined, token), 'service-account:delete');

      // Nothing changed.
      expect(await search(name)).toEqual([]);
      const after = await h.admin('GET', path);
      expect(after.body).toMatchObject({ status: 'active', description: 'untouched' });
      expect(after.body.secrets).toEqual([expect.objectContaining({ id: target.secret.id, status: 'active' })]);
      expect((await h.token(grant, { id: target.client_id, secret: target.secret.secret })).status).toBe(200);
    });

    it('each scope grants only its own actions', async () => {
      const target = await h.createAccount();
      const path = `/service-accounts/${target.id}`;

      const updater = (await adminWith(['service-account:update'])).token;
      expect((await h.admin('PATCH', path, { description: 'by updater' }, updater)).status).toBe(200);
      expectInsufficientScope(await h.admin('GET', path, undefined, updater), 'service-account:read');
      expectInsufficientScope(await h.admin('DELETE', path, undefined, updater), 'service-account:delete');
      expectInsufficientScope(
        await h.admin('POST', '/service-accounts', { name: uniqueName('by-updater') }, updater),
        'service-account:create',
      );

      const creator = (await adminWith(['service-account:create'])).token;
      const created = await h.admin('POST', '/service-accounts', { name: uniqueName('by-creator') }, creator);
      expect(created.status).toBe(201);
      expectInsufficientScope(await h.admin('GET', '/service-accounts', undefined, creator), 'service-account:read');

      const deleter = (await adminWith(['service-account:delete'])).token;
      expectInsufficientScope(await h.admin('PATCH', path, { description: 'by deleter' }, deleter), 'service-account:update');
      expect((await h.admin('DELETE', path, undefined, deleter)).status).toBe(204);
      expectProblem(await h.admin('GET', path), 404);
    });

    it('an admin with no admin scopes at all can do nothing', async () => {
      const { token } = await adminWith([]);
      expectInsufficientScope(await h.admin('GET', '/service-accounts', undefined, token), 'service-account:read');
    });

    it('a token asked for with fewer scopes carries only those rights', async () => {
      const narrowed = await h.token(
        { ...grant, scope: 'service-account:read' },
        { id: ADMIN_CLIENT_ID, secret: h.adminSecret },
      );
      expect(narrowed.status).toBe(200);
      const token = narrowed.body.access_token as string;
      expect((await h.admin('GET', '/service-accounts', undefined, token)).status).toBe(200);
      expectInsufficientScope(
        await h.admin('POST', '/service-accounts', { name: uniqueName('narrowed') }, token),
        'service-account:create',
      );
    });

    it('scopes removed from an admin account stop working for tokens issued afterwards', async () => {
      const { account } = await adminWith(ALL_ADMIN);
      await h.admin('PATCH', `/service-accounts/${account.id}`, { scopes: ['service-account:read'] });
      const res = await h.token(grant, { id: account.client_id, secret: account.secret.secret });
      expect(res.status).toBe(200);
      const token = res.body.access_token as string;
      expect((await h.admin('GET', '/service-accounts', undefined, token)).status).toBe(200);
      expectInsufficientScope(
        await h.admin('POST', '/service-accounts', { name: uniqueName('demoted') }, token),
        'service-account:create',
      );
    });
  });

  describe('routes', () => {
    it('answers an unknown route under /admin/v1 with a 404 problem', async () => {
      const token = await h.adminToken();
      for (const path of ['/nope', '/service-accounts/x/y/z', '/', '/service-accounts/00000000-0000-4000-8000-000000000000/keys']) {
        expectProblem(await h.admin('GET', path, undefined, token), 404);
      }
    });
  });
});

describe.each(DATABASE_KINDS)('admin API: token expiry on the harness clock (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  it('accepts an admin token until it expires after 15 minutes, and refuses it from then on', async () => {
    const token = await h.adminToken();
    h.clock.advance(14 * 60_000);
    expect((await h.admin('GET', '/service-accounts', undefined, token)).status).toBe(200);
    h.clock.advance(60_000 + 1000);
    expectInvalidToken(await h.admin('GET', '/service-accounts', undefined, token));
    // A fresh token works again.
    expect((await h.admin('GET', '/service-accounts')).status).toBe(200);
  });
});

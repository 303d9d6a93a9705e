import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { startTestService, uniqueName, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const DAY = 86_400_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An RFC 9457 problem with this status, naming (at least) these fields in `errors`. */
function expectProblem(res: HttpResult, status: number, fields: (string | RegExp)[] = []) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
  const named: string[] = (res.body.errors ?? []).map((e: { field: string }) => e.field);
  for (const field of fields) {
    const found = named.some((n) => (typeof field === 'string' ? n === field : field.test(n)));
    expect(found, `${String(field)} not named in ${res.text}`).toBe(true);
  }
}

const credsOf = (account: any) => ({ id: account.client_id, secret: account.secret.secret as string });

describe.each(DATABASE_KINDS)('admin API: service accounts (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  /** Raw request to the admin API with the bootstrap admin's token and whatever headers and body given. */
  const raw = async (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
    h.fetch(`/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${await h.adminToken()}`, ...headers },
      body,
    });

  /** The accounts a `q` search returns, following every page. */
  const search = async (q: string, extra = '') => {
    const res = await h.admin('GET', `/service-accounts?q=${encodeURIComponent(q)}&limit=100${extra}`);
    expect(res.status, res.text).toBe(200);
    return res.body.items as any[];
  };

  describe('create', () => {
    it('creates an account with defaults: 201, full shape, Location, no-store, one secret shown once', async () => {
      const name = uniqueName('create');
      const res = await h.admin('POST', '/service-accounts', { name });
      expect(res.status, res.text).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      const now = h.clock.now();
      const body = res.body;
      expect(body).toEqual({
        id: expect.stringMatching(UUID),
        client_id: expect.any(String),
        name,
        description: '',
        status: 'active',
        scopes: [],
        audiences: [],
        token_ttl_seconds: null,
        rate_limit_per_minute: 600,
        allowed_ips: [],
        token_endpoint_auth_methods: ['client_secret_basic', 'client_secret_post'],
        require_dpop: false,
        org_id: 'default',
        roles: [],
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
        last_used_at: null,
        last_used_ip: null,
        secrets: [expect.objectContaining({ id: body.secret.id, status: 'active' })],
        secret: expect.objectContaining({
          id: expect.stringMatching(UUID),
          prefix: expect.stringMatching(/^ccs_/),
          status: 'active',
          expires_at: new Date(now.getTime() + 730 * DAY).toISOString(),
          created_at: now.toISOString(),
          secret: expect.stringMatching(/^ccs_/),
        }),
      });
      expect(body.client_id.length).toBeGreaterThan(0);
      expect(body.secrets[0]).not.toHaveProperty('secret');
      expect(body.secret.secret.startsWith(body.secret.prefix)).toBe(true);
      expect(res.headers.get('location')).toBe(`/admin/v1/service-accounts/${body.id}`);

      // The Location names the account, and its client can get a token at once.
      const fetched = await h.admin('GET', `/service-accounts/${body.id}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body.client_id).toBe(body.client_id);
      expect((await h.token(grant, credsOf(body))).status).toBe(200);
    });

    it('keeps the given description, scopes, audiences and token lifetime, and issues tokens accordingly', async () => {
      const account = await h.createAccount({
        description: 'Nightly billing export',
        scopes: ['billing:read', 'billing:export'],
        audiences: ['https://billing.example.com'],
        token_ttl_seconds: 300,
      });
      expect(account).toMatchObject({
        description: 'Nightly billing export',
        scopes: ['billing:read', 'billing:export'],
        audiences: ['https://billing.example.com'],
        token_ttl_seconds: 300,
      });
      const token = await h.token(grant, credsOf(account));
      expect(token.status).toBe(200);
      expect(token.body).toMatchObject({ expires_in: 300, scope: 'billing:read billing:export' });
      expect(decodeJwt(token.body.access_token).aud).toBe('https://billing.example.com');
    });

    it('shows the plaintext secret only in the creation response, never in GET or list responses', async () => {
      const account = await h.createAccount({ description: 'plaintext check' });
      const plaintext: string = account.secret.secret;
      const randomPart = /^ccs_[0-9a-f]{32}_([A-Za-z0-9_-]{43})$/.exec(plaintext)?.[1];
      expect(randomPart).toBeDefined();

      const responses = [
        await h.admin('GET', `/service-accounts/${account.id}`),
        await h.admin('GET', `/service-accounts?q=${encodeURIComponent(account.name)}`),
        await h.admin('GET', '/service-accounts?limit=100'),
        await h.admin('GET', `/service-accounts/${account.id}/secrets`),
      ];
      for (const res of responses) {
        expect(res.status).toBe(200);
        expect(res.text).toContain(account.secret.id);
        expect(res.text).not.toContain(plaintext);
        expect(res.text).not.toContain(randomPart!);
        expect(res.text).not.toContain('$argon2');
        expect(res.text).not.toMatch(/"(secret|hash)"\s*:/);
      }
    });

    it('accepts a name of exactly 200 characters and trims surrounding spaces', async () => {
      const long = uniqueName('n').padEnd(200, 'x');
      expect((await h.admin('POST', '/service-accounts', { name: long })).status).toBe(201);
      const spaced = uniqueName('trim');
      const res = await h.admin('POST', '/service-accounts', { name: `  ${spaced}  ` });
      expect(res.status).toBe(201);
      expect(res.body.name).toBe(spaced);
    });
  });

  describe('validation', () => {
    const tooLong = (n: number) => 'x'.repeat(n);
    const cases: [string, Record<string, unknown>, (string | RegExp)[]][] = [
      ['an empty name', { name: '' }, ['name']],
      ['a blank name', { name: '   ' }, ['name']],
      ['a name of 201 characters', { name: tooLong(201) }, ['name']],
      ['a name that is not a string', { name: 42 }, ['name']],
      ['a description of 1001 characters', { description: tooLong(1001) }, ['description']],
      ['a scope with a space', { scopes: ['orders read'] }, [/^scopes(\.0)?$/]],
      ['a scope with a double quote', { scopes: ['orders"read'] }, [/^scopes(\.0)?$/]],
      ['an empty scope', { scopes: ['ok:scope', ''] }, [/^scopes(\.1)?$/]],
      ['scopes that are not an array', { scopes: 'orders:read' }, ['scopes']],
      ['an audience with whitespace', { audiences: ['https://orders.example.com x'] }, [/^audiences(\.0)?$/]],
      ['an audience with a tab', { audiences: ['https://a.example.com\t'] }, [/^audiences(\.0)?$/]],
      ['token_ttl_seconds 0', { token_ttl_seconds: 0 }, ['token_ttl_seconds']],
      ['token_ttl_seconds 1.5', { token_ttl_seconds: 1.5 }, ['token_ttl_seconds']],
      ['token_ttl_seconds above MAX_TOKEN_TTL_SECONDS', { token_ttl_seconds: 3601 }, ['token_ttl_seconds']],
      ['token_ttl_seconds as a string', { token_ttl_seconds: '60' }, ['token_ttl_seconds']],
      ['an unknown field', { foo: 'bar' }, ['foo']],
    ];

    it.each(cases)('refuses %s with a 400 problem naming the field, and creates nothing', async (_label, fields, named) => {
      const name = uniqueName('invalid');
      const res = await h.admin('POST', '/service-accounts', { name, ...fields });
      expectProblem(res, 400, named);
      expect(await search(name)).toEqual([]);
    });

    it('names every bad field at once', async () => {
      const res = await h.admin('POST', '/service-accounts', {
        name: '',
        description: tooLong(1001),
        scopes: ['a b'],
        audiences: ['has space'],
        token_ttl_seconds: 0,
        foo: 1,
      });
      expectProblem(res, 400, ['name', 'description', /^scopes/, /^audiences/, 'token_ttl_seconds', 'foo']);
      for (const error of res.body.errors) expect(error.message).toEqual(expect.any(String));
    });

    it('requires a name', async () => {
      expectProblem(await h.admin('POST', '/service-accounts', { description: 'no name' }), 400, ['name']);
    });

    it('refuses the same bad fields on PATCH and leaves the account unchanged', async () => {
      const account = await h.createAccount({ scopes: ['keep:me'] });
      const res = await h.admin('PATCH', `/service-accounts/${account.id}`, {
        name: '',
        scopes: ['bad scope'],
        token_ttl_seconds: 1.5,
        foo: true,
      });
      expectProblem(res, 400, ['name', /^scopes/, 'token_ttl_seconds', 'foo']);
      const after = await h.admin('GET', `/service-accounts/${account.id}`);
      expect(after.body).toMatchObject({ name: account.name, scopes: ['keep:me'], token_ttl_seconds: null });
    });

    it('answers malformed JSON and non-object bodies with 400', async () => {
      for (const body of ['{"name": ', 'not json', '[]', 'null', '"a name"']) {
        const res = await raw('POST', '/service-accounts', body, { 'content-type': 'application/json' });
        expectProblem(res, 400);
      }
    });

    it('answers a body that is not JSON by content type with 415', async () => {
      const name = uniqueName('ctype');
      const body = JSON.stringify({ name });
      expectProblem(await raw('POST', '/service-accounts', body, { 'content-type': 'text/plain' }), 415);
      expectProblem(
        await raw('POST', '/service-accounts', `name=${name}`, { 'content-type': 'application/x-www-form-urlencoded' }),
        415,
      );
      expect(await search(name)).toEqual([]);
      // A charset parameter on application/json is fine.
      const ok = await raw('POST', '/service-accounts', body, { 'content-type': 'application/json; charset=utf-8' });
      expect(ok.status).toBe(201);
    });

    it('answers a body over 16 KiB with 413 and creates nothing', async () => {
      const name = uniqueName('big');
      const body = JSON.stringify({ name, scopes: Array.from({ length: 100 }, (_, i) => `s${i}:${'x'.repeat(180)}`) });
      expect(body.length).toBeGreaterThan(16 * 1024);
      const res = await raw('POST', '/service-accounts', body, { 'content-type': 'application/json' });
      expectProblem(res, 413);
      expect(await search(name)).toEqual([]);
    });
  });

  describe('names are unique', () => {
    it('refuses a second account with the same name with 409', async () => {
      const first = await h.createAccount();
      const res = await h.admin('POST', '/service-accounts', { name: first.name });
      expectProblem(res, 409);
      expect(await search(first.name)).toHaveLength(1);
      expectProblem(await h.admin('POST', '/service-accounts', { name: ` ${first.name} ` }), 409);
    });

    it('refuses a rename onto an existing name with 409 and keeps the old name', async () => {
      const a = await h.createAccount();
      const b = await h.createAccount();
      expectProblem(await h.admin('PATCH', `/service-accounts/${b.id}`, { name: a.name }), 409);
      expect((await h.admin('GET', `/service-accounts/${b.id}`)).body.name).toBe(b.name);
      // Renaming to its own current name is no conflict.
      expect((await h.admin('PATCH', `/service-accounts/${b.id}`, { name: b.name })).status).toBe(200);
    });
  });

  describe('not found', () => {
    it('answers an unknown id with 404 on every account route', async () => {
      const id = '00000000-0000-4000-8000-000000000000';
      expectProblem(await h.admin('GET', `/service-accounts/${id}`), 404);
      expectProblem(await h.admin('PATCH', `/service-accounts/${id}`, { description: 'x' }), 404);
      expectProblem(await h.admin('POST', `/service-accounts/${id}/revoke`), 404);
      expectProblem(await h.admin('DELETE', `/service-accounts/${id}`), 404);
      expectProblem(await h.admin('GET', `/service-accounts/${id}/secrets`), 404);
      expectProblem(await h.admin('POST', `/service-accounts/${id}/secrets`, {}), 404);
    });

    it('answers ids that are not UUIDs with 404, never 500', async () => {
      for (const id of ['not-a-uuid', '123', "x'or'1'='1", '00000000-0000-4000-8000-00000000000g', '%20']) {
        const path = `/service-accounts/${encodeURIComponent(id)}`;
        expectProblem(await h.admin('GET', path), 404);
        expectProblem(await h.admin('PATCH', path, { description: 'x' }), 404);
        expectProblem(await h.admin('POST', `${path}/revoke`), 404);
        expectProblem(await h.admin('DELETE', path), 404);
        expectProblem(await h.admin('GET', `${path}/secrets`), 404);
      }
    });
  });

  describe('list', () => {
    const pageThrough = async (query: string, limit: number) => {
      const pages: any[][] = [];
      let cursor: string | null = null;
      do {
        const res: HttpResult = await h.admin(
          'GET',
          `/service-accounts?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(res.status, res.text).toBe(200);
        expect(res.body.items.length).toBeLessThanOrEqual(limit);
        pages.push(res.body.items);
        cursor = res.body.next_cursor;
        expect(pages.length).toBeLessThan(20);
      } while (cursor !== null);
      return pages;
    };

    it('pages newest first through next_cursor with no duplicates and no gaps', async () => {
      const tag = uniqueName('page');
      const names: string[] = [];
      for (let i = 0; i < 5; i++) {
        h.clock.advance(1000);
        names.push((await h.createAccount({ name: `${tag}-${i}` })).name);
      }
      const pages = await pageThrough(`q=${encodeURIComponent(tag)}`, 2);
      expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
      expect(pages.flat().map((a) => a.name)).toEqual([...names].reverse());
    });

    it('pages through accounts created at the same instant without duplicates or gaps', async () => {
      const tag = uniqueName('same');
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) ids.push((await h.createAccount({ name: `${tag}-${i}` })).id);
      const pages = await pageThrough(`q=${encodeURIComponent(tag)}`, 3);
      const seen = pages.flat().map((a) => a.id);
      expect(seen).toHaveLength(7);
      expect([...seen].sort()).toEqual([...ids].sort());
    });

    it('returns next_cursor null when everything fits on one page', async () => {
      const tag = uniqueName('single');
      await h.createAccount({ name: `${tag}-a` });
      await h.createAccount({ name: `${tag}-b` });
      const res = await h.admin('GET', `/service-accounts?q=${tag}&limit=2`);
      expect(res.body.items).toHaveLength(2);
      expect(res.body.next_cursor).toBeNull();
    });

    it('includes each account with its secrets metadata', async () => {
      const account = await h.createAccount();
      const [item] = await search(account.name);
      expect(item).toMatchObject({ id: account.id, client_id: account.client_id, status: 'active' });
      expect(item.secrets.map((s: any) => s.id)).toEqual([account.secret.id]);
    });

    it('answers an invalid cursor with 400 naming the cursor', async () => {
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const cursors = [
        'garbage',
        '!!!',
        b64(['2026-01-01T00:00:00.000Z', 'not-a-uuid']),
        b64(['not a date', '00000000-0000-4000-8000-000000000000']),
        b64({ a: 1 }),
        b64(7),
        b64(null),
        'x'.repeat(600),
      ];
      for (const cursor of cursors) {
        const res = await h.admin('GET', `/service-accounts?cursor=${encodeURIComponent(cursor)}`);
        expectProblem(res, 400, [/^(query\.)?cursor$/]);
      }
    });

    it('answers a crafted cursor whose date the database cannot hold with 400, not 500', async () => {
      for (const date of ['+010000-01-01T00:00:00.000Z', '-200000-01-01T00:00:00.000Z']) {
        const cursor = Buffer.from(JSON.stringify([date, '00000000-0000-4000-8000-000000000000'])).toString('base64url');
        const res = await h.admin('GET', `/service-accounts?cursor=${cursor}`);
        expectProblem(res, 400, [/^(query\.)?cursor$/]);
      }
    });

    it('answers limits outside 1..100 with 400 naming limit', async () => {
      for (const limit of ['0', '1000', '101', '-1', '1.5', 'abc']) {
        expectProblem(await h.admin('GET', `/service-accounts?limit=${limit}`), 400, [/^(query\.)?limit$/]);
      }
      expect((await h.admin('GET', '/service-accounts?limit=100')).status).toBe(200);
      expect((await h.admin('GET', '/service-accounts?limit=1')).body.items).toHaveLength(1);
    });

    it('filters by status', async () => {
      const tag = uniqueName('status');
      const active = await h.createAccount({ name: `${tag}-active` });
      const disabled = await h.createAccount({ name: `${tag}-disabled` });
      const revoked = await h.createAccount({ name: `${tag}-revoked` });
      await h.admin('PATCH', `/service-accounts/${disabled.id}`, { status: 'disabled' });
      await h.admin('POST', `/service-accounts/${revoked.id}/revoke`);

      const ids = async (status: string) => (await search(tag, `&status=${status}`)).map((a) => a.id);
      expect(await ids('active')).toEqual([active.id]);
      expect(await ids('disabled')).toEqual([disabled.id]);
      expect(await ids('revoked')).toEqual([revoked.id]);
      expect((await search(tag)).map((a) => a.id).sort()).toEqual([active.id, disabled.id, revoked.id].sort());
      expectProblem(await h.admin('GET', '/service-accounts?status=expired'), 400, [/^(query\.)?status$/]);
    });

    it('q matches name and description case-insensitively', async () => {
      const tag = uniqueName('q');
      const alpha = await h.createAccount({ name: `${tag}-ALPHA` });
      const beta = await h.createAccount({ name: `${tag}-beta`, description: `Nightly Reports ${tag}` });
      const ids = async (q: string) => (await search(q)).map((a) => a.id).sort();
      expect(await ids(`${tag}-alpha`)).toEqual([alpha.id]);
      expect(await ids(`${tag.toUpperCase()}-BETA`)).toEqual([beta.id]);
      expect(await ids(`reports ${tag.toUpperCase()}`)).toEqual([beta.id]);
      expect(await ids(tag)).toEqual([alpha.id, beta.id].sort());
      expect(await ids(`${tag}-gamma`)).toEqual([]);
    });

    it('q treats % and _ literally', async () => {
      const tag = uniqueName('like');
      const literal = await h.createAccount({ name: `${tag}-50%_off` });
      await h.createAccount({ name: `${tag}-50xxoff` });
      await h.createAccount({ name: `${tag}-a`, description: 'back\\slash' });
      const ids = async (q: string) => (await search(q)).map((a) => a.id);
      expect(await ids(`${tag}-50%_off`)).toEqual([literal.id]);
      expect(await ids(`${tag}-50%`)).toEqual([literal.id]);
      expect(await ids(`${tag}-50_`)).toEqual([]);
      expect(await ids(`${tag.slice(0, -1)}_`)).toEqual([]);
      expect(await ids(`${tag}%off`)).toEqual([]);
    });
  });

  describe('edit', () => {
    it('applies edits, keeps existing secrets working, and the next token reflects them', async () => {
      const account = await h.createAccount({ scopes: ['a:read'], audiences: ['https://a.example.com'] });
      const creds = credsOf(account);
      const before = await h.token(grant, creds);
      expect(before.body.scope).toBe('a:read');

      h.clock.advance(1000);
      const newName = uniqueName('renamed');
      const res = await h.admin('PATCH', `/service-accounts/${account.id}`, {
        name: newName,
        description: 'edited',
        scopes: ['a:read', 'a:write'],
        audiences: ['https://b.example.com'],
        token_ttl_seconds: 120,
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({
        id: account.id,
        client_id: account.client_id,
        name: newName,
        description: 'edited',
        status: 'active',
        scopes: ['a:read', 'a:write'],
        audiences: ['https://b.example.com'],
        token_ttl_seconds: 120,
        created_at: account.created_at,
        updated_at: h.clock.now().toISOString(),
      });
      expect(res.body.secrets.map((s: any) => s.id)).toEqual([account.secret.id]);
      expect(res.text).not.toContain(creds.secret);

      const after = await h.token(grant, creds);
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ scope: 'a:read a:write', expires_in: 120 });
      expect(decodeJwt(after.body.access_token).aud).toBe('https://b.example.com');

      const fetched = await h.admin('GET', `/service-accounts/${account.id}`);
      expect(fetched.body).toMatchObject({ name: newName, description: 'edited', scopes: ['a:read', 'a:write'] });
    });

    it('leaves fields that are not sent untouched, and null token_ttl_seconds restores the default', async () => {
      const account = await h.createAccount({ description: 'keep', scopes: ['k:1'], token_ttl_seconds: 60 });
      const res = await h.admin('PATCH', `/service-accounts/${account.id}`, { token_ttl_seconds: null });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ name: account.name, description: 'keep', scopes: ['k:1'], token_ttl_seconds: null });
      expect((await h.token(grant, credsOf(account))).body.expires_in).toBe(h.config.tokenTtlSeconds);
    });

    it('removing a scope means the next token no longer carries it', async () => {
      const account = await h.createAccount({ scopes: ['x:read', 'x:write'] });
      await h.admin('PATCH', `/service-accounts/${account.id}`, { scopes: ['x:read'] });
      const token = await h.token(grant, credsOf(account));
      expect(token.body.scope).toBe('x:read');
      const asked = await h.token({ ...grant, scope: 'x:write' }, credsOf(account));
      expect(asked.status).toBe(400);
      expect(asked.body.error).toBe('invalid_scope');
    });

    it('disabling refuses tokens with invalid_client; re-enabling makes the same secret work again', async () => {
      const account = await h.createAccount();
      const creds = credsOf(account);
      const path = `/service-accounts/${account.id}`;
      const disabled = await h.admin('PATCH', path, { status: 'disabled' });
      expect(disabled.status).toBe(200);
      expect(disabled.body.status).toBe('disabled');
      expect((await h.admin('GET', path)).body.status).toBe('disabled');
      const refused = await h.token(grant, creds);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');

      expect((await h.admin('PATCH', path, { status: 'active' })).body.status).toBe('active');
      expect((await h.token(grant, creds)).status).toBe(200);
    });

    it('refuses status "revoked" on PATCH with 400 and leaves the account active', async () => {
      const account = await h.createAccount();
      const path = `/service-accounts/${account.id}`;
      for (const status of ['revoked', 'deleted', '', null, true]) {
        expectProblem(await h.admin('PATCH', path, { status }), 400, ['status']);
      }
      expect((await h.admin('GET', path)).body.status).toBe('active');
      expect((await h.token(grant, credsOf(account))).status).toBe(200);
    });
  });

  describe('revoke', () => {
    it('revokes for good: tokens refused, no re-activation, no edits, no new secrets', async () => {
      const account = await h.createAccount();
      const creds = credsOf(account);
      const path = `/service-accounts/${account.id}`;
      expect((await h.token(grant, creds)).status).toBe(200);

      const res = await h.admin('POST', `${path}/revoke`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: account.id, status: 'revoked' });

      const refused = await h.token(grant, creds);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');

      expectProblem(await h.admin('PATCH', path, { status: 'active' }), 409);
      expectProblem(await h.admin('PATCH', path, { description: 'still here?' }), 409);
      expectProblem(await h.admin('POST', `${path}/secrets`, {}), 409);

      const fetched = await h.admin('GET', path);
      expect(fetched.body.status).toBe('revoked');
      expect(fetched.body.description).toBe('');
      expect(fetched.body.secrets).toHaveLength(1);
      expect((await h.token(grant, creds)).body.error).toBe('invalid_client');
    });

    it('revokes a disabled account too', async () => {
      const account = await h.createAccount();
      const path = `/service-accounts/${account.id}`;
      await h.admin('PATCH', path, { status: 'disabled' });
      expect((await h.admin('POST', `${path}/revoke`)).body.status).toBe('revoked');
      expectProblem(await h.admin('PATCH', path, { status: 'active' }), 409);
      expect((await h.token(grant, credsOf(account))).body.error).toBe('invalid_client');
    });
  });

  describe('delete', () => {
    it('deletes: 204, then 404 everywhere, tokens refused, a second delete 404, the name free again', async () => {
      const account = await h.createAccount();
      const creds = credsOf(account);
      const path = `/service-accounts/${account.id}`;
      const res = await h.admin('DELETE', path);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');

      expectProblem(await h.admin('GET', path), 404);
      expectProblem(await h.admin('GET', `${path}/secrets`), 404);
      expect(await search(account.name)).toEqual([]);
      const refused = await h.token(grant, creds);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
      expectProblem(await h.admin('DELETE', path), 404);

      const again = await h.admin('POST', '/service-accounts', { name: account.name });
      expect(again.status).toBe(201);
      expect(again.body.id).not.toBe(account.id);
      expect(again.body.client_id).not.toBe(account.client_id);
      expect((await h.token(grant, creds)).body.error).toBe('invalid_client');
    });
  });
});

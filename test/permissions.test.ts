import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { ADMIN_CLIENT_ID, startTestService, startTwoInstances, type HttpResult, type TestService } from './support/service';

// Fine-grained permissions: an admin grants them over the admin API, the account's tokens carry them as
// RFC 9396 authorization_details, a client may ask for fewer, never for more.

const grant = { grant_type: 'client_credentials' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An RFC 9457 problem with this status, naming (at least) these fields in `errors`. */
function expectProblem(res: HttpResult, status: number, fields: string[] = []) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
  const named: string[] = (res.body.errors ?? []).map((e: { field: string }) => e.field);
  for (const field of fields) expect(named, res.text).toContain(field);
}

const credsOf = (account: any) => ({ id: account.client_id, secret: account.secret.secret as string });

describe.each(DATABASE_KINDS)('fine-grained permissions (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  const permissionsOf = (account: any) => `/service-accounts/${account.id}/permissions`;
  const grantPermission = async (account: any, permission: Record<string, unknown>) => {
    const res = await h.admin('POST', permissionsOf(account), permission);
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  /** The account's token and what its request answered. */
  const tokenOf = async (account: any, form: Record<string, string> = {}) => {
    const res = await h.token({ ...grant, ...form }, credsOf(account));
    expect(res.status, res.text).toBe(200);
    return { response: res.body, claims: decodeJwt(res.body.access_token as string) };
  };
  /** The audit trail's events of one account with this action (the admin's buffered events are flushed by the query). */
  const eventsOf = async (account: any, action: string) => {
    const res = await h.admin('GET', `/service-accounts/${account.id}/audit-events?action=${action}`);
    expect(res.status, res.text).toBe(200);
    return res.body.items as any[];
  };

  describe('the admin manages them', () => {
    it('grants, lists, reads, changes and withdraws a permission, auditing each change', async () => {
      const account = await h.createAccount();
      const created = await h.admin('POST', permissionsOf(account), {
        resource_type: 'report',
        resource_key: 'r1',
        action: 'read',
        limiter: [{ region: 'eu' }],
      });
      expect(created.status, created.text).toBe(201);
      expect(created.body).toEqual({
        id: expect.stringMatching(UUID),
        resource_type: 'report',
        resource_key: 'r1',
        action: 'read',
        limiter: [{ region: 'eu' }],
        created_at: h.clock.now().toISOString(),
      });
      const location = created.headers.get('location')!;
      expect(location).toBe(`/admin/v1${permissionsOf(account)}/${created.body.id}`);
      expect((await h.fetch(location, { headers: { authorization: `Bearer ${await h.adminToken()}` } })).body).toEqual(created.body);

      const second = await grantPermission(account, { resource_type: 'invoice', resource_key: '*', action: '*' });
      expect(second.limiter).toBeNull();
      const list = await h.admin('GET', permissionsOf(account));
      expect(list.status).toBe(200);
      expect(list.body).toEqual({ items: [created.body, second] });

      const patched = await h.admin('PATCH', `${permissionsOf(account)}/${created.body.id}`, { action: 'write', limiter: null });
      expect(patched.status, patched.text).toBe(200);
      expect(patched.body).toEqual({ ...created.body, action: 'write', limiter: null });
      expect((await h.admin('GET', `${permissionsOf(account)}/${created.body.id}`)).body).toEqual(patched.body);

      expect((await h.admin('DELETE', `${permissionsOf(account)}/${created.body.id}`)).status).toBe(204);
      expectProblem(await h.admin('GET', `${permissionsOf(account)}/${created.body.id}`), 404);
      expect((await h.admin('GET', permissionsOf(account))).body.items).toEqual([second]);

      const [added] = await eventsOf(account, 'permission.created');
      expect(added).toMatchObject({ actor: ADMIN_CLIENT_ID, client_id: account.client_id, outcome: 'success', http_status: 201 });
      const [updated] = await eventsOf(account, 'permission.updated');
      expect(updated.details).toMatchObject({ permission_id: created.body.id, changes: { action: 'write', limiter: null } });
      const [deleted] = await eventsOf(account, 'permission.deleted');
      expect(deleted.details.permission).toMatchObject({ id: created.body.id, action: 'write' });
    });

    it('names each invalid member in a problem', async () => {
      const account = await h.createAccount();
      const tooManyMembers = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v']));
      const cases: [Record<string, unknown>, string[]][] = [
        [{}, ['resource_type', 'resource_key', 'action']],
        [{ resource_type: '-report', resource_key: '', action: 'x'.repeat(101) }, ['resource_type', 'resource_key', 'action']],
        [{ resource_type: 'report', resource_key: 'a\nb', action: 'read', extra: 1 }, ['resource_key', 'extra']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [] }, ['limiter']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: {} }, ['limiter']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: Array(11).fill({ a: 'b' }) }, ['limiter']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{}] }, ['limiter.0']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{ a: 1 }] }, ['limiter.0.a']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{ a: 'x'.repeat(501) }] }, ['limiter.0.a']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{ a: 'b\u0000' }] }, ['limiter.0.a']],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{ ['k'.repeat(101)]: 'v' }] }, [`limiter.0.${'k'.repeat(101)}`]],
        [{ resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [tooManyMembers] }, ['limiter.0']],
      ];
      for (const [body, fields] of cases) expectProblem(await h.admin('POST', permissionsOf(account), body), 400, fields);
      // A JSON `__proto__` member is refused, not silently dropped (which would widen the limiter).
      const proto = await h.fetch(`/admin/v1${permissionsOf(account)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await h.adminToken()}`, 'content-type': 'application/json' },
        body: '{"resource_type":"report","resource_key":"r1","action":"read","limiter":[{"__proto__":"x","a":"b"}]}',
      });
      expectProblem(proto, 400, ['limiter.0.__proto__']);
      const permission = await grantPermission(account, { resource_type: 'report', resource_key: 'r1', action: 'read' });
      expectProblem(await h.admin('PATCH', `${permissionsOf(account)}/${permission.id}`, {}), 400);
      expectProblem(await h.admin('PATCH', `${permissionsOf(account)}/${permission.id}`, { resource_type: 'a b' }), 400, ['resource_type']);
      expectProblem(
        await h.fetch(`/admin/v1${permissionsOf(account)}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${await h.adminToken()}`, 'content-type': 'text/plain' },
          body: '{}',
        }),
        415,
      );
      expect((await h.admin('GET', permissionsOf(account))).body.items).toEqual([permission]);
    });

    it('answers 404 for an unknown account or permission, and 409 for a duplicate, a revoked account or one too many', async () => {
      const account = await h.createAccount();
      const permission = { resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{ a: '1', b: '2' }] };
      const held = await grantPermission(account, permission);
      const unknown = '00000000-0000-4000-8000-000000000000';
      expectProblem(await h.admin('GET', `/service-accounts/${unknown}/permissions`), 404);
      expectProblem(await h.admin('POST', `/service-accounts/${unknown}/permissions`, permission), 404);
      expectProblem(await h.admin('GET', '/service-accounts/not-a-uuid/permissions'), 404);
      expectProblem(await h.admin('GET', `${permissionsOf(account)}/${unknown}`), 404);
      expectProblem(await h.admin('GET', `${permissionsOf(account)}/not-a-uuid`), 404);
      expectProblem(await h.admin('PATCH', `${permissionsOf(account)}/${unknown}`, { action: 'write' }), 404);
      expectProblem(await h.admin('DELETE', `${permissionsOf(account)}/${unknown}`), 404);

      // The same grant, its limiter's members in another order, is one the account holds already.
      expectProblem(await h.admin('POST', permissionsOf(account), { ...permission, limiter: [{ b: '2', a: '1' }] }), 409);
      const other = await grantPermission(account, { ...permission, action: 'write' });
      expectProblem(await h.admin('PATCH', `${permissionsOf(account)}/${other.id}`, { action: 'read' }), 409);

      for (let i = 2; i < 100; i++) await grantPermission(account, { resource_type: 'doc', resource_key: `d${i}`, action: 'read' });
      expectProblem(await h.admin('POST', permissionsOf(account), { resource_type: 'doc', resource_key: 'd100', action: 'read' }), 409);
      expect((await h.admin('GET', permissionsOf(account))).body.items).toHaveLength(100);

      expect((await h.admin('POST', `/service-accounts/${account.id}/revoke`)).status).toBe(200);
      expectProblem(await h.admin('DELETE', `${permissionsOf(account)}/${held.id}`), 409);
      expectProblem(await h.admin('PATCH', `${permissionsOf(account)}/${held.id}`, { action: 'x' }), 409);
      expect((await h.admin('GET', permissionsOf(account))).status).toBe(200);
    });

    it('caps what the permissions add to every token (409 past 16 KiB)', async () => {
      const account = await h.createAccount();
      const wide = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'.repeat(400)]));
      expect((await h.admin('POST', permissionsOf(account), { resource_type: 'report', resource_key: 'a', action: 'read', limiter: [wide] })).status).toBe(201);
      const refused = await h.admin('POST', permissionsOf(account), { resource_type: 'report', resource_key: 'b', action: 'read', limiter: [wide] });
      expectProblem(refused, 409);
      expect(refused.body.detail).toMatch(/bytes in every token/);
      expect((await h.admin('GET', permissionsOf(account))).body.items).toHaveLength(1);
    });

    it('lets a read-only admin see them but not change them', async () => {
      const account = await h.createAccount();
      const permission = await grantPermission(account, { resource_type: 'report', resource_key: 'r1', action: 'read' });
      const viewer = await h.createAccount({ scopes: ['service-account:read'], audiences: [h.config.adminAudience] });
      const token = (await tokenOf(viewer)).response.access_token as string;
      expect((await h.admin('GET', permissionsOf(account), undefined, token)).body.items).toEqual([permission]);
      expect((await h.admin('GET', `${permissionsOf(account)}/${permission.id}`, undefined, token)).status).toBe(200);
      const changes = [
        await h.admin('POST', permissionsOf(account), { resource_type: 'report', resource_key: 'r2', action: 'read' }, token),
        await h.admin('PATCH', `${permissionsOf(account)}/${permission.id}`, { action: 'write' }, token),
        await h.admin('DELETE', `${permissionsOf(account)}/${permission.id}`, undefined, token),
      ];
      for (const res of changes) {
        expectProblem(res, 403);
        expect(res.headers.get('www-authenticate')).toContain('scope="service-account:update"');
      }
      expect((await h.admin('GET', permissionsOf(account))).body.items).toEqual([permission]);
    });

    it('hides another organization’s account from an organization’s admin (404)', async () => {
      const account = await h.createAccount();
      const permission = await grantPermission(account, { resource_type: 'report', resource_key: 'r1', action: 'read' });
      const orgAdmin = await h.createAccount({
        org_id: 'acme',
        scopes: ['service-account:read', 'service-account:update'],
        audiences: [h.config.adminAudience],
      });
      const token = (await tokenOf(orgAdmin)).response.access_token as string;
      expectProblem(await h.admin('GET', permissionsOf(account), undefined, token), 404);
      expectProblem(await h.admin('GET', `${permissionsOf(account)}/${permission.id}`, undefined, token), 404);
      expectProblem(await h.admin('POST', permissionsOf(account), { resource_type: 'x', resource_key: 'y', action: 'z' }, token), 404);
      expectProblem(await h.admin('DELETE', `${permissionsOf(account)}/${permission.id}`, undefined, token), 404);
      expect((await h.admin('GET', permissionsOf(account))).body.items).toEqual([permission]);
    });

    it('removes them with the account', async () => {
      const account = await h.createAccount();
      await grantPermission(account, { resource_type: 'report', resource_key: 'r1', action: 'read' });
      expect((await h.admin('DELETE', `/service-accounts/${account.id}`)).status).toBe(204);
      expectProblem(await h.admin('GET', permissionsOf(account)), 404);
    });
  });

  describe('tokens carry them as authorization_details', () => {
    it('gives every permission as an entry, and none to an account without', async () => {
      const plain = await h.createAccount();
      const { claims: none, response } = await tokenOf(plain);
      expect(none.authorization_details).toBeUndefined();
      expect(response.authorization_details).toBeUndefined();

      const account = await h.createAccount();
      await grantPermission(account, { resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{ region: 'eu' }] });
      await grantPermission(account, { resource_type: 'invoice', resource_key: '*', action: '*' });
      const { claims, response: answered } = await tokenOf(account);
      expect(claims.authorization_details).toEqual([
        { type: 'report', identifier: 'r1', actions: ['read'], limiter: [{ region: 'eu' }] },
        { type: 'invoice', identifier: '*', actions: ['*'] },
      ]);
      // RFC 9396 §7: the response names them only when the request asked.
      expect(answered.authorization_details).toBeUndefined();
    });

    it('shows a change in the very next token', async () => {
      const account = await h.createAccount();
      const permission = await grantPermission(account, { resource_type: 'report', resource_key: 'r1', action: 'read' });
      expect((await tokenOf(account)).claims.authorization_details).toEqual([{ type: 'report', identifier: 'r1', actions: ['read'] }]);
      await h.admin('PATCH', `${permissionsOf(account)}/${permission.id}`, { resource_key: 'r2', limiter: [{ tenant: 't1' }] });
      expect((await tokenOf(account)).claims.authorization_details).toEqual([
        { type: 'report', identifier: 'r2', actions: ['read'], limiter: [{ tenant: 't1' }] },
      ]);
      await h.admin('DELETE', `${permissionsOf(account)}/${permission.id}`);
      expect((await tokenOf(account)).claims.authorization_details).toBeUndefined();
    });

    it('shows a change made through one instance in the next token of another', async () => {
      const pair = await startTwoInstances(kind);
      try {
        const account = await pair.a.createAccount();
        const creds = credsOf(account);
        // Instance b verifies the secret once and caches it; a's change must still reach its next token.
        expect((await pair.b.token(grant, creds)).status).toBe(200);
        const res = await pair.a.admin('POST', permissionsOf(account), { resource_type: 'report', resource_key: 'r1', action: 'read' });
        expect(res.status, res.text).toBe(201);
        const next = await pair.b.token(grant, creds);
        expect(decodeJwt(next.body.access_token).authorization_details).toEqual([{ type: 'report', identifier: 'r1', actions: ['read'] }]);
      } finally {
        await pair.close();
      }
    });

    it('narrows them to what the request asks for, and says so in the response', async () => {
      const account = await h.createAccount();
      await grantPermission(account, { resource_type: 'report', resource_key: '*', action: 'read', limiter: [{ region: 'eu' }] });
      await grantPermission(account, { resource_type: 'report', resource_key: '*', action: 'write', limiter: [{ region: 'eu' }] });
      await grantPermission(account, { resource_type: 'invoice', resource_key: 'i1', action: '*' });
      const asked = [
        // One key of a `*`, both actions (each from its own permission), a narrower limiter.
        { type: 'report', identifier: 'r1', actions: ['read', 'write', 'read'], limiter: [{ region: 'eu', tenant: 't1' }] },
        { type: 'invoice', identifier: 'i1', actions: ['pay'] },
      ];
      const { claims, response } = await tokenOf(account, { authorization_details: JSON.stringify(asked) });
      const expected = [
        { type: 'report', identifier: 'r1', actions: ['read', 'write'], limiter: [{ region: 'eu', tenant: 't1' }] },
        { type: 'invoice', identifier: 'i1', actions: ['pay'] },
      ];
      expect(claims.authorization_details).toEqual(expected);
      expect(response.authorization_details).toEqual(expected);

      // Left out, identifier and actions ask for `*`: here the invoice permission's every action.
      const all = await tokenOf(account, { authorization_details: '[{"type":"invoice","identifier":"i1"}]' });
      expect(all.claims.authorization_details).toEqual([{ type: 'invoice', identifier: 'i1', actions: ['*'] }]);

      // An empty list asks for none: the token has no claim, the response an empty list.
      const empty = await tokenOf(account, { authorization_details: '[]' });
      expect(empty.claims.authorization_details).toBeUndefined();
      expect(empty.response.authorization_details).toEqual([]);

      // A JSON body may carry the array itself.
      const json = await h.fetch('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...grant, client_id: account.client_id, client_secret: account.secret.secret, authorization_details: asked.slice(1) }),
      });
      expect(json.status, json.text).toBe(200);
      expect(decodeJwt(json.body.access_token).authorization_details).toEqual(expected.slice(1));
    });

    it('refuses a request for wider authorization_details with invalid_authorization_details, and audits it', async () => {
      const account = await h.createAccount();
      await grantPermission(account, { resource_type: 'report', resource_key: 'r1', action: 'read', limiter: [{ region: 'eu' }] });
      await grantPermission(account, { resource_type: 'invoice', resource_key: '*', action: 'read' });
      const wider: unknown[][] = [
        [{ type: 'report', identifier: 'r2', actions: ['read'], limiter: [{ region: 'eu' }] }], // another key
        [{ type: 'report', identifier: 'r1', actions: ['write'], limiter: [{ region: 'eu' }] }], // another action
        [{ type: 'report', identifier: 'r1', actions: ['read'] }], // without the limiter
        [{ type: 'report', identifier: 'r1', actions: ['read'], limiter: [{ region: 'us' }] }], // another limiter
        [{ type: 'report', identifier: 'r1', actions: ['read'], limiter: [{ region: 'eu' }, { tenant: 't1' }] }], // an alternative more
        [{ type: 'invoice', identifier: '*', actions: ['*'] }], // every action of a `*` read
        [{ type: 'invoice', actions: ['read', 'pay'] }],
        [{ type: 'order', identifier: 'o1', actions: ['read'] }], // a type it holds none of
        [{ type: 'report', identifier: 'r1', actions: ['read'], limiter: [{ region: 'eu' }], locations: ['https://x'] }], // an unknown member
        [{ identifier: 'r1', actions: ['read'] }], // no type
        [{ type: 'report', identifier: 'r1', actions: [] }],
        [{ type: 'report', identifier: 'r1', actions: 'read' }],
        ['report'],
      ];
      for (const asked of wider) {
        const res = await h.token({ ...grant, authorization_details: JSON.stringify(asked) }, credsOf(account));
        expect(res.status, JSON.stringify(asked)).toBe(400);
        expect(res.body).toEqual({ error: 'invalid_authorization_details', error_description: expect.any(String) });
      }
      for (const malformed of ['{"type":"report"}', 'not json', '[{"type":"report"']) {
        const res = await h.token({ ...grant, authorization_details: malformed }, credsOf(account));
        expect(res.status).toBe(400);
        expect(res.body.error).toBe('invalid_request');
      }
      const denied = await eventsOf(account, 'token.denied');
      expect(denied.length).toBe(wider.length + 3);
      const first = denied.at(-1);
      expect(first).toMatchObject({ outcome: 'failure', reason: 'invalid_authorization_details', http_status: 400 });
      expect(first.details.authorization_details).toBe(JSON.stringify(wider[0]));
      const issued = await h.token({ ...grant, authorization_details: '[{"type":"invoice","identifier":"i9","actions":["read"]}]' }, credsOf(account));
      expect(issued.status).toBe(200);
      const [event] = await eventsOf(account, 'token.issued');
      expect(event.details.authorization_details).toBe('[{"type":"invoice","identifier":"i9","actions":["read"]}]');
    });
  });
});

import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_ADMIN_SCOPES } from '../src/accounts/admin-scopes';
import { ROLE_CHANGES } from '../src/accounts/role-directory';
import { DATABASE_KINDS } from './support/database';
import { startTestService, startTwoInstances, uniqueName, type HttpResult, type TestService } from './support/service';

// Roles: named bundles of scopes. An account holds the scopes of its roles as well as its own; a change to a
// role reaches the very next token of every holder, on every instance. Three roles are built in
// (service-account-admin, service-account-viewer, platform-admin) and cannot be changed or deleted.

const grant = { grant_type: 'client_credentials' };
const credsOf = (account: any) => ({ id: account.client_id as string, secret: account.secret.secret as string });
const roleName = () => uniqueName('role').toLowerCase();
const scopesOf = (res: HttpResult) => {
  expect(res.status, res.text).toBe(200);
  return String(decodeJwt(res.body.access_token).scope ?? '').split(' ').filter(Boolean).sort();
};

/** An RFC 9457 problem with this status, naming these fields in `errors`. */
function expectProblem(res: HttpResult, status: number, fields: string[] = []) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const named: string[] = (res.body.errors ?? []).map((e: { field: string }) => e.field);
  for (const field of fields) expect(named, res.text).toContain(field);
}

describe.each(DATABASE_KINDS)('roles (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  const createRole = async (body: Record<string, unknown>) => {
    const res = await h.admin('POST', '/roles', { name: roleName(), scopes: [], ...body });
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  const adminAs = (token: string) => (method: string, path: string, body?: unknown) => h.admin(method, path, body, token);
  const adminTokenOf = async (account: any) => {
    const res = await h.token({ ...grant, audience: h.config.adminAudience }, credsOf(account));
    expect(res.status, res.text).toBe(200);
    return res.body.access_token as string;
  };

  it('gives an account its roles’ scopes as well as its own: all by default, any of them on request', async () => {
    const role = await createRole({ scopes: ['reports:read', 'reports:list'], description: 'Reads reports' });
    expect(role).toMatchObject({ org_id: 'default', built_in: false, scopes: ['reports:read', 'reports:list'], description: 'Reads reports' });
    expect((await h.admin('GET', `/roles/${role.name}`)).body).toEqual(role);
    const account = await h.createAccount({ scopes: ['orders:read'], roles: [role.name] });
    expect(account.roles).toEqual([role.name]);

    expect(scopesOf(await h.token(grant, credsOf(account)))).toEqual(['orders:read', 'reports:list', 'reports:read']);
    expect(scopesOf(await h.token({ ...grant, scope: 'reports:read' }, credsOf(account)))).toEqual(['reports:read']);
    expect(scopesOf(await h.token({ ...grant, scope: 'orders:read reports:list' }, credsOf(account)))).toEqual(['orders:read', 'reports:list']);
    const wider = await h.token({ ...grant, scope: 'reports:write' }, credsOf(account));
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
  });

  it('resolves roles from memory on the token path, and reads them again after a change', async () => {
    const role = await createRole({ scopes: ['memo:read'] });
    const account = await h.createAccount({ roles: [role.name] });
    const directory = h.service.accounts.roles!;
    expect(scopesOf(await h.token(grant, credsOf(account)))).toEqual(['memo:read']);
    const loads = directory.loads;
    for (let i = 0; i < 3; i++) expect(scopesOf(await h.token(grant, credsOf(account)))).toEqual(['memo:read']);
    expect(directory.loads).toBe(loads);
    expect((await h.admin('PATCH', `/roles/${role.name}`, { scopes: ['memo:read', 'memo:write'] })).status).toBe(200);
    expect(scopesOf(await h.token(grant, credsOf(account)))).toEqual(['memo:read', 'memo:write']);
    expect(directory.loads).toBe(loads + 1);
  });

  it('lists the built-in roles first, in every organization, and refuses to change or delete them', async () => {
    const own = await createRole({ scopes: ['a:b'] });
    const list = await h.admin('GET', '/roles');
    expect(list.status).toBe(200);
    const items = list.body.items as any[];
    expect(items.slice(0, 3).map((r) => r.name)).toEqual(['service-account-admin', 'service-account-viewer', 'platform-admin']);
    expect(items.slice(0, 3).every((r) => r.built_in && r.created_at === null)).toBe(true);
    expect(items[0].scopes).toEqual(ALL_ADMIN_SCOPES);
    expect(items[1].scopes).toEqual(['service-account:read']);
    expect(items[2].platform_wide).toBe(true);
    expect(items.slice(3).some((r) => r.name === own.name && !r.built_in)).toBe(true);
    // Another organization has them too, and none of this one's own.
    const acme = await h.admin('GET', '/roles?org_id=acme-builtins');
    expect((acme.body.items as any[]).map((r) => r.name)).toEqual(['service-account-admin', 'service-account-viewer', 'platform-admin']);
    expect(acme.body.items[0].org_id).toBe('acme-builtins');

    for (const name of ['service-account-admin', 'service-account-viewer', 'platform-admin']) {
      expect((await h.admin('GET', `/roles/${name}`)).body).toMatchObject({ name, built_in: true });
      expectProblem(await h.admin('PATCH', `/roles/${name}`, { scopes: ['x:y'] }), 409);
      expectProblem(await h.admin('DELETE', `/roles/${name}?force=true`), 409);
    }
    expectProblem(await h.admin('POST', '/roles', { name: 'service-account-viewer', scopes: ['x:y'] }), 400, ['name']);
    expect((await h.admin('GET', '/roles/service-account-viewer')).body.scopes).toEqual(['service-account:read']);
  });

  it('refuses to delete a role in use unless forced; forced, its holders lose it at once', async () => {
    const role = await createRole({ scopes: ['shared:read'] });
    const holders = [await h.createAccount({ roles: [role.name, 'service-account-viewer'] }), await h.createAccount({ roles: [role.name] })];
    const other = await h.createAccount({ org_id: 'elsewhere', scopes: ['shared:read'] });
    expect(scopesOf(await h.token(grant, credsOf(holders[0])))).toContain('shared:read');

    const refused = await h.admin('DELETE', `/roles/${role.name}`);
    expectProblem(refused, 409);
    expect(refused.body.detail).toContain('held by 2 service accounts');
    expect((await h.admin('GET', `/roles/${role.name}`)).status).toBe(200);
    expectProblem(await h.admin('DELETE', `/roles/${role.name}?force=yes`), 400, ['force']);

    expect((await h.admin('DELETE', `/roles/${role.name}?force=true`)).status).toBe(204);
    expectProblem(await h.admin('GET', `/roles/${role.name}`), 404);
    expect((await h.admin('GET', `/service-accounts/${holders[0].id}`)).body.roles).toEqual(['service-account-viewer']);
    expect((await h.admin('GET', `/service-accounts/${holders[1].id}`)).body.roles).toEqual([]);
    expect(scopesOf(await h.token(grant, credsOf(holders[0])))).toEqual(['service-account:read']);
    expect(scopesOf(await h.token(grant, credsOf(other)))).toEqual(['shared:read']);
    // A role of the same name made later gives the former holders nothing.
    await createRole({ name: role.name, scopes: ['shared:read'] });
    expect(scopesOf(await h.token(grant, credsOf(holders[1])))).toEqual([]);

    const unused = await createRole({ scopes: [] });
    expect((await h.admin('DELETE', `/roles/${unused.name}`)).status).toBe(204);
    expectProblem(await h.admin('DELETE', `/roles/${unused.name}`), 404);
  });

  it('names each bad field', async () => {
    expectProblem(await h.admin('POST', '/roles', { name: 'Bad Name', scopes: [] }), 400, ['name']);
    expectProblem(await h.admin('POST', '/roles', { scopes: ['a:b'] }), 400, ['name']);
    expectProblem(await h.admin('POST', '/roles', { name: roleName() }), 400, ['scopes']);
    expectProblem(await h.admin('POST', '/roles', { name: roleName(), scopes: ['ok', 'not ok', 'quo"te'] }), 400, ['scopes.1', 'scopes.2']);
    const tooMany = Array.from({ length: 101 }, (_, i) => `s:${i}`);
    expectProblem(await h.admin('POST', '/roles', { name: roleName(), scopes: tooMany }), 400, ['scopes']);
    expectProblem(await h.admin('POST', '/roles', { name: roleName(), scopes: [], colour: 'red' }), 400, ['colour']);
    expectProblem(await h.admin('POST', '/roles', { name: roleName(), scopes: [], org_id: 'Not A Slug' }), 400, ['org_id']);
    const role = await createRole({ scopes: ['a:b'] });
    // Never renamed; a patch changes something.
    expectProblem(await h.admin('PATCH', `/roles/${role.name}`, { name: roleName() }), 400, ['name']);
    expectProblem(await h.admin('PATCH', `/roles/${role.name}`, {}), 400);
    expectProblem(await h.admin('PATCH', `/roles/${role.name}`, { scopes: ['bad scope'] }), 400, ['scopes.0']);
    expectProblem(await h.admin('PATCH', '/roles/no-such-role', { scopes: [] }), 404);
    expectProblem(await h.admin('POST', '/roles', { name: role.name, scopes: [] }), 409);
    const patched = await h.admin('PATCH', `/roles/${role.name}`, { description: 'now described' });
    expect(patched.body).toMatchObject({ description: 'now described', scopes: ['a:b'] });
  });

  it('records each change in the audit trail, with the admin as actor and the role’s organization', async () => {
    const role = await createRole({ scopes: ['audit:x'], org_id: 'audited' });
    await h.admin('PATCH', `/roles/${role.name}?org_id=audited`, { scopes: ['audit:y'] });
    await h.admin('DELETE', `/roles/${role.name}?org_id=audited`);
    for (const [action, details] of [
      ['role.created', { name: role.name, scopes: ['audit:x'] }],
      ['role.updated', { name: role.name, changes: { scopes: ['audit:y'] }, before: { scopes: ['audit:x'] } }],
      ['role.deleted', { name: role.name, force: false, removed_from_accounts: 0 }],
    ] as const) {
      const events = (await h.admin('GET', `/audit-events?action=${action}`)).body.items as any[];
      const event = events.find((e) => e.details.name === role.name);
      expect(event, action).toMatchObject({ actor: 'test-admin', outcome: 'success', details });
    }
  });

  it('gives the admin scopes through the built-in roles: a viewer reads the admin API and changes nothing', async () => {
    const viewer = await h.createAccount({ roles: ['service-account-viewer'], audiences: [h.config.adminAudience] });
    const token = await adminTokenOf(viewer);
    expect(decodeJwt(token).scope).toBe('service-account:read');
    const asViewer = adminAs(token);
    expect((await asViewer('GET', '/roles')).status).toBe(200);
    expect((await asViewer('GET', '/service-accounts')).status).toBe(200);
    expectProblem(await asViewer('POST', '/roles', { name: roleName(), scopes: [] }), 403);
    expectProblem(await asViewer('PATCH', '/roles/anything', { scopes: [] }), 403);
    expectProblem(await asViewer('DELETE', '/roles/anything'), 403);
    expectProblem(await asViewer('POST', '/service-accounts', { name: uniqueName() }), 403);

    const admin = await h.createAccount({ roles: ['service-account-admin'], audiences: [h.config.adminAudience] });
    const asAdmin = adminAs(await adminTokenOf(admin));
    const made = await asAdmin('POST', '/roles', { name: roleName(), scopes: ['x:y'] });
    expect(made.status, made.text).toBe(201);
    expect(made.headers.get('location')).toBe(`/admin/v1/roles/${made.body.name}`);
    expect((await asAdmin('DELETE', `/roles/${made.body.name}`)).status).toBe(204);
  });

  it('assigns only roles of the account’s own organization, and platform-admin only by a platform admin', async () => {
    const acmeRole = await createRole({ org_id: 'acme-assign', scopes: ['acme:read'] });
    expect(acmeRole.org_id).toBe('acme-assign');
    const elsewhere = await h.admin('POST', '/service-accounts', { name: uniqueName(), org_id: 'globex-assign', roles: [acmeRole.name] });
    expectProblem(elsewhere, 400, ['roles.0']);
    expectProblem(await h.admin('POST', '/service-accounts', { name: uniqueName(), roles: ['service-account-viewer', 'no-such-role'] }), 400, ['roles.1']);
    const inAcme = await h.createAccount({ org_id: 'acme-assign', roles: [acmeRole.name] });
    expect(scopesOf(await h.token(grant, credsOf(inAcme)))).toEqual(['acme:read']);
    const plain = await h.createAccount({ org_id: 'globex-assign' });
    expectProblem(await h.admin('PATCH', `/service-accounts/${plain.id}`, { roles: [acmeRole.name] }), 400, ['roles.0']);

    const orgAdmin = await h.createAccount({ org_id: 'acme-assign', roles: ['service-account-admin'], audiences: [h.config.adminAudience] });
    const asOrgAdmin = adminAs(await adminTokenOf(orgAdmin));
    expectProblem(await asOrgAdmin('POST', '/service-accounts', { name: uniqueName(), roles: ['platform-admin'] }), 400, ['roles.0']);
    expectProblem(await asOrgAdmin('PATCH', `/service-accounts/${inAcme.id}`, { roles: ['platform-admin'] }), 400, ['roles.0']);
    const ok = await asOrgAdmin('PATCH', `/service-accounts/${inAcme.id}`, { roles: [acmeRole.name, 'service-account-viewer'] });
    expect(ok.status, ok.text).toBe(200);
  });

  it('an organization’s admin works with its own roles only: another organization’s do not exist for it', async () => {
    const theirs = await createRole({ org_id: 'globex-scope', scopes: ['globex:secret'] });
    const orgAdmin = await h.createAccount({ org_id: 'acme-scope', roles: ['service-account-admin'], audiences: [h.config.adminAudience] });
    const asAcme = adminAs(await adminTokenOf(orgAdmin));

    const mine = await asAcme('POST', '/roles', { name: roleName(), scopes: ['acme:x'] });
    expect(mine.status, mine.text).toBe(201);
    expect(mine.body.org_id).toBe('acme-scope');
    expectProblem(await asAcme('POST', '/roles', { name: roleName(), scopes: [], org_id: 'globex-scope' }), 403);
    const sameOrg = await asAcme('POST', '/roles', { name: roleName(), scopes: [], org_id: 'acme-scope' });
    expect(sameOrg.status).toBe(201);

    const list = await asAcme('GET', '/roles');
    const names = (list.body.items as any[]).map((r) => r.name);
    expect(names).toContain(mine.body.name);
    expect(names).not.toContain(theirs.name);
    expect((list.body.items as any[]).every((r) => r.org_id === 'acme-scope')).toBe(true);
    expect((await asAcme('GET', '/roles?org_id=globex-scope')).body).toEqual({ items: [] });

    // 404, exactly as for a role that does not exist, however it asks.
    const missing = await asAcme('GET', '/roles/no-such-role');
    for (const [method, path, body] of [
      ['GET', `/roles/${theirs.name}`],
      ['GET', `/roles/${theirs.name}?org_id=globex-scope`],
      ['PATCH', `/roles/${theirs.name}`, { scopes: ['stolen:x'] }],
      ['PATCH', `/roles/${theirs.name}?org_id=globex-scope`, { scopes: ['stolen:x'] }],
      ['DELETE', `/roles/${theirs.name}?force=true`],
      ['DELETE', `/roles/${theirs.name}?org_id=globex-scope&force=true`],
    ] as const) {
      const res = await asAcme(method, path, body);
      expectProblem(res, 404);
      expect(res.body, `${method} ${path}`).toEqual(missing.body);
    }
    expect((await h.admin('GET', `/roles/${theirs.name}?org_id=globex-scope`)).body.scopes).toEqual(['globex:secret']);
    // Nor can it give its accounts another organization's role.
    expectProblem(await asAcme('POST', '/service-accounts', { name: uniqueName(), roles: [theirs.name] }), 400, ['roles.0']);
  });
});

describe.each(DATABASE_KINDS)('roles across two instances (%s)', (kind) => {
  let pair: Awaited<ReturnType<typeof startTwoInstances>>;
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    pair = await startTwoInstances(kind);
    ({ a, b } = pair);
  });
  afterAll(() => pair?.close());

  /**
   * Resolves once instance b's LISTEN connection has delivered the next role change. The admin call returns
   * once a (the changing instance) has received its own copy of the notification; PostgreSQL sends b's at the
   * same moment, but a loaded machine may schedule b's listener backend a few milliseconds later. From the
   * moment b has it, its very next token must show the change: that is what is tested.
   */
  const bHearsOfRoleChange = () =>
    new Promise<void>((resolve) => b.service.accounts.credentials.onInvalidate((id) => (!id || id === ROLE_CHANGES) && resolve()));
  const throughA = async (method: string, path: string, body?: unknown) => {
    const heard = bHearsOfRoleChange();
    const res = await a.admin(method, path, body);
    expect(res.status, res.text).toBeLessThan(300);
    await heard;
    return res;
  };

  it('a role changed through one instance changes the very next token on the other', async () => {
    const name = roleName();
    expect((await a.admin('POST', '/roles', { name, scopes: ['fleet:read'] })).status).toBe(201);
    const account = await a.createAccount({ scopes: ['own:scope'], roles: [name] });
    const creds = credsOf(account);
    // b has verified the secret and read the roles: both are in its memory now.
    expect(scopesOf(await b.token(grant, creds))).toEqual(['fleet:read', 'own:scope']);
    expect(scopesOf(await b.token(grant, creds))).toEqual(['fleet:read', 'own:scope']);

    await throughA('PATCH', `/roles/${name}`, { scopes: ['fleet:read', 'fleet:write'] });
    expect(scopesOf(await b.token(grant, creds))).toEqual(['fleet:read', 'fleet:write', 'own:scope']);
    expect(scopesOf(await b.token({ ...grant, scope: 'fleet:write' }, creds))).toEqual(['fleet:write']);

    await throughA('PATCH', `/roles/${name}`, { scopes: [] });
    expect(scopesOf(await b.token(grant, creds))).toEqual(['own:scope']);
    expect((await b.token({ ...grant, scope: 'fleet:read' }, creds)).status).toBe(400);

    await throughA('PATCH', `/roles/${name}`, { scopes: ['fleet:admin'] });
    expect(scopesOf(await b.token(grant, creds))).toEqual(['fleet:admin', 'own:scope']);
    await throughA('DELETE', `/roles/${name}?force=true`);
    expect(scopesOf(await b.token(grant, creds))).toEqual(['own:scope']);
    expect((await b.admin('GET', `/service-accounts/${account.id}`)).body.roles).toEqual([]);
  });

  it('a role created through one instance and given to an account counts at once on the other', async () => {
    const account = await a.createAccount({ scopes: ['own:scope'] });
    const creds = credsOf(account);
    expect(scopesOf(await b.token(grant, creds))).toEqual(['own:scope']);
    const name = roleName();
    await throughA('POST', '/roles', { name, scopes: ['late:read'] });
    expect((await a.admin('PATCH', `/service-accounts/${account.id}`, { roles: [name] })).status).toBe(200);
    expect(scopesOf(await b.token(grant, creds))).toEqual(['late:read', 'own:scope']);
  });
});

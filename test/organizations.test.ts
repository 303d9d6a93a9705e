import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/console-browser';
import { DATABASE_KINDS } from './support/database';
import { ADMIN_CLIENT_ID, basicAuth, startTestService, uniqueName, type HttpResult, type TestService } from './support/service';

// Organizations: accounts belong to one (org_id, default `default`), tokens carry it, and an admin of one
// organization sees and changes only its accounts and audit events: another organization's account does not
// exist for it (404, exactly as an id that names nothing). The bootstrap admin holds platform-admin.

const grant = { grant_type: 'client_credentials' };
const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

describe.each(DATABASE_KINDS)('organizations (%s)', (kind) => {
  let h: TestService;
  /** An admin of acme (built-in role service-account-admin), its credentials, and a token. */
  let acmeAdmin: { id: string; secret: string; token: string; account: any };
  let acmeAccount: any;
  let globexAccount: any;

  const adminAs = (token: string) => (method: string, path: string, body?: unknown) =>
    h.fetch(`/admin/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const tokenOf = async (id: string, secret: string, form: Record<string, string> = grant) => {
    const res = await h.token(form, { id, secret });
    expect(res.status, res.text).toBe(200);
    return res.body.access_token as string;
  };
  const create = async (body: Record<string, unknown>) => {
    const res = await h.admin('POST', '/service-accounts', { name: uniqueName(), ...body });
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  /** The answer for an account that does not exist, to compare another organization's account with. */
  const expectSameAsMissing = async (asAcme: ReturnType<typeof adminAs>, method: string, path: (id: string) => string, body?: unknown) => {
    const other = await asAcme(method, path(globexAccount.id), body);
    const missing = await asAcme(method, path(NO_SUCH_ID), body);
    expect(other.status, `${method} ${path(globexAccount.id)}: ${other.text}`).toBe(404);
    expect(missing.status).toBe(404);
    expect(other.body).toEqual(missing.body);
  };

  beforeAll(async () => {
    h = await startTestService(kind);
    const admin = await create({ org_id: 'acme', roles: ['service-account-admin'], audiences: [h.config.adminAudience] });
    acmeAdmin = { id: admin.client_id, secret: admin.secret.secret, account: admin, token: '' };
    acmeAdmin.token = await tokenOf(acmeAdmin.id, acmeAdmin.secret, { ...grant, audience: h.config.adminAudience });
    acmeAccount = await create({ org_id: 'acme', scopes: ['orders:read'] });
    globexAccount = await create({ org_id: 'globex', scopes: ['orders:read'] });
  });
  afterAll(() => h?.close());

  it('tokens carry the account’s organization; an account without one is in `default`', async () => {
    expect(decodeJwt(await tokenOf(acmeAccount.client_id, acmeAccount.secret.secret)).org_id).toBe('acme');
    const plain = await create({});
    expect(plain.org_id).toBe('default');
    expect(decodeJwt(await tokenOf(plain.client_id, plain.secret.secret)).org_id).toBe('default');
    // Introspection shows it too.
    const token = await tokenOf(globexAccount.client_id, globexAccount.secret.secret);
    const introspector = await create({ scopes: ['token:introspect'] });
    const res = await h.fetch('/oauth/introspect', {
      method: 'POST',
      headers: { authorization: basicAuth(introspector.client_id, introspector.secret.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token }).toString(),
    });
    expect(res.body).toMatchObject({ active: true, org_id: 'globex' });
  });

  it('an organization is fixed once the account exists, and must be a slug', async () => {
    const res = await h.admin('PATCH', `/service-accounts/${acmeAccount.id}`, { org_id: 'globex' });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: any) => e.field)).toContain('org_id');
    const bad = await h.admin('POST', '/service-accounts', { name: uniqueName(), org_id: 'Not A Slug' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: any) => e.field)).toContain('org_id');
  });

  it('names are unique within an organization, not across them', async () => {
    const name = uniqueName('same');
    await create({ name, org_id: 'acme' });
    await create({ name, org_id: 'globex' });
    const again = await h.admin('POST', '/service-accounts', { name, org_id: 'acme' });
    expect(again.status).toBe(409);
  });

  it('an organization’s admin lists only its accounts, and nothing of another organization even when it asks', async () => {
    const asAcme = adminAs(acmeAdmin.token);
    const list = await asAcme('GET', '/service-accounts?limit=100');
    expect(list.status).toBe(200);
    const orgs = new Set((list.body.items as any[]).map((a) => a.org_id));
    expect([...orgs]).toEqual(['acme']);
    expect((list.body.items as any[]).map((a) => a.id)).toContain(acmeAccount.id);
    const other = await asAcme('GET', '/service-accounts?org_id=globex');
    expect(other.body).toEqual({ items: [], next_cursor: null });
    const secrets = await asAcme('GET', '/secrets?limit=100');
    expect((secrets.body.items as any[]).every((s) => s.service_account.id !== globexAccount.id)).toBe(true);
    expect((secrets.body.items as any[]).some((s) => s.service_account.id === acmeAccount.id)).toBe(true);
  });

  it('cannot read, change or learn the existence of another organization’s account: 404 as for an id that names nothing', async () => {
    const asAcme = adminAs(acmeAdmin.token);
    await expectSameAsMissing(asAcme, 'GET', (id) => `/service-accounts/${id}`);
    await expectSameAsMissing(asAcme, 'PATCH', (id) => `/service-accounts/${id}`, { description: 'mine now' });
    await expectSameAsMissing(asAcme, 'POST', (id) => `/service-accounts/${id}/revoke`);
    await expectSameAsMissing(asAcme, 'DELETE', (id) => `/service-accounts/${id}`);
    await expectSameAsMissing(asAcme, 'GET', (id) => `/service-accounts/${id}/secrets`);
    await expectSameAsMissing(asAcme, 'POST', (id) => `/service-accounts/${id}/secrets`, {});
    await expectSameAsMissing(asAcme, 'PATCH', (id) => `/service-accounts/${id}/secrets/${globexAccount.secret.id}`, { status: 'disabled' });
    await expectSameAsMissing(asAcme, 'DELETE', (id) => `/service-accounts/${id}/secrets/${globexAccount.secret.id}`);
    await expectSameAsMissing(asAcme, 'GET', (id) => `/service-accounts/${id}/keys`);
    // Nothing happened to it.
    const after = await h.admin('GET', `/service-accounts/${globexAccount.id}`);
    expect(after.body).toMatchObject({ status: 'active', description: '' });
    expect(after.body.secrets[0].status).toBe('active');
    expect((await h.token(grant, { id: globexAccount.client_id, secret: globexAccount.secret.secret })).status).toBe(200);
  });

  it('creates in its own organization only', async () => {
    const asAcme = adminAs(acmeAdmin.token);
    const own = await asAcme('POST', '/service-accounts', { name: uniqueName() });
    expect(own.status, own.text).toBe(201);
    expect(own.body.org_id).toBe('acme');
    const elsewhere = await asAcme('POST', '/service-accounts', { name: uniqueName(), org_id: 'globex' });
    expect(elsewhere.status).toBe(403);
  });

  it('cannot hand out platform-admin, nor change an account that holds it', async () => {
    const asAcme = adminAs(acmeAdmin.token);
    const res = await asAcme('POST', '/service-accounts', { name: uniqueName(), roles: ['platform-admin'] });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'roles.0', message: expect.stringContaining('platform admin') }]);
    const grab = await asAcme('PATCH', `/service-accounts/${acmeAdmin.account.id}`, { roles: ['platform-admin'] });
    expect(grab.status).toBe(400);
    // A platform admin living in acme: visible to acme's admin, but not changeable by it.
    const platform = await create({ org_id: 'acme', roles: ['platform-admin'] });
    expect((await asAcme('GET', `/service-accounts/${platform.id}`)).status).toBe(200);
    expect((await asAcme('PATCH', `/service-accounts/${platform.id}`, { status: 'disabled' })).status).toBe(403);
    expect((await asAcme('DELETE', `/service-accounts/${platform.id}`)).status).toBe(403);
    expect((await h.admin('GET', `/service-accounts/${platform.id}`)).body.status).toBe('active');
  });

  it('sees only its organization’s audit events', async () => {
    const asAcme = adminAs(acmeAdmin.token);
    await tokenOf(globexAccount.client_id, globexAccount.secret.secret);
    await tokenOf(acmeAccount.client_id, acmeAccount.secret.secret);
    const events = await asAcme('GET', '/audit-events?limit=100');
    expect(events.status).toBe(200);
    const accounts = new Set((events.body.items as any[]).map((e) => e.service_account_id));
    expect(accounts.has(acmeAccount.id)).toBe(true);
    expect(accounts.has(globexAccount.id)).toBe(false);
    // Admin changes too, not only token requests.
    const actions = (events.body.items as any[]).filter((e) => e.service_account_id === acmeAccount.id).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['service_account.created', 'token.issued']));
    const secretAdded = await h.admin('POST', `/service-accounts/${acmeAccount.id}/secrets`, {});
    expect(secretAdded.status).toBe(201);
    const afterSecret = await asAcme('GET', `/audit-events?action=secret.created&limit=100`);
    expect((afterSecret.body.items as any[]).map((e) => e.secret_id)).toContain(secretAdded.body.id);
    // An unknown client's failures belong to no organization: platform admins only.
    await h.token(grant, { id: 'nobody-knows-me', secret: 'x' });
    const failures = await asAcme('GET', '/audit-events?action=token.denied&limit=100');
    expect((failures.body.items as any[]).some((e) => e.client_id === 'nobody-knows-me')).toBe(false);
    const platform = await h.admin('GET', '/audit-events?action=token.denied&limit=100');
    expect((platform.body.items as any[]).some((e) => e.client_id === 'nobody-knows-me')).toBe(true);
    const other = await asAcme('GET', `/service-accounts/${globexAccount.id}/audit-events`);
    expect(other.status).toBe(404);
    expect((await asAcme('GET', '/audit-events?org_id=globex')).body).toEqual({ items: [], next_cursor: null });
    expect((await asAcme('GET', '/secrets?org_id=globex')).body).toEqual({ items: [], next_cursor: null });
  });

  it('a platform admin sees every organization and may pin a list to one', async () => {
    const all = await h.admin('GET', '/service-accounts?limit=100');
    const orgs = new Set((all.body.items as any[]).map((a) => a.org_id));
    expect(orgs.has('acme') && orgs.has('globex') && orgs.has('default')).toBe(true);
    const globex = await h.admin('GET', '/service-accounts?org_id=globex&limit=100');
    expect(new Set((globex.body.items as any[]).map((a) => a.org_id))).toEqual(new Set(['globex']));
    expect((await h.admin('GET', `/service-accounts/${globexAccount.id}`)).status).toBe(200);
    const events = await h.admin('GET', '/audit-events?org_id=globex&limit=100');
    expect((events.body.items as any[]).length).toBeGreaterThan(0);
    const globexIds = new Set((globex.body.items as any[]).map((a) => a.id));
    const eventAccounts = (events.body.items as any[]).map((e) => e.service_account_id);
    expect(eventAccounts).toContain(globexAccount.id);
    expect(eventAccounts.every((id) => globexIds.has(id))).toBe(true);
    const secrets = await h.admin('GET', '/secrets?org_id=globex&limit=100');
    const secretAccounts = (secrets.body.items as any[]).map((x) => x.service_account.id);
    expect(secretAccounts).toContain(globexAccount.id);
    expect(secretAccounts.every((id) => globexIds.has(id))).toBe(true);
  });

  it('the web console applies the same boundaries', async () => {
    const browser = new Browser(h.url);
    expect((await browser.signIn(acmeAdmin.id, acmeAdmin.secret)).status).toBe(303);
    const list = await browser.get('/console/accounts');
    expect(list.html).toContain(acmeAccount.name);
    expect(list.html).not.toContain(globexAccount.name);
    expect((await browser.get(`/console/accounts/${globexAccount.id}`)).status).toBe(404);
    const csrf = Browser.csrfOf(list);
    expect((await browser.post(`/console/accounts/${globexAccount.id}/status`, { _csrf: csrf, status: 'disabled' })).status).toBe(404);
    expect((await browser.post(`/console/accounts/${globexAccount.id}/delete`, { _csrf: csrf })).status).toBe(404);
    const audit = await browser.get('/console/audit');
    expect(audit.html).not.toContain(globexAccount.client_id);
    expect((await h.admin('GET', `/service-accounts/${globexAccount.id}`)).body.status).toBe('active');
    // Created from acme's console: in acme.
    const name = uniqueName('console');
    const created = await browser.post('/console/accounts', { _csrf: csrf, name });
    expect(created.status, created.html).toBe(200);
    const listed: HttpResult = await h.admin('GET', `/service-accounts?q=${name}`);
    expect(listed.body.items[0].org_id).toBe('acme');
  });

  it('the bootstrap admin holds platform-admin', async () => {
    const res = await h.admin('GET', '/service-accounts?limit=100');
    const bootstrap = (res.body.items as any[]).find((a) => a.client_id === ADMIN_CLIENT_ID);
    expect(bootstrap.roles).toEqual(['platform-admin']);
  });
});

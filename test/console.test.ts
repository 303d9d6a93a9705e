import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { Browser, clientIdOf, decode, newSecretOf, type Page } from './support/console-browser';
import { ADMIN_CLIENT_ID, startTestService, uniqueName, type TestService } from './support/service';

// The web console over HTTP, as a browser would speak to it (cookies, form posts), and as an attacker would
// try it: sessions, CSRF, permissions, and where a new secret may appear. test/console.browser.test.ts
// drives the same pages in Chromium.

const grant = { grant_type: 'client_credentials' };

describe.each(DATABASE_KINDS)('web console over HTTP (%s)', (kind) => {
  let h: TestService;
  let admin: Browser;
  let csrf: string;

  /** The bootstrap admin's session, used by most tests (again after a test moves the clock past it). */
  const signInAdmin = async () => {
    admin = new Browser(h.url);
    const signedIn = await admin.signIn(ADMIN_CLIENT_ID, h.adminSecret);
    expect(signedIn.status, signedIn.html).toBe(303);
    csrf = Browser.csrfOf(await admin.get('/console/accounts'));
  };
  beforeAll(async () => {
    h = await startTestService(kind);
    await signInAdmin();
  });
  afterAll(() => h?.close());

  const accountByName = async (name: string) => {
    const res = await h.admin('GET', `/service-accounts?q=${encodeURIComponent(name)}`);
    return (res.body.items as any[]).find((a) => a.name === name);
  };
  /** An admin account with these admin scopes, and its credentials. */
  const adminAccount = async (scopes: string[]) => {
    const res = await h.admin('POST', '/service-accounts', { name: uniqueName('admin'), scopes, audiences: [h.config.adminAudience] });
    expect(res.status, res.text).toBe(201);
    return { account: res.body, id: res.body.client_id as string, secret: res.body.secret.secret as string };
  };

  describe('without a session', () => {
    it('pages redirect to sign-in (remembering where to go back); posts are 401; nothing is cached', async () => {
      const anonymous = new Browser(h.url);
      for (const path of ['/console', '/console/accounts', '/console/accounts/new', '/console/audit', '/console/keys']) {
        const res = await anonymous.get(path);
        expect(res.status, path).toBe(303);
        expect(res.location, path).toMatch(/^\/console(\/sign-in\?next=|\/accounts$)/);
      }
      expect((await anonymous.get('/console/accounts?q=x')).location).toBe(`/console/sign-in?next=${encodeURIComponent('/console/accounts?q=x')}`);
      const post = await anonymous.post('/console/accounts', { name: 'x' });
      expect(post.status).toBe(401);
      const name = uniqueName('anon');
      await anonymous.post('/console/accounts', { name, _csrf: 'anything' });
      expect(await accountByName(name)).toBeUndefined();

      const signIn = await anonymous.get('/console/sign-in');
      expect(signIn.status).toBe(200);
      expect(signIn.headers.get('cache-control')).toBe('no-store');
      expect(signIn.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(signIn.headers.get('x-frame-options')).toBe('DENY');
    });

    it('a forged session cookie or an expired one is no session', async () => {
      const forged = new Browser(h.url);
      forged.jar.set('cc_console', 'eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJ0ZXN0LWFkbWluIn0.');
      const res = await forged.get('/console/accounts');
      expect(res.status).toBe(303);
      expect(res.location).toMatch(/^\/console\/sign-in/);
    });
  });

  describe('sign-in', () => {
    it('sets an HttpOnly, SameSite=Strict session cookie that expires with the token, and goes where it was asked', async () => {
      const browser = new Browser(h.url);
      const form = await browser.get('/console/sign-in?next=%2Fconsole%2Faudit');
      expect(form.html).toContain('value="/console/audit"');
      const res = await browser.post('/console/sign-in', {
        _csrf: Browser.csrfOf(form),
        client_id: ADMIN_CLIENT_ID,
        client_secret: h.adminSecret,
        next: '/console/audit',
      });
      expect(res.status).toBe(303);
      expect(res.location).toBe('/console/audit');
      const session = res.cookies.find((c) => c.startsWith('cc_console='))!;
      expect(session).toMatch(/; HttpOnly/);
      expect(session).toMatch(/; SameSite=Strict/);
      expect(session).toMatch(/; Path=\//);
      expect(session).toMatch(new RegExp(`; Max-Age=${h.config.tokenTtlSeconds}(;|$)`));
      expect(session).not.toMatch(/; Secure/); // an http issuer: a Secure cookie would never come back
      expect((await browser.get('/console/audit')).status).toBe(200);
    });

    it('never redirects off the console after sign-in', async () => {
      for (const next of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '/admin/v1/service-accounts']) {
        const browser = new Browser(h.url);
        const form = await browser.get('/console/sign-in');
        const res = await browser.post('/console/sign-in', { _csrf: Browser.csrfOf(form), client_id: ADMIN_CLIENT_ID, client_secret: h.adminSecret, next });
        expect(res.location, next).toBe('/console/accounts');
      }
    });

    it('a wrong secret and an unknown client get the same answer; only the audit trail knows why', async () => {
      const answers: string[] = [];
      for (const [id, secret] of [
        [ADMIN_CLIENT_ID, 'wrong-secret'],
        ['no-such-client', 'whatever'],
      ] as const) {
        const browser = new Browser(h.url);
        const res = await browser.signIn(id, secret);
        expect(res.status).toBe(401);
        expect(res.cookies.some((c) => c.startsWith('cc_console='))).toBe(false);
        answers.push(decode(/role="alert">([^<]+)</.exec(res.html)![1]!));
        expect(res.html).not.toContain(secret);
      }
      expect(answers[0]).toBe(answers[1]);
      const trail = await h.admin('GET', '/audit-events?action=token.denied&limit=10');
      expect((trail.body.items as any[]).map((e) => e.reason)).toEqual(expect.arrayContaining(['bad_secret', 'unknown_client']));
    });

    it('refuses a sign-in form that did not come from our page (login CSRF)', async () => {
      const browser = new Browser(h.url);
      const noNonce = await browser.post('/console/sign-in', { client_id: ADMIN_CLIENT_ID, client_secret: h.adminSecret });
      expect(noNonce.status).toBe(403);
      await browser.get('/console/sign-in'); // has a nonce cookie now, but the form field is forged
      const wrong = await browser.post('/console/sign-in', { _csrf: 'forged', client_id: ADMIN_CLIENT_ID, client_secret: h.adminSecret });
      expect(wrong.status).toBe(403);
      expect(browser.jar.has('cc_console')).toBe(false);
    });

    it('an account without admin permissions cannot sign in', async () => {
      const plain = await h.createAccount({ scopes: ['orders:read'] });
      const res = await new Browser(h.url).signIn(plain.client_id, plain.secret.secret);
      expect(res.status).toBe(403);
      expect(res.html).toContain('may not use the admin API');
    });

    it('the session ends when the token expires, and when the admin account is disabled', async () => {
      const { account, id, secret } = await adminAccount(['service-account:read']);
      const browser = new Browser(h.url);
      expect((await browser.signIn(id, secret)).status).toBe(303);
      expect((await browser.get('/console/accounts')).status).toBe(200);
      const disabled = await h.admin('PATCH', `/service-accounts/${account.id}`, { status: 'disabled' });
      expect(disabled.status).toBe(200);
      const res = await browser.get('/console/accounts');
      expect(res.status).toBe(303);
      expect(res.location).toMatch(/^\/console\/sign-in/);

      const other = new Browser(h.url);
      expect((await other.signIn(ADMIN_CLIENT_ID, h.adminSecret)).status).toBe(303);
      h.clock.advance((h.config.tokenTtlSeconds + 1) * 1000);
      expect((await other.get('/console/accounts')).status).toBe(303);
      expect((await admin.get('/console/accounts')).status).toBe(303);
      await signInAdmin();
    });

    it('sign-out clears the cookie', async () => {
      const browser = new Browser(h.url);
      await browser.signIn(ADMIN_CLIENT_ID, h.adminSecret);
      const page = await browser.get('/console/accounts');
      const res = await browser.post('/console/sign-out', { _csrf: Browser.csrfOf(page) });
      expect(res.status).toBe(303);
      expect(res.cookies.find((c) => c.startsWith('cc_console='))).toMatch(/Max-Age=0/);
      expect((await browser.get('/console/accounts')).status).toBe(303);
    });
  });

  describe('CSRF', () => {
    it('a form post without the CSRF token, or with another session’s, changes nothing', async () => {
      const other = new Browser(h.url);
      await other.signIn(ADMIN_CLIENT_ID, h.adminSecret);
      const otherCsrf = Browser.csrfOf(await other.get('/console/accounts'));
      for (const token of [undefined, '', 'forged', otherCsrf]) {
        const name = uniqueName('csrf');
        const res = await admin.post('/console/accounts', { ...(token !== undefined ? { _csrf: token } : {}), name });
        expect(res.status, String(token)).toBe(403);
        expect(await accountByName(name)).toBeUndefined();
      }
    });

    it('a post from another origin is refused even with the token', async () => {
      const name = uniqueName('xorigin');
      const res = await admin.post('/console/accounts', { _csrf: csrf, name }, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
      expect(res.status).toBe(403);
      expect(await accountByName(name)).toBeUndefined();
    });

    it('a change to an account without the token is refused too', async () => {
      const account = await h.createAccount();
      for (const path of ['/status', '/revoke', '/delete', '/secrets', `/secrets/${account.secret.id}/status`, `/secrets/${account.secret.id}/revoke`]) {
        const res = await admin.post(`/console/accounts/${account.id}${path}`, { status: 'disabled' });
        expect(res.status, path).toBe(403);
      }
      const after = await h.admin('GET', `/service-accounts/${account.id}`);
      expect(after.body.status).toBe('active');
      expect(after.body.secrets).toHaveLength(1);
      expect(after.body.secrets[0].status).toBe('active');
    });
  });

  describe('accounts', () => {
    it('the new secret is in exactly one response, the creation page; it works at the token endpoint', async () => {
      const name = uniqueName('console');
      const pagesBefore = admin.pages.length;
      const created = await admin.post('/console/accounts', {
        _csrf: csrf,
        name,
        description: 'made in the console',
        scopes: 'orders:read, orders:write',
        audiences: '',
        rate_limit_per_minute: '120',
        token_ttl_seconds: '',
        allowed_ips: '127.0.0.1\n10.0.0.0/8',
      });
      expect(created.status, created.html).toBe(200);
      expect(created.headers.get('cache-control')).toBe('no-store');
      expect(created.html).toContain('will not be shown again');
      const secret = newSecretOf(created);
      const clientId = clientIdOf(created);
      expect(secret).toMatch(/^ccs_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);

      const token = await h.token({ ...grant, scope: 'orders:read' }, { id: clientId, secret });
      expect(token.status, token.text).toBe(200);

      const account = await accountByName(name);
      expect(account).toMatchObject({
        description: 'made in the console',
        scopes: ['orders:read', 'orders:write'],
        rate_limit_per_minute: 120,
        allowed_ips: ['127.0.0.1', '10.0.0.0/8'],
      });
      // Every later page an admin can reach about it.
      await admin.get('/console/accounts');
      await admin.get(`/console/accounts?q=${encodeURIComponent(name)}`);
      await admin.get(`/console/accounts/${account.id}`);
      await admin.get(`/console/audit?account=${account.id}`);
      await admin.get('/console/audit');
      const seen = admin.pages.slice(pagesBefore).filter((html) => html.includes(secret));
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBe(created.html);
    });

    it('a bad field is named, the other values are kept, nothing is created', async () => {
      const name = uniqueName('bad');
      const res = await admin.post('/console/accounts', { _csrf: csrf, name, scopes: 'ok bad"scope', allowed_ips: '10.0.0.1\nnot-an-ip', rate_limit_per_minute: 'lots' });
      expect(res.status).toBe(400);
      const errors = [...res.html.matchAll(/class="field-error">([^<]+)</g)].map((m) => decode(m[1]!));
      expect(errors.some((e) => e.includes('"not-an-ip" is not an IPv4 or IPv6 address'))).toBe(true);
      expect(errors.some((e) => e.includes('scope token'))).toBe(true);
      expect(errors.length).toBeGreaterThanOrEqual(3);
      expect(res.html).toContain(`value="${name}"`);
      expect(res.html).toContain('10.0.0.1\nnot-an-ip');
      expect(await accountByName(name)).toBeUndefined();
    });

    it('a taken name is a conflict on the form, not an error page', async () => {
      const existing = await h.createAccount();
      const res = await admin.post('/console/accounts', { _csrf: csrf, name: existing.name });
      expect(res.status).toBe(409);
      expect(res.html).toContain('id="name"');
    });

    it('update, disable and enable, add and revoke secrets: each lands in the domain and the audit trail', async () => {
      const account = await h.createAccount({ scopes: ['a'] });
      const base = `/console/accounts/${account.id}`;
      const edit = await admin.post(base, { _csrf: csrf, name: account.name, description: 'edited', scopes: 'a b', audiences: '', rate_limit_per_minute: '', token_ttl_seconds: '600', allowed_ips: '' });
      expect(edit.status, edit.html).toBe(303);
      expect(edit.location).toBe(`${base}?done=updated`);
      const page = await admin.get(edit.location!);
      expect(page.html).toContain('Saved.');
      let now = (await h.admin('GET', `/service-accounts/${account.id}`)).body;
      expect(now).toMatchObject({ description: 'edited', scopes: ['a', 'b'], token_ttl_seconds: 600 });

      expect((await admin.post(`${base}/status`, { _csrf: csrf, status: 'disabled' })).status).toBe(303);
      expect((await h.token(grant, { id: account.client_id, secret: account.secret.secret })).status).toBe(401);
      expect((await admin.post(`${base}/status`, { _csrf: csrf, status: 'active' })).status).toBe(303);
      expect((await h.token(grant, { id: account.client_id, secret: account.secret.secret })).status).toBe(200);

      const added = await admin.post(`${base}/secrets`, { _csrf: csrf, description: 'second', expires_on: '2027-01-31' });
      expect(added.status, added.html).toBe(200);
      const second = newSecretOf(added);
      expect((await h.token(grant, { id: account.client_id, secret: second })).status).toBe(200);
      now = (await h.admin('GET', `/service-accounts/${account.id}`)).body;
      expect(now.secrets.find((s: any) => s.description === 'second').expires_at).toBe('2027-01-31T23:59:59.000Z');

      const confirm = await admin.get(`${base}/secrets/${account.secret.id}/revoke`);
      expect(confirm.html).toContain(`Revoke secret ${account.secret.prefix}… of ${account.name}?`);
      expect(confirm.html).toContain('cannot be undone');
      expect((await admin.post(`${base}/secrets/${account.secret.id}/revoke`, { _csrf: csrf })).status).toBe(303);
      expect((await h.token(grant, { id: account.client_id, secret: account.secret.secret })).status).toBe(401);

      const trail = await h.admin('GET', `/service-accounts/${account.id}/audit-events?limit=20`);
      const actions = (trail.body.items as any[]).filter((e) => e.actor === ADMIN_CLIENT_ID).map((e) => e.action);
      expect(actions).toEqual(
        expect.arrayContaining(['service_account.updated', 'service_account.disabled', 'service_account.enabled', 'secret.created', 'secret.revoked']),
      );
    });

    it('a past expiry date for a new secret is refused with a message, and no secret is added', async () => {
      const account = await h.createAccount();
      const res = await admin.post(`/console/accounts/${account.id}/secrets`, { _csrf: csrf, expires_on: '2020-01-01' });
      expect(res.status).toBe(400);
      expect(res.html).toContain('The secret was not added');
      expect((await h.admin('GET', `/service-accounts/${account.id}`)).body.secrets).toHaveLength(1);
    });

    it('delete asks first, then removes the account; an unknown account is a 404 page', async () => {
      const account = await h.createAccount();
      const confirm = await admin.get(`/console/accounts/${account.id}/delete`);
      expect(confirm.html).toContain(`Delete service account ${account.name}?`);
      const res = await admin.post(`/console/accounts/${account.id}/delete`, { _csrf: csrf });
      expect(res.location).toBe('/console/accounts?done=deleted');
      expect((await h.admin('GET', `/service-accounts/${account.id}`)).status).toBe(404);
      expect((await admin.get(`/console/accounts/${account.id}`)).status).toBe(404);
      expect((await admin.get('/console/accounts/not-a-uuid')).status).toBe(404);
      expect((await admin.get('/console/no-such-page')).status).toBe(404);
    });

    it('lists filter by text, status and secret expiry; a bad filter is explained', async () => {
      const tag = uniqueName('flt');
      const on = await h.createAccount({ name: `${tag}-on` });
      const off = await h.createAccount({ name: `${tag}-off` });
      await h.admin('PATCH', `/service-accounts/${off.id}`, { status: 'disabled' });
      const rows = (page: Page) => [...page.html.matchAll(/data-account="([^"]+)"/g)].map((m) => m[1]);
      expect(rows(await admin.get(`/console/accounts?q=${tag}`)).sort()).toEqual([`${tag}-off`, `${tag}-on`]);
      expect(rows(await admin.get(`/console/accounts?q=${tag}&status=disabled`))).toEqual([`${tag}-off`]);
      expect(rows(await admin.get(`/console/accounts?q=${tag}&expiration=expired`))).toEqual([]);
      expect(rows(await admin.get(`/console/accounts?q=${tag}&expiration=valid`)).sort()).toEqual([`${tag}-off`, `${tag}-on`]);
      const bad = await admin.get('/console/accounts?status=sleeping');
      expect(bad.status).toBe(400);
      expect(bad.html).toContain('Invalid filter');
      expect(on.id).toBeDefined();
    });
  });

  describe('permissions', () => {
    it('a read-only admin sees no change buttons and cannot post changes', async () => {
      const viewer = await adminAccount(['service-account:read']);
      const browser = new Browser(h.url);
      expect((await browser.signIn(viewer.id, viewer.secret)).status).toBe(303);
      const list = await browser.get('/console/accounts');
      expect(list.status).toBe(200);
      expect(list.html).not.toContain('Create service account');
      const target = await h.createAccount();
      const page = await browser.get(`/console/accounts/${target.id}`);
      expect(page.status).toBe(200);
      for (const text of ['Disable account', 'Revoke account', 'Add secret', 'Delete service account', '>Update<']) expect(page.html).not.toContain(text);
      const viewerCsrf = Browser.csrfOf(page); // the sign-out form's
      expect((await browser.get('/console/accounts/new')).status).toBe(403);
      const name = uniqueName('viewer');
      expect((await browser.post('/console/accounts', { _csrf: viewerCsrf, name })).status).toBe(403);
      expect(await accountByName(name)).toBeUndefined();
      expect((await browser.post(`/console/accounts/${target.id}/status`, { _csrf: viewerCsrf, status: 'disabled' })).status).toBe(403);
      expect((await browser.post(`/console/accounts/${target.id}/delete`, { _csrf: viewerCsrf })).status).toBe(403);
      expect((await h.admin('GET', `/service-accounts/${target.id}`)).body.status).toBe('active');
    });

    it('an admin who may update but not delete sees no delete button; signing-key rotation needs every permission', async () => {
      const editor = await adminAccount(['service-account:read', 'service-account:update']);
      const browser = new Browser(h.url);
      await browser.signIn(editor.id, editor.secret);
      const target = await h.createAccount();
      const page = await browser.get(`/console/accounts/${target.id}`);
      expect(page.html).toContain('Disable account');
      expect(page.html).not.toContain('Delete service account');
      const keys = await browser.get('/console/keys');
      expect(keys.status).toBe(200);
      expect(keys.html).not.toContain('Rotate signing key');
      expect((await browser.post('/console/keys/rotate', { _csrf: Browser.csrfOf(keys) })).status).toBe(403);
    });
  });

  describe('signing keys', () => {
    it('lists the keys with their states; rotating adds a next key that the JWKS publishes at once', async () => {
      const before = await admin.get('/console/keys');
      const kids = [...before.html.matchAll(/data-kid="([^"]+)"/g)].map((m) => m[1]);
      expect(kids.length).toBeGreaterThanOrEqual(1);
      expect(before.html).toContain('(signing now)');
      const res = await admin.post('/console/keys/rotate', { _csrf: csrf });
      expect(res.location).toBe('/console/keys?done=rotated');
      const after = await admin.get(res.location!);
      const newKids = [...after.html.matchAll(/data-kid="([^"]+)"/g)].map((m) => m[1]).filter((k) => !kids.includes(k));
      expect(newKids).toHaveLength(1);
      expect(after.html).toContain('badge next');
      const jwks = await h.fetch('/.well-known/jwks.json');
      expect((jwks.body.keys as any[]).map((k) => k.kid)).toContain(newKids[0]);
      const trail = await h.admin('GET', '/audit-events?action=signing_key.rotated');
      expect(trail.body.items[0]).toMatchObject({ actor: ADMIN_CLIENT_ID, details: { kid: newKids[0] } });
    });
  });

  describe('hostile input', () => {
    it('what an account holds is shown as text, never as markup', async () => {
      const name = `<img src=x onerror=alert(1)>${uniqueName('xss')}`;
      const account = await h.createAccount({ name, description: '<script>alert(2)</script>', scopes: ['a<b>'] });
      for (const path of [`/console/accounts?q=${encodeURIComponent(name)}`, `/console/accounts/${account.id}`, `/console/audit?account=${account.id}`]) {
        const page = await admin.get(path);
        expect(page.status, path).toBe(200);
        expect(page.html, path).not.toContain('<img src=x');
        expect(page.html, path).not.toContain('<script>alert');
        expect(page.html, path).toContain('&lt;img src=x onerror=alert(1)&gt;');
      }
    });

    it('no form post, however malformed, gets a 500 or changes what it should not', async () => {
      const target = await h.createAccount();
      const paths = [
        '/console/accounts',
        `/console/accounts/${target.id}`,
        `/console/accounts/${target.id}/status`,
        `/console/accounts/${target.id}/secrets`,
        `/console/accounts/${target.id}/secrets/${target.secret.id}/status`,
        '/console/accounts/not-an-id/secrets',
        '/console/sign-in',
      ];
      const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30, unit: 'binary' }), fc.constantFrom('', '\u0000', '-1', '1e309', '9'.repeat(30), '2020-13-45', 'x'.repeat(3000)));
      const fieldNames = fc.constantFrom('name', 'description', 'scopes', 'audiences', 'rate_limit_per_minute', 'token_ttl_seconds', 'allowed_ips', 'status', 'expires_on', 'next', 'client_id', 'client_secret');
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...paths), fc.dictionary(fieldNames, text, { maxKeys: 6 }), async (path, fields) => {
          const res = await admin.post(path, { ...fields, _csrf: csrf });
          expect(res.status, `${path} ${JSON.stringify(fields)}: ${res.html.slice(0, 300)}`).toBeLessThan(500);
        }),
        { numRuns: 120 },
      );
      // U+0000, which PostgreSQL text cannot hold, in every field of every form and in a filter.
      for (const path of paths) {
        for (const name of ['name', 'description', 'scopes', 'allowed_ips', 'status', 'client_id', 'expires_on']) {
          const res = await admin.post(path, { [name]: 'a\u0000b', _csrf: csrf });
          expect(res.status, `${path} ${name}`).toBe(400);
        }
      }
      expect((await admin.get('/console/accounts?q=a%00b')).status).toBe(400);
      expect((await admin.get('/console/audit?action=a%00b')).status).toBe(400);
      // Whatever it accepted, the target is still an account the admin API can read.
      expect((await h.admin('GET', `/service-accounts/${target.id}`)).status).toBe(200);
    });
  });

  it('serves its own stylesheet and script, cacheable, with ETags', async () => {
    const page = await admin.get('/console/accounts');
    for (const [, href] of page.html.matchAll(/(?:href|src)="(\/console\/assets\/[^"]+)"/g)) {
      const res = await fetch(`${h.url}${href}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('etag')).toBeTruthy();
      expect(res.headers.get('cache-control')).toContain('max-age');
      const again = await fetch(`${h.url}${href}`, { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(again.status).toBe(304);
    }
    expect(page.html).not.toMatch(/(?:href|src)="https?:/);
  });
});

describe('web console behind https', () => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService('pglite', { ISSUER: 'https://tokens.example.com' });
  });
  afterAll(() => h?.close());

  it('marks its cookies Secure, with the __Host- prefix', async () => {
    const browser = new Browser(h.url);
    const form = await browser.get('/console/sign-in');
    expect(form.cookies[0]).toMatch(/^__Host-cc_console_sign_in=.*; Secure/);
    const res = await browser.post('/console/sign-in', { _csrf: Browser.csrfOf(form), client_id: ADMIN_CLIENT_ID, client_secret: h.adminSecret });
    expect(res.status, res.html).toBe(303);
    const session = res.cookies.find((c) => c.startsWith('__Host-cc_console='));
    expect(session).toMatch(/; Secure/);
    expect(session).toMatch(/; Path=\//);
  });
});

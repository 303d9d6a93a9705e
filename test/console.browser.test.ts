import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, type DatabaseKind } from './support/database';
import { ADMIN_CLIENT_ID, startTestService, type TestService } from './support/service';

/**
 * The admin console (/console) driven in headless Chromium, as an administrator uses it: every story checks
 * what the admin sees in the page and what a client then gets from the token endpoint. One browser for the
 * file, one service (and one browser context) per database kind; the stories run in order and build on each
 * other's accounts, as one admin's session would.
 */

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM_PATH);
// Developers without Chromium still get a green `npm test`; CI installs it, so there its absence is a failure.
const SKIP = !HAS_CHROMIUM && !process.env.CI;
if (SKIP) {
  console.warn(`console.browser.test.ts skipped: no Chromium at ${CHROMIUM_PATH} (install it, or set CHROMIUM_PATH to a Chromium binary).`);
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCREENSHOTS = join(ROOT, 'test/.screenshots');
const DOCS_SCREENSHOTS = join(ROOT, 'docs/console');
const UPDATE_DOCS = process.env.UPDATE_SCREENSHOTS === '1';

const grant = { grant_type: 'client_credentials' };

describe.skipIf(SKIP)('admin console in the browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!HAS_CHROMIUM) throw new Error(`No Chromium at ${CHROMIUM_PATH}: CI must install it (apt-get install chromium) or set CHROMIUM_PATH.`);
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });
  afterAll(() => browser?.close());

  const newContext = () =>
    browser.newContext({
      viewport: { width: 1280, height: 800 },
      permissions: ['clipboard-read', 'clipboard-write'],
      locale: 'en-US',
      timezoneId: 'UTC',
      colorScheme: 'light',
    });

  describe.each(DATABASE_KINDS)('on %s', { timeout: 60_000 }, (kind: DatabaseKind) => {
    let h: TestService;
    let context: BrowserContext;
    let page: Page;

    /** The account the stories create, manage and finally delete. */
    const orders = { name: 'orders-sync', id: '', clientId: '', secret: '', prefix: '', second: { secret: '', prefix: '' } };
    /** Every plaintext secret the console has shown: none may appear on any later page. */
    const shownSecrets: string[] = [];

    beforeAll(async () => {
      h = await startTestService(kind);
      context = await newContext();
      page = await context.newPage();
    });
    afterAll(async () => {
      await context?.close();
      await h?.close();
    });
    // Each story at its own second of the service's clock: the audit log's order is then visible in its times.
    beforeEach(() => h?.clock.advance(1000));

    const at = (path: string) => `${h.url}${path}`;
    const accountUrl = (done?: string) => at(`/console/accounts/${orders.id}${done ? `?done=${done}` : ''}`);

    /** Clicks something that loads another page and waits until that page (at `url`) has loaded. */
    async function clickTo(target: Locator, url: string | ((url: URL) => boolean), on: Page = page) {
      await Promise.all([on.waitForURL(url), target.click()]);
    }

    async function screenshot(name: string, options: { fullPage?: boolean; on?: Page } = {}) {
      const png = await (options.on ?? page).screenshot({ fullPage: options.fullPage ?? true, animations: 'disabled' });
      await mkdir(SCREENSHOTS, { recursive: true });
      await writeFile(join(SCREENSHOTS, `${kind}-${name}.png`), png);
      if (UPDATE_DOCS && kind === 'pglite') {
        await mkdir(DOCS_SCREENSHOTS, { recursive: true });
        await writeFile(join(DOCS_SCREENSHOTS, `${name}.png`), png);
      }
    }

    const heading = (on: Page = page) => on.locator('h1').innerText();
    const notice = () => page.locator('[role=status]').innerText();
    const listedAccounts = () => page.locator('tbody tr[data-account]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-account') ?? ''));
    const listedClientIds = () => page.locator('tbody tr[data-account] td:nth-child(2) code').allInnerTexts();
    const secretRow = (prefix: string) => page.locator(`tr[data-secret="${prefix}"]`);
    const expectNoShownSecret = async () => {
      const html = await page.content();
      for (const secret of shownSecrets) expect(html.includes(secret), `${page.url()} shows a plaintext secret`).toBe(false);
    };

    async function expectToken(creds: { id: string; secret: string }) {
      const res = await h.token(grant, creds);
      expect(res.status, res.text).toBe(200);
      expect(res.body.access_token).toEqual(expect.any(String));
      return res.body;
    }
    async function expectRefused(creds: { id: string; secret: string }) {
      const res = await h.token(grant, creds);
      expect(res.status, res.text).toBe(401);
      expect(res.body.error).toBe('invalid_client');
    }
    const needsOrders = () => expect(orders.id, 'needs the account created in the creation story').not.toBe('');

    it('an admin opening /console is sent to sign in; a wrong secret shows an error and stays there; the right one opens the accounts', async () => {
      await page.goto(at('/console'));
      const signInUrl = new URL(page.url());
      expect(signInUrl.pathname).toBe('/console/sign-in');
      expect(signInUrl.searchParams.get('next')).toBe('/console/accounts');
      expect(await heading()).toBe('Sign in');
      await screenshot('sign-in', { fullPage: false });

      await page.fill('#client_id', ADMIN_CLIENT_ID);
      await page.fill('#client_secret', `${h.adminSecret}-wrong`);
      const [refused] = await Promise.all([
        page.waitForResponse((r) => r.url() === at('/console/sign-in') && r.request().method() === 'POST'),
        clickTo(page.getByRole('button', { name: 'Sign in' }), at('/console/sign-in')),
      ]);
      expect(refused.status()).toBe(401);
      expect(await heading()).toBe('Sign in');
      expect(await page.locator('[role=alert]').innerText()).toContain('Sign-in failed: the client ID or secret is wrong');
      expect(await page.inputValue('#client_id')).toBe(ADMIN_CLIENT_ID);
      expect(await page.inputValue('#client_secret')).toBe('');

      await page.fill('#client_secret', h.adminSecret);
      await clickTo(page.getByRole('button', { name: 'Sign in' }), at('/console/accounts'));
      expect(await heading()).toBe('Service accounts');
      expect(await page.locator('header .who').innerText()).toContain(`Signed in as ${ADMIN_CLIENT_ID}`);
      expect(await listedClientIds()).toContain(ADMIN_CLIENT_ID);
    });

    it('the admin creates a service account; the dialog shows its client ID and secret once; the copied secret gets a token', async () => {
      await page.goto(at('/console/accounts'));
      await clickTo(page.getByRole('link', { name: 'Create service account' }), at('/console/accounts/new'));
      expect(await heading()).toBe('Create service account');
      await page.fill('#name', orders.name);
      await page.fill('#description', 'Pushes orders to the warehouse');
      await page.fill('#scopes', 'orders:read orders:write');
      await page.fill('#rate_limit_per_minute', '120');
      await page.fill('#allowed_ips', '127.0.0.0/8\n10.20.0.0/16');
      await screenshot('create-account');

      const [created] = await Promise.all([
        page.waitForResponse((r) => r.url() === at('/console/accounts') && r.request().method() === 'POST'),
        clickTo(page.getByRole('button', { name: 'Create', exact: true }), at('/console/accounts')),
      ]);
      expect(created.status()).toBe(200);
      expect(created.headers()['cache-control']).toBe('no-store');
      const dialog = page.locator('dialog#secret-dialog');
      expect(await dialog.isVisible()).toBe(true);
      expect(await heading()).toBe(`Service account ${orders.name} created`);
      expect(await dialog.locator('.warning').innerText()).toContain('This secret will not be shown again');
      orders.clientId = await dialog.locator('#new-client-id').innerText();
      orders.secret = await dialog.locator('#new-secret').innerText();
      orders.prefix = await dialog.locator('p.muted code').innerText();
      expect(orders.clientId).toMatch(/\S/);
      expect(orders.secret).toMatch(/^ccs_/);
      expect(orders.secret.startsWith(orders.prefix)).toBe(true);
      shownSecrets.push(orders.secret);
      await screenshot('secret-created', { fullPage: false });

      // Copy, as the admin does, and use what landed on the clipboard.
      await page.evaluate('navigator.clipboard.writeText("")');
      await dialog.locator('button[data-copy="#new-secret"]').click();
      // The copy is asynchronous: read the clipboard until it holds something (or give up after 10 s).
      const copied = await page.evaluate<string>(`(async () => {
        for (const until = Date.now() + 10000; Date.now() < until; await new Promise((r) => setTimeout(r, 25))) {
          const text = await navigator.clipboard.readText();
          if (text) return text;
        }
        return '';
      })()`);
      expect(copied).toBe(orders.secret);
      const token = await expectToken({ id: orders.clientId, secret: copied });
      expect(token.scope).toBe('orders:read orders:write');

      await clickTo(dialog.getByRole('link', { name: 'I have stored it: go to the account' }), (u) => /^\/console\/accounts\/[0-9a-f-]{36}$/.test(u.pathname));
      orders.id = new URL(page.url()).pathname.split('/').pop()!;
      expect(await heading()).toContain(orders.name);
      expect(await page.locator('#client-id').innerText()).toBe(orders.clientId);
      expect(await page.inputValue('#rate_limit_per_minute')).toBe('120');
      expect(await page.inputValue('#allowed_ips')).toBe('127.0.0.0/8\n10.20.0.0/16');
      expect(await secretRow(orders.prefix).locator('.badge').innerText()).toBe('active');
    });

    it('the admin disables the secret: the client is refused; enabling it again lets the client in', async () => {
      needsOrders();
      await page.goto(accountUrl());
      const row = secretRow(orders.prefix);
      await clickTo(row.getByRole('button', { name: 'Disable' }), accountUrl('secret-disabled'));
      expect(await notice()).toBe('The secret is disabled.');
      expect(await row.locator('.badge').innerText()).toBe('disabled');
      await expectRefused({ id: orders.clientId, secret: orders.secret });

      await clickTo(row.getByRole('button', { name: 'Enable' }), accountUrl('secret-enabled'));
      expect(await notice()).toBe('The secret is enabled.');
      expect(await row.locator('.badge').innerText()).toBe('active');
      await expectToken({ id: orders.clientId, secret: orders.secret });
    });

    it('the admin adds a second secret (shown once), then revokes the first one after confirming in a dialog', async () => {
      needsOrders();
      await page.goto(accountUrl());
      await page.fill('#secret-description', 'rotation 2026');
      await page.fill('#secret-expires', '2026-12-31');
      await clickTo(page.getByRole('button', { name: 'Add secret' }), at(`/console/accounts/${orders.id}/secrets`));
      const dialog = page.locator('dialog#secret-dialog');
      expect(await heading()).toBe(`New secret for ${orders.name}`);
      expect(await dialog.locator('.warning').innerText()).toContain('This secret will not be shown again');
      expect(await dialog.locator('#new-client-id').innerText()).toBe(orders.clientId);
      orders.second.secret = await dialog.locator('#new-secret').innerText();
      orders.second.prefix = await dialog.locator('p.muted code').innerText();
      expect(await dialog.locator('p.muted time').getAttribute('datetime')).toBe('2026-12-31T23:59:59.000Z');
      expect(orders.second.secret).toMatch(/^ccs_/);
      expect(orders.second.secret).not.toBe(orders.secret);
      shownSecrets.push(orders.second.secret);
      await expectToken({ id: orders.clientId, secret: orders.second.secret });

      await clickTo(dialog.getByRole('link', { name: 'I have stored it: go to the account' }), accountUrl());
      expect(await secretRow(orders.second.prefix).locator('td').nth(1).innerText()).toBe('rotation 2026');
      await screenshot('account');

      const first = secretRow(orders.prefix);
      await first.getByRole('link', { name: 'Revoke' }).click();
      const confirm = page.locator('dialog[open]');
      await confirm.waitFor();
      expect(page.url()).toBe(accountUrl()); // a dialog on the page, not the fallback page
      const text = await confirm.innerText();
      expect(text).toContain(`Revoke secret ${orders.prefix}… of ${orders.name}?`);
      expect(text).toContain('This cannot be undone.');
      await screenshot('revoke-secret', { fullPage: false });

      await clickTo(confirm.getByRole('button', { name: 'Revoke secret' }), accountUrl('secret-revoked'));
      expect(await notice()).toBe('The secret is revoked.');
      expect(await first.locator('.badge').innerText()).toBe('revoked');
      expect(await first.locator('button, a.button').count()).toBe(0);
      expect(await secretRow(orders.second.prefix).locator('.badge').innerText()).toBe('active');
      await expectRefused({ id: orders.clientId, secret: orders.secret });
      await expectToken({ id: orders.clientId, secret: orders.second.secret });
    });

    it('after the creation flow no later page shows a plaintext secret: list, account page, audit log', async () => {
      needsOrders();
      expect(shownSecrets).toHaveLength(2);
      await page.goto(at('/console/accounts'));
      expect(await listedAccounts()).toContain(orders.name);
      await expectNoShownSecret();
      await clickTo(page.getByRole('link', { name: orders.name }), accountUrl());
      await expectNoShownSecret();
      await clickTo(page.getByRole('link', { name: 'All events of this account' }), at(`/console/audit?account=${orders.id}`));
      expect(await page.locator('tbody tr[data-action]').count()).toBeGreaterThan(0);
      await expectNoShownSecret();
      await clickTo(page.getByRole('link', { name: 'Audit log' }), at('/console/audit'));
      await expectNoShownSecret();
    });

    it('the admin finds accounts by name and by status after disabling one', async () => {
      const nightly = await h.createAccount({ name: 'reports-nightly', description: 'Nightly sales report', scopes: ['reports:read'] });
      const legacy = await h.createAccount({ name: 'reports-legacy', description: 'Old BI export, being retired', scopes: ['reports:read'] });

      // Disable one through its page.
      await page.goto(at(`/console/accounts/${legacy.id}`));
      await clickTo(page.getByRole('button', { name: 'Disable account' }), at(`/console/accounts/${legacy.id}?done=disabled`));
      expect(await notice()).toContain('The account is disabled');
      expect(await page.locator('h1 .badge').innerText()).toBe('disabled');
      await expectRefused({ id: legacy.client_id, secret: legacy.secret.secret });

      await page.goto(at('/console/accounts'));
      expect(await listedAccounts()).toEqual(expect.arrayContaining([orders.name, 'reports-nightly', 'reports-legacy']));
      expect(await listedClientIds()).toContain(ADMIN_CLIENT_ID);
      await screenshot('accounts');

      await page.fill('#filter-q', 'reports');
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('q') === 'reports');
      expect((await listedAccounts()).sort()).toEqual(['reports-legacy', 'reports-nightly']);

      await page.selectOption('#filter-status', 'disabled');
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('status') === 'disabled');
      expect(await listedAccounts()).toEqual(['reports-legacy']);
      expect(await page.locator('tr[data-account="reports-legacy"] .badge.disabled').count()).toBe(1);

      await page.fill('#filter-q', '');
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('q') === '' && u.searchParams.get('status') === 'disabled');
      const disabled = await listedAccounts();
      expect(disabled).toContain('reports-legacy');
      for (const active of ['reports-nightly', orders.name]) expect(disabled).not.toContain(active);
      expect(await listedClientIds()).not.toContain(ADMIN_CLIENT_ID);

      await page.fill('#filter-q', 'no-such-account');
      await page.selectOption('#filter-status', '');
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('q') === 'no-such-account');
      expect(await page.locator('p.card').innerText()).toBe('No service account matches.');
      await expectToken({ id: nightly.client_id, secret: nightly.secret.secret });
    });

    it('the admin reads the audit log newest first and filters it by action and outcome', async () => {
      needsOrders();
      type Row = { action: string; at: string; outcome: string; account: string };
      const rows = () =>
        page.locator('tbody tr[data-action]').evaluateAll((trs) =>
          trs.map((tr) => ({
            action: tr.getAttribute('data-action') ?? '',
            at: tr.querySelector('time')?.getAttribute('datetime') ?? '',
            outcome: tr.querySelector('.badge')?.textContent ?? '',
            account: tr.querySelector('td:nth-child(4)')?.textContent ?? '',
          })),
        ) as Promise<Row[]>;
      const expectNewestFirst = (list: Row[]) => {
        const times = list.map((r) => r.at);
        expect(times).toEqual([...times].sort().reverse());
      };

      await page.goto(at('/console/accounts'));
      await clickTo(page.getByRole('link', { name: 'Audit log' }), at('/console/audit'));
      expect(await heading()).toBe('Audit log');
      const all = await rows();
      expect(all.length).toBeGreaterThan(5);
      expectNewestFirst(all);
      // The latest thing that happened (the token request of the filter story) is on top.
      expect(all[0]).toMatchObject({ action: 'token.issued', outcome: 'success' });
      await screenshot('audit-log');

      // The account's own history, in reverse order of the stories above.
      await page.fill('#filter-account', orders.clientId);
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('account') === orders.clientId);
      const history = await rows();
      expectNewestFirst(history);
      expect(history.map((r) => r.action).filter((a) => !a.startsWith('token.'))).toEqual([
        'secret.revoked',
        'secret.created',
        'secret.enabled',
        'secret.disabled',
        'service_account.created',
      ]);

      await page.fill('#filter-account', '');
      await page.fill('#filter-action', 'secret.revoked');
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('action') === 'secret.revoked');
      const revoked = await rows();
      expect(revoked).toHaveLength(1);
      expect(revoked[0]).toMatchObject({ action: 'secret.revoked', outcome: 'success' });
      expect(await page.locator('tbody tr[data-action] details pre').textContent()).toContain(orders.prefix);

      await page.selectOption('#filter-outcome', 'failure');
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('outcome') === 'failure');
      expect(await rows()).toEqual([]);
      expect(await page.locator('main p.card').innerText()).toBe('No events.');

      await page.fill('#filter-action', 'token.denied');
      await clickTo(page.getByRole('button', { name: 'Filter' }), (u) => u.searchParams.get('action') === 'token.denied');
      const denied = await rows();
      // The disabled secret, the revoked secret and the disabled account: each refused once, newest first.
      expect(denied.length).toBeGreaterThanOrEqual(3);
      expectNewestFirst(denied);
      for (const row of denied) {
        expect(row.action).toBe('token.denied');
        expect(row.outcome).toMatch(/^failure/);
      }
      expect(denied[0]!.account).toBe((await h.admin('GET', '/service-accounts?q=reports-legacy')).body.items[0].client_id);
    });

    it('the admin sees the signing keys, the one signing now and the rotate button', async () => {
      await page.goto(at('/console/accounts'));
      await clickTo(page.getByRole('link', { name: 'Signing keys' }), at('/console/keys'));
      expect(await heading()).toBe('Signing keys');
      expect(await page.locator('tr[data-kid]').count()).toBeGreaterThanOrEqual(1);
      expect(await page.locator('tr[data-kid]', { hasText: '(signing now)' }).count()).toBe(1);
      expect(await page.getByRole('button', { name: 'Rotate signing key' }).isVisible()).toBe(true);
      await screenshot('signing-keys');
    });

    it('the admin deletes the account after confirming: it leaves the list and its secret is refused', async () => {
      needsOrders();
      await page.goto(accountUrl());
      const zone = page.locator('section.danger-zone');
      await zone.getByRole('link', { name: 'Delete service account' }).click();
      const confirm = page.locator('dialog#delete-account[open]');
      await confirm.waitFor();
      const text = await confirm.innerText();
      expect(text).toContain(`Delete service account ${orders.name}?`);
      expect(text).toContain('This cannot be undone.');

      await clickTo(confirm.getByRole('button', { name: 'Delete service account' }), at('/console/accounts?done=deleted'));
      expect(await notice()).toBe('The service account was deleted.');
      expect(await listedAccounts()).not.toContain(orders.name);
      await expectRefused({ id: orders.clientId, secret: orders.second.secret });
      const gone = await page.goto(accountUrl());
      expect(gone?.status()).toBe(404);
    });

    it('a read-only admin sees the accounts but no button that changes anything, and can sign out', async () => {
      const viewer = await h.createAccount({ name: 'auditor', scopes: ['service-account:read'], audiences: [h.config.adminAudience] });
      const target = (await h.admin('GET', '/service-accounts?q=reports-nightly')).body.items[0];
      const viewerContext = await newContext();
      try {
        const p = await viewerContext.newPage();
        await p.goto(at('/console'));
        await p.fill('#client_id', viewer.client_id);
        await p.fill('#client_secret', viewer.secret.secret);
        await clickTo(p.getByRole('button', { name: 'Sign in' }), at('/console/accounts'), p);
        expect(await heading(p)).toBe('Service accounts');
        expect(await p.locator('tbody tr[data-account]').count()).toBeGreaterThan(1);
        expect(await p.getByRole('link', { name: 'Create service account' }).count()).toBe(0);

        await clickTo(p.getByRole('link', { name: 'reports-nightly' }), at(`/console/accounts/${target.id}`), p);
        expect(await heading(p)).toContain('reports-nightly');
        // Visible or not (a closed dialog's buttons included): nothing that changes the account is on the page.
        const labels = (await p.locator('button, a.button, input[type=submit]').allInnerTexts()).map((l) => l.trim());
        for (const label of ['Disable account', 'Enable account', 'Revoke account', 'Update', 'Disable', 'Enable', 'Revoke', 'Revoke secret', 'Add secret', 'Delete service account']) {
          expect(labels, `a read-only admin sees "${label}"`).not.toContain(label);
        }
        expect(await p.locator('form[method=post]:not([action="/console/sign-out"])').count()).toBe(0);
        expect(await p.locator('dialog').count()).toBe(0);
        expect(await p.locator('#name').getAttribute('readonly')).not.toBeNull();

        const forbidden = await p.goto(at('/console/accounts/new'));
        expect(forbidden?.status()).toBe(403);
        await p.goto(at('/console/keys'));
        expect(await p.getByRole('button', { name: 'Rotate signing key' }).count()).toBe(0);

        await clickTo(p.getByRole('button', { name: 'Sign out' }), at('/console/sign-in?done=signed-out'), p);
        expect(await p.locator('[role=status]').innerText()).toBe('You are signed out.');
        await p.goto(at('/console/accounts'));
        expect(new URL(p.url()).pathname).toBe('/console/sign-in');
      } finally {
        await viewerContext.close();
      }
    });
  });
});

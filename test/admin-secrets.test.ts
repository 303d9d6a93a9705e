import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { startTestService, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const DAY = 86_400_000;
const HOUR = 3_600_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECRET = /^ccs_[0-9a-f]{32}_([A-Za-z0-9_-]{43})$/;

/** An RFC 9457 problem with this status, naming (at least) these fields in `errors`. */
function expectProblem(res: HttpResult, status: number, fields: string[] = []) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
  const named: string[] = (res.body.errors ?? []).map((e: { field: string }) => e.field);
  for (const field of fields) expect(named, res.text).toContain(field);
}

/** Asserts a token request is refused the way a client sees it. */
async function expectRefused(h: TestService, creds: { id: string; secret: string }) {
  const res = await h.token(grant, creds);
  expect(res.status).toBe(401);
  expect(res.body.error).toBe('invalid_client');
}

async function expectWorks(h: TestService, creds: { id: string; secret: string }) {
  const res = await h.token(grant, creds);
  expect(res.status, res.text).toBe(200);
  expect(res.body.access_token).toEqual(expect.any(String));
}

describe.each(DATABASE_KINDS)('admin API: client secrets (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  const secretsPath = (account: any) => `/service-accounts/${account.id}/secrets`;
  const listSecrets = async (account: any) => {
    const res = await h.admin('GET', secretsPath(account));
    expect(res.status, res.text).toBe(200);
    return res.body.items as any[];
  };
  const statusOf = async (account: any, secretId: string) =>
    (await listSecrets(account)).find((s) => s.id === secretId)?.status;

  it('adds a secret: 201, Location, no-store, the plaintext once in the ccs_ format with 256 random bits', async () => {
    const account = await h.createAccount();
    const res = await h.admin('POST', secretsPath(account), { description: 'ci runner' });
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const now = h.clock.now();
    expect(res.body).toMatchObject({
      id: expect.stringMatching(UUID),
      description: 'ci runner',
      status: 'active',
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + 730 * DAY).toISOString(),
      last_used_at: null,
    });
    expect(res.headers.get('location')).toBe(`/admin/v1/service-accounts/${account.id}/secrets/${res.body.id}`);

    const plaintext: string = res.body.secret;
    const random = SECRET.exec(plaintext)?.[1];
    expect(random, plaintext).toBeDefined();
    expect(Buffer.from(random!, 'base64url')).toHaveLength(32);
    expect(res.body.prefix.startsWith('ccs_')).toBe(true);
    expect(plaintext.startsWith(res.body.prefix)).toBe(true);
    expect(res.body.prefix.length).toBeLessThan(plaintext.length / 2);
    expect(plaintext).not.toBe(account.secret.secret);
    expect(res.body.id).not.toBe(account.secret.id);

    // Both secrets get tokens.
    await expectWorks(h, { id: account.client_id, secret: account.secret.secret });
    await expectWorks(h, { id: account.client_id, secret: plaintext });
  });

  it('adds a secret with no body at all, using the defaults', async () => {
    const account = await h.createAccount();
    const res = await h.admin('POST', secretsPath(account));
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ description: '', status: 'active' });
    await expectWorks(h, { id: account.client_id, secret: res.body.secret });
  });

  it('generates a different secret every time', async () => {
    const account = await h.createAccount();
    const plaintexts = new Set<string>([account.secret.secret]);
    for (let i = 0; i < 3; i++) plaintexts.add((await h.admin('POST', secretsPath(account), {})).body.secret);
    expect(plaintexts.size).toBe(4);
  });

  it('lists secrets as metadata only: no plaintext, no hash', async () => {
    const account = await h.createAccount();
    const added = (await h.admin('POST', secretsPath(account), { description: 'second' })).body;
    const res = await h.admin('GET', secretsPath(account));
    expect(res.status).toBe(200);
    expect(res.body.items.map((s: any) => s.id).sort()).toEqual([account.secret.id, added.id].sort());
    for (const item of res.body.items) {
      expect(Object.keys(item).sort()).toEqual(
        ['created_at', 'description', 'expires_at', 'id', 'last_used_at', 'last_used_ip', 'prefix', 'status', 'updated_at'].sort(),
      );
    }
    expect(res.body.items.find((s: any) => s.id === added.id)).toMatchObject({ description: 'second', prefix: added.prefix });
    for (const plaintext of [account.secret.secret, added.secret]) {
      expect(res.text).not.toContain(plaintext);
      expect(res.text).not.toContain(SECRET.exec(plaintext)![1]);
    }
    expect(res.text).not.toContain('$argon2');
    expect(res.text).not.toMatch(/"hash"/);
  });

  it('rotation: add, switch, disable the old one, re-enable, revoke it for good', async () => {
    const account = await h.createAccount({ scopes: ['jobs:run'] });
    const oldCreds = { id: account.client_id, secret: account.secret.secret as string };
    const oldPath = `${secretsPath(account)}/${account.secret.id}`;

    const added = await h.admin('POST', secretsPath(account), { description: 'rotation 2' });
    expect(added.status).toBe(201);
    const newCreds = { id: account.client_id, secret: added.body.secret as string };
    await expectWorks(h, newCreds);

    const disabled = await h.admin('PATCH', oldPath, { status: 'disabled' });
    expect(disabled.status, disabled.text).toBe(200);
    expect(disabled.body).toMatchObject({ id: account.secret.id, status: 'disabled' });
    expect(disabled.text).not.toContain(oldCreds.secret);
    expect(await statusOf(account, account.secret.id)).toBe('disabled');
    await expectRefused(h, oldCreds);
    await expectWorks(h, newCreds);

    const enabled = await h.admin('PATCH', oldPath, { status: 'active' });
    expect(enabled.status).toBe(200);
    expect(enabled.body.status).toBe('active');
    await expectWorks(h, oldCreds);

    const deleted = await h.admin('DELETE', oldPath);
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect(await statusOf(account, account.secret.id)).toBe('revoked');
    await expectRefused(h, oldCreds);
    expectProblem(await h.admin('PATCH', oldPath, { status: 'active' }), 409);
    expectProblem(await h.admin('PATCH', oldPath, { status: 'disabled' }), 409);
    expect(await statusOf(account, account.secret.id)).toBe('revoked');
    await expectRefused(h, oldCreds);
    await expectWorks(h, newCreds);
    expect((await h.admin('GET', `/service-accounts/${account.id}`)).body.status).toBe('active');
  });

  it('keeps a custom future expires_at, in whatever offset it was given', async () => {
    const account = await h.createAccount();
    const in30Days = new Date(h.clock.now().getTime() + 30 * DAY).toISOString();
    const res = await h.admin('POST', secretsPath(account), { expires_at: in30Days });
    expect(res.status, res.text).toBe(201);
    expect(res.body.expires_at).toBe(in30Days);
    expect((await listSecrets(account)).find((s) => s.id === res.body.id)?.expires_at).toBe(in30Days);
    await expectWorks(h, { id: account.client_id, secret: res.body.secret });

    // The harness clock is 2026-06-01T12:00Z; 14:00+02:00 a month later is 12:00Z.
    const offset = await h.admin('POST', secretsPath(account), { expires_at: '2026-07-01T14:00:00+02:00' });
    expect(offset.status, offset.text).toBe(201);
    expect(offset.body.expires_at).toBe('2026-07-01T12:00:00.000Z');
  });

  it('refuses an expires_at that is not in the future, or not a date-time, with 400 naming expires_at', async () => {
    const account = await h.createAccount();
    const now = h.clock.now().getTime();
    for (const expires_at of [
      new Date(now - DAY).toISOString(),
      new Date(now).toISOString(),
      'tomorrow',
      '2027-01-31',
      1_900_000_000,
    ]) {
      expectProblem(await h.admin('POST', secretsPath(account), { expires_at }), 400, ['expires_at']);
    }
    expect(await listSecrets(account)).toHaveLength(1);
  });

  it('refuses other bad bodies with 400 naming the field', async () => {
    const account = await h.createAccount();
    expectProblem(await h.admin('POST', secretsPath(account), { description: 'x'.repeat(1001) }), 400, ['description']);
    expectProblem(await h.admin('POST', secretsPath(account), { secret: 'my-own-secret' }), 400, ['secret']);
    expect(await listSecrets(account)).toHaveLength(1);
  });

  it('refuses an invalid status value with 400 and changes nothing', async () => {
    const account = await h.createAccount();
    const path = `${secretsPath(account)}/${account.secret.id}`;
    for (const body of [{ status: 'revoked' }, { status: 'expired' }, { status: 'bogus' }, { status: null }, {}]) {
      expectProblem(await h.admin('PATCH', path, body), 400, ['status']);
    }
    expectProblem(await h.admin('PATCH', path, { status: 'disabled', expires_at: '2030-01-01T00:00:00Z' }), 400, [
      'expires_at',
    ]);
    expect(await statusOf(account, account.secret.id)).toBe('active');
    await expectWorks(h, { id: account.client_id, secret: account.secret.secret });
  });

  it("answers 404 for another account's secret and leaves that secret alone", async () => {
    const mine = await h.createAccount();
    const theirs = await h.createAccount();
    const path = `${secretsPath(mine)}/${theirs.secret.id}`;
    expectProblem(await h.admin('PATCH', path, { status: 'disabled' }), 404);
    expectProblem(await h.admin('DELETE', path), 404);
    expect(await statusOf(theirs, theirs.secret.id)).toBe('active');
    await expectWorks(h, { id: theirs.client_id, secret: theirs.secret.secret });
    // Neither can my client use their secret.
    await expectRefused(h, { id: mine.client_id, secret: theirs.secret.secret });
  });

  it('answers 404 for unknown or malformed secret ids and unknown accounts', async () => {
    const account = await h.createAccount();
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const id of [unknown, 'not-a-uuid']) {
      expectProblem(await h.admin('PATCH', `${secretsPath(account)}/${id}`, { status: 'disabled' }), 404);
      expectProblem(await h.admin('DELETE', `${secretsPath(account)}/${id}`), 404);
    }
    for (const id of [unknown, 'not-a-uuid']) {
      expectProblem(await h.admin('GET', `/service-accounts/${id}/secrets`), 404);
      expectProblem(await h.admin('POST', `/service-accounts/${id}/secrets`, {}), 404);
      expectProblem(await h.admin('DELETE', `/service-accounts/${id}/secrets/${account.secret.id}`), 404);
    }
    expect(await statusOf(account, account.secret.id)).toBe('active');
  });
});

describe.each(DATABASE_KINDS)('admin API: the cap on active secrets (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { MAX_ACTIVE_SECRETS: '3' });
  });
  afterAll(() => h?.close());

  it('refuses one secret more than MAX_ACTIVE_SECRETS with 409; disabled and revoked ones do not count', async () => {
    const account = await h.createAccount();
    const path = `/service-accounts/${account.id}/secrets`;
    const second = await h.admin('POST', path, {});
    const third = await h.admin('POST', path, {});
    expect([second.status, third.status]).toEqual([201, 201]);

    expectProblem(await h.admin('POST', path, {}), 409);
    expect((await h.admin('GET', path)).body.items).toHaveLength(3);

    // Disable one: room for one more.
    expect((await h.admin('PATCH', `${path}/${second.body.id}`, { status: 'disabled' })).status).toBe(200);
    const fourth = await h.admin('POST', path, {});
    expect(fourth.status).toBe(201);
    expectProblem(await h.admin('POST', path, {}), 409);

    // Re-enabling the disabled one would exceed the cap.
    expectProblem(await h.admin('PATCH', `${path}/${second.body.id}`, { status: 'active' }), 409);
    const listed = (await h.admin('GET', path)).body.items;
    expect(listed.find((s: any) => s.id === second.body.id).status).toBe('disabled');
    await expectRefused(h, { id: account.client_id, secret: second.body.secret });

    // Revoke one of the active ones: the disabled one may come back.
    expect((await h.admin('DELETE', `${path}/${third.body.id}`)).status).toBe(204);
    expect((await h.admin('PATCH', `${path}/${second.body.id}`, { status: 'active' })).status).toBe(200);
    await expectWorks(h, { id: account.client_id, secret: second.body.secret });
    expectProblem(await h.admin('POST', path, {}), 409);
  });

  it('setting an active secret active again at the cap is no conflict', async () => {
    const account = await h.createAccount();
    const path = `/service-accounts/${account.id}/secrets`;
    await h.admin('POST', path, {});
    await h.admin('POST', path, {});
    const res = await h.admin('PATCH', `${path}/${account.secret.id}`, { status: 'active' });
    expect(res.status, res.text).toBe(200);
    expect(res.body.status).toBe('active');
  });

  it('counts per account', async () => {
    const full = await h.createAccount();
    await h.admin('POST', `/service-accounts/${full.id}/secrets`, {});
    await h.admin('POST', `/service-accounts/${full.id}/secrets`, {});
    const other = await h.createAccount();
    expect((await h.admin('POST', `/service-accounts/${other.id}/secrets`, {})).status).toBe(201);
  });
});

describe.each(DATABASE_KINDS)('admin API: secret expiry on the harness clock (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { MAX_ACTIVE_SECRETS: '3' });
  });
  afterAll(() => h?.close());

  it('a secret past its expires_at shows as expired and is refused with invalid_client', async () => {
    const account = await h.createAccount();
    const path = `/service-accounts/${account.id}/secrets`;
    const expiresAt = new Date(h.clock.now().getTime() + HOUR).toISOString();
    const short = (await h.admin('POST', path, { expires_at: expiresAt })).body;
    const shortCreds = { id: account.client_id, secret: short.secret as string };
    await expectWorks(h, shortCreds);

    h.clock.advance(HOUR - 1000);
    await expectWorks(h, shortCreds);
    expect((await h.admin('GET', path)).body.items.find((s: any) => s.id === short.id).status).toBe('active');

    h.clock.advance(1000);
    const items = (await h.admin('GET', path)).body.items;
    expect(items.find((s: any) => s.id === short.id)).toMatchObject({ status: 'expired', expires_at: expiresAt });
    expect(items.find((s: any) => s.id === account.secret.id).status).toBe('active');
    const fetched = (await h.admin('GET', `/service-accounts/${account.id}`)).body;
    expect(fetched.secrets.find((s: any) => s.id === short.id).status).toBe('expired');
    await expectRefused(h, shortCreds);
    // The account's other secret is unaffected.
    await expectWorks(h, { id: account.client_id, secret: account.secret.secret });
  });

  it('expired secrets do not count towards the cap', async () => {
    const account = await h.createAccount();
    const path = `/service-accounts/${account.id}/secrets`;
    const expiresAt = new Date(h.clock.now().getTime() + HOUR).toISOString();
    expect((await h.admin('POST', path, { expires_at: expiresAt })).status).toBe(201);
    expect((await h.admin('POST', path, { expires_at: expiresAt })).status).toBe(201);
    expectProblem(await h.admin('POST', path, {}), 409);

    h.clock.advance(HOUR);
    const added = await h.admin('POST', path, {});
    expect(added.status, added.text).toBe(201);
    await expectWorks(h, { id: account.client_id, secret: added.body.secret });
  });

  it('the default expiry is SECRET_TTL_DAYS after creation on the service clock', async () => {
    h.clock.advance(DAY);
    const account = await h.createAccount();
    const created = h.clock.now().getTime();
    expect(new Date(account.secret.expires_at).getTime()).toBe(created + 730 * DAY);
    const added = (await h.admin('POST', `/service-accounts/${account.id}/secrets`, {})).body;
    expect(new Date(added.expires_at).getTime()).toBe(created + 730 * DAY);
  });
});

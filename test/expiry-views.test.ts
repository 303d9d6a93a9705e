import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { startTestService, uniqueName, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

type Expiration = 'valid' | 'expired' | 'expiring_soon';
const EXPIRATIONS: Expiration[] = ['valid', 'expired', 'expiring_soon'];

/** An RFC 9457 problem with status 400 naming `field` in `errors`. */
function expectBadField(res: HttpResult, field: string) {
  expect(res.status, res.text).toBe(400);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ status: 400, title: expect.any(String) });
  expect(res.body.errors.map((e: { field: string }) => e.field), res.text).toContain(field);
}

const ids = (items: any[]) => items.map((i) => i.id as string);
const sorted = (list: string[]) => [...list].sort();
const withoutAccount = ({ service_account: _, ...secret }: any) => secret;

/** Whether a secret as shown by the API is in an expiration state at `now`. Revoked secrets are in none. */
function inExpiration(s: any, state: Expiration, now: Date, soonDays: number): boolean {
  const expires = new Date(s.expires_at).getTime();
  if (s.status === 'revoked') return false;
  if (state === 'expired') return s.status === 'expired' && expires <= now.getTime();
  if (state === 'valid') return s.status !== 'expired' && expires > now.getTime();
  return s.status !== 'expired' && expires > now.getTime() && expires <= now.getTime() + soonDays * DAY;
}

/** Admin-API helpers over one running service. */
function views(h: () => TestService) {
  const at = (ms: number) => new Date(h().clock.now().getTime() + ms).toISOString();
  const secretsPath = (account: any) => `/service-accounts/${account.id}/secrets`;
  const get = async (path: string) => {
    const res = await h().admin('GET', path);
    expect(res.status, `${path}: ${res.text}`).toBe(200);
    return res.body;
  };
  const addSecret = async (account: any, body: Record<string, unknown> = {}) => {
    const res = await h().admin('POST', secretsPath(account), body);
    expect(res.status, res.text).toBe(201);
    return res.body;
  };
  const disable = async (account: any, secret: any) =>
    expect((await h().admin('PATCH', `${secretsPath(account)}/${secret.id}`, { status: 'disabled' })).status).toBe(200);
  const revoke = async (account: any, secret: any) =>
    expect((await h().admin('DELETE', `${secretsPath(account)}/${secret.id}`)).status).toBe(204);
  /** Every item of a paginated list, `limit` at a time through next_cursor; fails on a duplicate. */
  const walk = async (path: string, limit: number) => {
    const items: any[] = [];
    let cursor: string | null = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const body = await get(`${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(body.items.length).toBeLessThanOrEqual(limit);
      if (body.next_cursor) expect(body.items).toHaveLength(limit);
      items.push(...body.items);
      cursor = body.next_cursor;
    } while (cursor);
    expect(new Set(ids(items)).size, 'no item twice').toBe(items.length);
    return items;
  };
  /** Walks the cross-account list, checks it is soonest expiry first, and returns it. */
  const allSecrets = async (query = '', limit = 100) => {
    const items = await walk(`/secrets${query}`, limit);
    const times = items.map((s) => new Date(s.expires_at).getTime());
    expect(times, 'soonest expiry first').toEqual([...times].sort((a, b) => a - b));
    return items;
  };
  return { at, secretsPath, get, addSecret, disable, revoke, walk, allSecrets };
}

describe.each(DATABASE_KINDS)('secret expiry views, filters and last use (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());
  const { at, secretsPath, get, addSecret, disable, revoke, walk, allSecrets } = views(() => h);

  /** Per expiration state, the account's secrets in it, on its own list and on the cross-account list. */
  const expectExpirations = async (account: any, expected: Record<Expiration, string[]>) => {
    for (const state of EXPIRATIONS) {
      const own = (await get(`${secretsPath(account)}?expiration=${state}`)).items;
      expect(sorted(ids(own)), state).toEqual(sorted(expected[state]));
      const everyone = await allSecrets(`?expiration=${state}`);
      for (const s of everyone) expect(inExpiration(s, state, h.clock.now(), 30), `${state}: ${JSON.stringify(s)}`).toBe(true);
      const mine = everyone.filter((s) => s.service_account.id === account.id);
      expect(sorted(ids(mine)), `all secrets, ${state}`).toEqual(sorted(expected[state]));
    }
  };

  it('every view shows each secret’s prefix, status, created_at, expires_at and last use; expired follows the clock', async () => {
    const name = uniqueName('views');
    const account = await h.createAccount({ name });
    h.clock.advance(MINUTE);
    const short = await addSecret(account, { expires_at: at(HOUR), description: 'short-lived' });
    h.clock.advance(MINUTE);
    const paused = await addSecret(account, { expires_at: at(2 * HOUR) });
    await disable(account, paused);
    h.clock.advance(MINUTE);
    const gone = await addSecret(account, { expires_at: at(HOUR) });
    await revoke(account, gone);
    const created = [account.secret, short, paused, gone];
    for (const s of created) expect(s.secret.startsWith(s.prefix)).toBe(true);

    /** The account's secrets as each view shows them; every view agrees with the per-account list. */
    const seen = async () => {
      const listed = (await get(secretsPath(account))).items;
      expect((await get(`/service-accounts/${account.id}`)).secrets).toEqual(listed);
      const found = (await get(`/service-accounts?q=${encodeURIComponent(name)}`)).items;
      expect(ids(found)).toEqual([account.id]);
      expect(found[0].secrets).toEqual(listed);
      const everywhere = (await allSecrets()).filter((s) => s.service_account.id === account.id);
      for (const s of everywhere) {
        expect(s.service_account).toEqual({ id: account.id, client_id: account.client_id, name, status: 'active' });
      }
      const byId = (list: any[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
      expect(byId(everywhere.map(withoutAccount))).toEqual(byId(listed));
      return listed;
    };
    const expected = (statuses: string[]) =>
      [...created].reverse().map((s, i) => ({
        id: s.id,
        prefix: s.prefix,
        status: statuses[i],
        created_at: s.created_at,
        expires_at: s.expires_at,
        last_used_at: null,
        last_used_ip: null,
      }));

    // Newest first; each created at the service time it was added.
    expect(new Date(short.created_at).getTime() - new Date(account.secret.created_at).getTime()).toBe(MINUTE);
    expect(short.expires_at).toBe(new Date(new Date(short.created_at).getTime() + HOUR).toISOString());
    const before = await seen();
    expect(before).toMatchObject(expected(['revoked', 'disabled', 'active', 'active']));
    for (const s of before) expect(s).not.toHaveProperty('secret');

    // Two hours on: the short-lived and the disabled secret show as expired; the revoked one stays revoked.
    h.clock.advance(2 * HOUR);
    expect(await seen()).toMatchObject(expected(['revoked', 'expired', 'expired', 'active']));
  });

  it('filters by status: active, disabled, revoked, expired, on the account’s list and across accounts', async () => {
    const account = await h.createAccount();
    const paused = await addSecret(account);
    await disable(account, paused);
    const gone = await addSecret(account);
    await revoke(account, gone);
    const lapsing = await addSecret(account, { expires_at: at(HOUR) });
    const pausedLapsing = await addSecret(account, { expires_at: at(HOUR) });
    await disable(account, pausedLapsing);
    const goneLapsing = await addSecret(account, { expires_at: at(HOUR) });
    await revoke(account, goneLapsing);
    h.clock.advance(HOUR);

    const expected: Record<string, string[]> = {
      active: [account.secret.id],
      disabled: [paused.id],
      revoked: [gone.id, goneLapsing.id],
      expired: [lapsing.id, pausedLapsing.id],
    };
    for (const [status, want] of Object.entries(expected)) {
      const own = (await get(`${secretsPath(account)}?status=${status}`)).items;
      expect(sorted(ids(own)), status).toEqual(sorted(want));
      const everyone = await allSecrets(`?status=${status}`);
      for (const s of everyone) expect(s.status).toBe(status);
      expect(sorted(ids(everyone.filter((s) => s.service_account.id === account.id))), status).toEqual(sorted(want));
    }
  });

  it('filters by expiration: valid, expired, expiring_soon (30 days); revoked secrets are in none; states move with the clock', async () => {
    const account = await h.createAccount(); // its first secret lasts SECRET_TTL_DAYS (730)
    const soon = await addSecret(account, { expires_at: at(10 * DAY) });
    const pausedSoon = await addSecret(account, { expires_at: at(20 * DAY) });
    await disable(account, pausedSoon);
    const later = await addSecret(account, { expires_at: at(40 * DAY) });
    const goneSoon = await addSecret(account, { expires_at: at(10 * DAY) });
    await revoke(account, goneSoon);
    const lapsed = await addSecret(account, { expires_at: at(HOUR) });
    const goneLapsed = await addSecret(account, { expires_at: at(HOUR) });
    await revoke(account, goneLapsed);
    h.clock.advance(2 * HOUR);

    const first = account.secret.id;
    await expectExpirations(account, {
      valid: [first, soon.id, pausedSoon.id, later.id],
      expiring_soon: [soon.id, pausedSoon.id],
      expired: [lapsed.id],
    });

    // Eleven days on, the 40-day secret is within 30 days of expiry and the 10-day one has expired.
    h.clock.advance(11 * DAY);
    await expectExpirations(account, {
      valid: [first, pausedSoon.id, later.id],
      expiring_soon: [pausedSoon.id, later.id],
      expired: [lapsed.id, soon.id],
    });
    // Filters combine.
    const pausedOnly = (await get(`${secretsPath(account)}?status=disabled&expiration=expiring_soon`)).items;
    expect(ids(pausedOnly)).toEqual([pausedSoon.id]);
  });

  it('lists the accounts holding a secret in an expiration state, searched by name or description, page by page', async () => {
    const tag = uniqueName('rotation');
    const create = (input: Record<string, unknown>) => {
      h.clock.advance(MINUTE); // the list is newest first
      return h.createAccount(input);
    };
    const fresh = await create({ name: `${tag}-fresh` });
    const soon = await create({ name: `${tag}-soon` });
    await addSecret(soon, { expires_at: at(10 * DAY) });
    const lapsed = await create({ name: `${tag}-lapsed` });
    await addSecret(lapsed, { expires_at: at(HOUR) });
    await revoke(lapsed, lapsed.secret);
    // Found by its description; every secret of it is revoked, so it is in no expiration state.
    const retired = await create({ name: uniqueName('retired'), description: `replaced (${tag.toUpperCase()})` });
    await revoke(retired, await addSecret(retired, { expires_at: at(10 * DAY) }));
    await revoke(retired, retired.secret);
    h.clock.advance(2 * HOUR);

    const q = encodeURIComponent(tag);
    const everyone = await walk(`/service-accounts?q=${q}`, 100);
    expect(ids(everyone)).toEqual([retired.id, lapsed.id, soon.id, fresh.id]);
    expect(ids(await walk(`/service-accounts?q=${q}`, 1))).toEqual(ids(everyone));
    const statuses = (a: any) => a.secrets.map((s: any) => s.status).sort();
    expect(everyone.map(statuses)).toEqual([['revoked', 'revoked'], ['expired', 'revoked'], ['active', 'active'], ['active']]);

    const expected: Record<Expiration, string[]> = {
      valid: [soon.id, fresh.id],
      expiring_soon: [soon.id],
      expired: [lapsed.id],
    };
    for (const state of EXPIRATIONS) {
      const found = await walk(`/service-accounts?q=${q}&expiration=${state}`, 1);
      expect(ids(found), state).toEqual(expected[state]);
      // Without q, every listed account holds such a secret.
      for (const a of await walk(`/service-accounts?expiration=${state}`, 100)) {
        expect(a.secrets.some((s: any) => inExpiration(s, state, h.clock.now(), 30)), `${state}: ${a.name}`).toBe(true);
      }
    }
  });

  it('pages through an account’s secrets (newest first) and all secrets (soonest expiry first) with no duplicates or gaps', async () => {
    const account = await h.createAccount();
    const sameExpiry = at(5 * DAY);
    for (let i = 0; i < 3; i++) {
      h.clock.advance(MINUTE);
      await addSecret(account, { expires_at: sameExpiry });
    }
    // Two more at the very same instant: the pages must still neither repeat nor skip one.
    await addSecret(account, { expires_at: at(6 * DAY) });
    await addSecret(account, { expires_at: at(6 * DAY) });

    const whole = (await get(`${secretsPath(account)}?limit=100`)).items;
    expect(whole).toHaveLength(6);
    const created = whole.map((s: any) => new Date(s.created_at).getTime());
    expect(created, 'newest first').toEqual([...created].sort((a, b) => b - a));
    for (const limit of [1, 2, 4]) expect(ids(await walk(secretsPath(account), limit))).toEqual(ids(whole));
    expect(ids(await walk(`${secretsPath(account)}?expiration=expiring_soon`, 2))).toEqual(ids(whole.slice(0, 5)));

    for (const query of ['', '?expiration=valid', '?expiration=expiring_soon', '?status=active']) {
      const all = await allSecrets(query, 100);
      expect(ids(await allSecrets(query, 2)), query).toEqual(ids(all));
    }
    const mine = (await allSecrets('?expiration=expiring_soon', 3)).filter((s) => s.service_account.id === account.id);
    expect(mine.map((s) => s.expires_at)).toEqual([sameExpiry, sameExpiry, sameExpiry, at(6 * DAY), at(6 * DAY)]);
  });

  it('answers bad filter values with 400 problem+json naming the field', async () => {
    const account = await h.createAccount();
    const own = secretsPath(account);
    for (const path of [own, '/secrets']) {
      expectBadField(await h.admin('GET', `${path}?status=expiring`), 'status');
      expectBadField(await h.admin('GET', `${path}?expiration=soon`), 'expiration');
      expectBadField(await h.admin('GET', `${path}?expiration=revoked`), 'expiration');
      expectBadField(await h.admin('GET', `${path}?limit=0`), 'limit');
      expectBadField(await h.admin('GET', `${path}?limit=101`), 'limit');
      expectBadField(await h.admin('GET', `${path}?cursor=not-a-cursor`), 'cursor');
    }
    expectBadField(await h.admin('GET', '/service-accounts?expiration=expiring'), 'expiration');
    expectBadField(await h.admin('GET', '/service-accounts?status=sleeping'), 'status');
    // A secret's expiry must be a future RFC 3339 date-time.
    expectBadField(await h.admin('POST', own, { expires_at: at(-MINUTE) }), 'expires_at');
    expectBadField(await h.admin('POST', own, { expires_at: 'next tuesday' }), 'expires_at');
    // Past year 9999 in UTC (a valid RFC 3339 date-time, though): refused, never a 500.
    expectBadField(await h.admin('POST', own, { expires_at: '9999-12-31T23:59:59-01:00' }), 'expires_at');
    expect((await h.admin('POST', own, { expires_at: '9999-12-31T23:59:59Z' })).status).toBe(201);
  });

  it('records the time and address of the last successful token request per secret and per account, coalesced, after a flush', async () => {
    const name = uniqueName('used');
    const account = await h.createAccount({ name });
    const other = await addSecret(account);
    const first = { id: account.client_id, secret: account.secret.secret as string };
    const second = { id: account.client_id, secret: other.secret as string };
    const wrong = { ...first, secret: `${first.secret.slice(0, -1)}${first.secret.endsWith('A') ? 'B' : 'A'}` };
    const tokenAt = async (creds: typeof first, status = 200) => {
      h.clock.advance(MINUTE);
      const res = await h.token(grant, creds);
      expect(res.status, res.text).toBe(status);
      return h.clock.now().toISOString();
    };
    /** last_used_at of the account and its secrets, as every view shows them; the address is always loopback. */
    const lastUse = async () => {
      await h.service.flush();
      const detail = await get(`/service-accounts/${account.id}`);
      const listedAccount = (await get(`/service-accounts?q=${encodeURIComponent(name)}`)).items[0];
      const listed = (await get(secretsPath(account))).items;
      const everywhere = (await allSecrets()).filter((s) => s.service_account.id === account.id);
      for (const view of [listedAccount, ...detail.secrets, ...listed, ...everywhere]) {
        expect(view.last_used_ip).toBe(view.last_used_at === null ? null : '127.0.0.1');
      }
      expect(listedAccount.last_used_at).toBe(detail.last_used_at);
      expect(detail.secrets).toEqual(listed);
      expect(listedAccount.secrets).toEqual(listed);
      const of = (list: any[], id: string) => list.find((s) => s.id === id).last_used_at;
      for (const id of [account.secret.id, other.id]) expect(of(everywhere, id)).toBe(of(listed, id));
      return { account: detail.last_used_at, first: of(listed, account.secret.id), second: of(listed, other.id) };
    };

    expect(await lastUse()).toEqual({ account: null, first: null, second: null });

    const t1 = await tokenAt(first);
    expect(await lastUse()).toEqual({ account: t1, first: t1, second: null });

    // A refused request (right client, wrong secret) changes nothing.
    await tokenAt(wrong, 401);
    expect(await lastUse()).toEqual({ account: t1, first: t1, second: null });

    // Several uses between flushes: each secret keeps its latest, the account the latest of all.
    await tokenAt(first);
    const t3 = await tokenAt(second);
    const t4 = await tokenAt(first);
    await tokenAt(wrong, 401);
    expect(await lastUse()).toEqual({ account: t4, first: t4, second: t3 });
  });
});

describe.each(DATABASE_KINDS)('EXPIRING_SOON_DAYS set to 7 (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { EXPIRING_SOON_DAYS: '7' });
  });
  afterAll(() => h?.close());
  const { at, secretsPath, get, addSecret, allSecrets } = views(() => h);

  it('expiring_soon means within 7 days on every list, and follows the clock', async () => {
    const tag = uniqueName('weekly');
    const sixDays = await h.createAccount({ name: `${tag}-six` });
    const inSix = await addSecret(sixDays, { expires_at: at(6 * DAY) });
    h.clock.advance(MINUTE); // accounts are listed newest first
    const eightDays = await h.createAccount({ name: `${tag}-eight` });
    const inEight = await addSecret(eightDays, { expires_at: at(8 * DAY) });

    const check = async (want: { six: string[]; eight: string[]; accounts: string[] }) => {
      expect(ids((await get(`${secretsPath(sixDays)}?expiration=expiring_soon`)).items)).toEqual(want.six);
      expect(ids((await get(`${secretsPath(eightDays)}?expiration=expiring_soon`)).items)).toEqual(want.eight);
      const accounts = (await get(`/service-accounts?q=${encodeURIComponent(tag)}&expiration=expiring_soon`)).items;
      expect(ids(accounts)).toEqual(want.accounts);
      const everyone = await allSecrets('?expiration=expiring_soon');
      for (const s of everyone) expect(inExpiration(s, 'expiring_soon', h.clock.now(), 7), JSON.stringify(s)).toBe(true);
      const mine = everyone.filter((s) => [sixDays.id, eightDays.id].includes(s.service_account.id));
      expect(ids(mine)).toEqual([...want.six, ...want.eight]);
    };

    // 6 days is soon, 8 days is not (it would be with the default 30).
    await check({ six: [inSix.id], eight: [], accounts: [sixDays.id] });
    expect(ids((await get(`${secretsPath(eightDays)}?expiration=valid`)).items)).toContain(inEight.id);

    // A day and a minute later, the 8-day secret is within 7 days too.
    h.clock.advance(DAY + MINUTE);
    await check({ six: [inSix.id], eight: [inEight.id], accounts: [eightDays.id, sixDays.id] });
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { ADMIN_CLIENT_ID, basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const MINUTE = 60_000;

/** Small values keep the suite quick: every wrong secret costs an argon2 verify. */
const LIMIT = 4;
const MAX_FAILURES = 3;
const MAX_FAILURES_PER_IP = 5;
const BLOCK_SECONDS = 300;

type Store = 'memory' | 'database';
const STORES: Store[] = ['memory', 'database'];
const SUITES = DATABASE_KINDS.flatMap((kind) => STORES.map((store) => [kind, store] as const));

interface Creds {
  id: string;
  secret: string;
}

const credsOf = (account: any): Creds => ({ id: account.client_id, secret: account.secret.secret });

/** The same secret with its last character changed: right format, right secret id, wrong value. */
const wrong = (creds: Creds): Creds => ({
  id: creds.id,
  secret: `${creds.secret.slice(0, -1)}${creds.secret.endsWith('A') ? 'B' : 'A'}`,
});

/** The RateLimit header fields of a response, as a client reads them. */
const limitHeaders = (res: HttpResult) => ({
  limit: res.headers.get('ratelimit-limit'),
  remaining: res.headers.get('ratelimit-remaining'),
  reset: res.headers.get('ratelimit-reset'),
});

function expectTooManyRequests(res: HttpResult) {
  expect(res.status, res.text).toBe(429);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body).toEqual({ error: 'too_many_requests', error_description: expect.any(String) });
  expect(res.body.error_description.length).toBeGreaterThan(0);
}

describe.each(SUITES)('rate limits and brute-force protection (%s, %s store)', (kind, store) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, {
      RATE_LIMIT_PER_MINUTE: String(LIMIT),
      RATE_LIMIT_STORE: store,
      BRUTE_FORCE_MAX_FAILURES: String(MAX_FAILURES),
      BRUTE_FORCE_MAX_FAILURES_PER_IP: String(MAX_FAILURES_PER_IP),
      BRUTE_FORCE_WINDOW_SECONDS: '600',
      BRUTE_FORCE_BLOCK_SECONDS: String(BLOCK_SECONDS),
      // The tests reach the service over loopback; the loopback "proxy" lets them speak from many addresses.
      TRUST_PROXY: '127.0.0.1',
    });
    expect(h.config.rateLimitStore).toBe(store);
    // The bootstrap admin also obeys the small default; give it room so the tests' own admin calls never hit it.
    const found = await h.admin('GET', `/service-accounts?q=${encodeURIComponent(`bootstrap admin ${ADMIN_CLIENT_ID}`)}`);
    const adminAccount = found.body.items.find((a: any) => a.client_id === ADMIN_CLIENT_ID);
    expect((await h.admin('PATCH', `/service-accounts/${adminAccount.id}`, { rate_limit_per_minute: 10_000 })).status).toBe(200);
  });
  afterAll(() => h?.close());

  /** Moves the service clock to the first instant of the next minute: a fresh rate-limit window. */
  const startOfNextMinute = () => {
    h.clock.current = new Date((Math.floor(h.clock.now().getTime() / MINUTE) + 1) * MINUTE);
  };

  /** A token request with Basic credentials, arriving through the trusted proxy from `ip`. */
  const tokenFrom = (ip: string, creds: Creds) =>
    h.fetch('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(creds.id, creds.secret),
        'x-forwarded-for': ip,
      },
      body: new URLSearchParams(grant).toString(),
    });

  /** A fresh client address per call, so no test inherits another's failures. */
  let addressCounter = 0;
  const newAddress = () => {
    addressCounter += 1;
    return `198.51.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
  };

  describe('rate limit per account', () => {
    it('an account without a limit of its own gets RATE_LIMIT_PER_MINUTE, counted down in fixed minutes of the service clock', async () => {
      startOfNextMinute();
      const account = await h.createAccount();
      expect(account.rate_limit_per_minute).toBe(LIMIT);
      const creds = credsOf(account);

      // One request every 10 s: Remaining counts down, Reset counts the seconds to the end of the minute.
      for (let i = 1; i <= LIMIT; i++) {
        if (i > 1) h.clock.advance(10_000);
        const res = await h.token(grant, creds);
        expect(res.status, res.text).toBe(200);
        expect(res.body.access_token).toEqual(expect.any(String));
        expect(limitHeaders(res)).toEqual({
          limit: String(LIMIT),
          remaining: String(LIMIT - i),
          reset: String(60 - 10 * (i - 1)),
        });
      }

      // 10.5 s later, at :40.5, the limit is spent: 429 until the minute ends, 19.5 s later (rounded up).
      h.clock.advance(10_500);
      const refused = await h.token(grant, creds);
      expectTooManyRequests(refused);
      expect(refused.body.access_token).toBeUndefined();
      expect(limitHeaders(refused)).toEqual({ limit: String(LIMIT), remaining: '0', reset: '20' });
      expect(refused.headers.get('retry-after')).toBe('20');

      // Still refused in the last second of the minute.
      h.clock.advance(18_500);
      const lastSecond = await h.token(grant, creds);
      expectTooManyRequests(lastSecond);
      expect(lastSecond.headers.get('retry-after')).toBe('1');

      // The next minute of the service clock starts a fresh window: no sleeping involved.
      h.clock.advance(1_000);
      const again = await h.token(grant, creds);
      expect(again.status, again.text).toBe(200);
      expect(limitHeaders(again)).toEqual({ limit: String(LIMIT), remaining: String(LIMIT - 1), reset: '60' });
      expect(again.headers.get('retry-after')).toBeNull();
    });

    it('a limit set on create applies to that account only: another account keeps its own allowance', async () => {
      startOfNextMinute();
      const strict = await h.createAccount({ rate_limit_per_minute: 2 });
      const other = await h.createAccount();
      expect(strict.rate_limit_per_minute).toBe(2);
      const strictCreds = credsOf(strict);
      const otherCreds = credsOf(other);

      expect(limitHeaders(await h.token(grant, strictCreds))).toMatchObject({ limit: '2', remaining: '1' });
      expect(limitHeaders(await h.token(grant, strictCreds))).toMatchObject({ limit: '2', remaining: '0' });
      const refused = await h.token(grant, strictCreds);
      expectTooManyRequests(refused);
      expect(refused.body.error_description).toContain('2');

      // The other account, in the same minute, has all of its allowance.
      for (let i = 1; i <= LIMIT; i++) {
        const res = await h.token(grant, otherCreds);
        expect(res.status, res.text).toBe(200);
        expect(limitHeaders(res)).toMatchObject({ limit: String(LIMIT), remaining: String(LIMIT - i) });
      }
      expectTooManyRequests(await h.token(grant, otherCreds));
      expectTooManyRequests(await h.token(grant, strictCreds));
    });

    it('a PATCH of rate_limit_per_minute takes effect on the next request; null restores the default', async () => {
      startOfNextMinute();
      const account = await h.createAccount({ rate_limit_per_minute: 3 });
      const path = `/service-accounts/${account.id}`;
      const creds = credsOf(account);
      expect(limitHeaders(await h.token(grant, creds))).toMatchObject({ limit: '3', remaining: '2' });
      expect(limitHeaders(await h.token(grant, creds))).toMatchObject({ limit: '3', remaining: '1' });

      // Lowered below what this minute has used: the very next request is refused under the new limit.
      const lowered = await h.admin('PATCH', path, { rate_limit_per_minute: 2 });
      expect(lowered.status, lowered.text).toBe(200);
      expect(lowered.body.rate_limit_per_minute).toBe(2);
      const refused = await h.token(grant, creds);
      expectTooManyRequests(refused);
      expect(limitHeaders(refused)).toEqual({ limit: '2', remaining: '0', reset: '60' });

      // Back to the default (LIMIT, higher than 2): the next request is let in under the default.
      const reset = await h.admin('PATCH', path, { rate_limit_per_minute: null });
      expect(reset.status, reset.text).toBe(200);
      expect(reset.body.rate_limit_per_minute).toBe(LIMIT);
      expect((await h.admin('GET', path)).body.rate_limit_per_minute).toBe(LIMIT);
      const allowed = await h.token(grant, creds);
      expect(allowed.status, allowed.text).toBe(200);
      expect(allowed.headers.get('ratelimit-limit')).toBe(String(LIMIT));
      // The window was not restarted by the PATCH: this minute's earlier requests still count.
      expect(Number(allowed.headers.get('ratelimit-remaining'))).toBeLessThanOrEqual(LIMIT - 3);

      // And the default really is in force: it follows RATE_LIMIT_PER_MINUTE in the next minute too.
      startOfNextMinute();
      for (let i = 1; i <= LIMIT; i++) expect((await h.token(grant, creds)).status).toBe(200);
      expectTooManyRequests(await h.token(grant, creds));
    });

    it('rejects a limit that is not a whole number from 1 to 1000000, on create and on PATCH, naming the field', async () => {
      const account = await h.createAccount({ rate_limit_per_minute: 7 });
      expect(account.rate_limit_per_minute).toBe(7);
      const path = `/service-accounts/${account.id}`;

      for (const bad of [0, -1, 1.5, '10', 1_000_001, true, {}]) {
        for (const res of [
          await h.admin('POST', '/service-accounts', { name: `bad-limit-${String(bad)}`, rate_limit_per_minute: bad }),
          await h.admin('PATCH', path, { rate_limit_per_minute: bad }),
        ]) {
          expect(res.status, `${JSON.stringify(bad)}: ${res.text}`).toBe(400);
          expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
          expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('rate_limit_per_minute');
        }
      }
      // Nothing was changed by the refused PATCHes.
      expect((await h.admin('GET', path)).body.rate_limit_per_minute).toBe(7);
      // The bounds themselves are accepted.
      expect((await h.admin('PATCH', path, { rate_limit_per_minute: 1 })).body.rate_limit_per_minute).toBe(1);
      expect((await h.admin('PATCH', path, { rate_limit_per_minute: 1_000_000 })).body.rate_limit_per_minute).toBe(1_000_000);
    });

    it('requests refused for a bad secret do not spend the account’s limit', async () => {
      startOfNextMinute();
      const victim = await h.createAccount({ rate_limit_per_minute: 2 });
      const creds = credsOf(victim);

      // Someone else, elsewhere, hammers the victim's client_id with wrong secrets (staying under the block).
      const attacker = newAddress();
      for (let i = 0; i < MAX_FAILURES - 1; i++) {
        const res = await tokenFrom(attacker, wrong(creds));
        expect(res.status, res.text).toBe(401);
        expect(res.body.error).toBe('invalid_client');
        expect(res.headers.get('ratelimit-remaining')).toBeNull();
      }

      // The victim still has its whole minute.
      const home = newAddress();
      const first = await tokenFrom(home, creds);
      expect(first.status, first.text).toBe(200);
      expect(limitHeaders(first)).toMatchObject({ limit: '2', remaining: '1' });
      expect(limitHeaders(await tokenFrom(home, creds))).toMatchObject({ limit: '2', remaining: '0' });
      expectTooManyRequests(await tokenFrom(home, creds));
    });
  });

  describe('brute force', () => {
    /** Fails MAX_FAILURES times for `creds` from `ip`, each an ordinary 401. */
    const failFrom = async (ip: string, creds: Creds, times = MAX_FAILURES) => {
      for (let i = 0; i < times; i++) {
        const res = await tokenFrom(ip, wrong(creds));
        expect(res.status, `failure ${i + 1}: ${res.text}`).toBe(401);
        expect(res.body.error).toBe('invalid_client');
      }
    };

    it('after BRUTE_FORCE_MAX_FAILURES wrong secrets, that client is refused from that address, even with the right secret, and nowhere else', async () => {
      const account = await h.createAccount();
      const creds = credsOf(account);
      const attacker = newAddress();
      await failFrom(attacker, creds);

      // From the attacker's address: 429 with Retry-After, whatever the secret.
      const blocked = await tokenFrom(attacker, creds);
      expectTooManyRequests(blocked);
      expect(blocked.headers.get('retry-after')).toBe(String(BLOCK_SECONDS));
      expect(blocked.body.access_token).toBeUndefined();
      expectTooManyRequests(await tokenFrom(attacker, wrong(creds)));

      // The legitimate client, from its own address, is not locked out.
      const legit = await tokenFrom(newAddress(), creds);
      expect(legit.status, legit.text).toBe(200);
      expect(legit.body.access_token).toEqual(expect.any(String));

      // Below the per-address threshold, only that client_id is blocked at the attacker's address.
      const bystander = credsOf(await h.createAccount());
      expect((await tokenFrom(attacker, bystander)).status).toBe(200);
    });

    it('the block lifts after BRUTE_FORCE_BLOCK_SECONDS of the service clock', async () => {
      const account = await h.createAccount();
      const creds = credsOf(account);
      const ip = newAddress();
      await failFrom(ip, creds);
      expect((await tokenFrom(ip, creds)).headers.get('retry-after')).toBe(String(BLOCK_SECONDS));

      h.clock.advance((BLOCK_SECONDS - 1) * 1000);
      const almost = await tokenFrom(ip, creds);
      expectTooManyRequests(almost);
      expect(almost.headers.get('retry-after')).toBe('1');

      h.clock.advance(1000);
      const lifted = await tokenFrom(ip, creds);
      expect(lifted.status, lifted.text).toBe(200);

      // The success cleared the failures: one more typo is an ordinary 401, not a new block.
      await failFrom(ip, creds, 1);
      expect((await tokenFrom(ip, creds)).status).toBe(200);
    });

    it('BRUTE_FORCE_MAX_FAILURES_PER_IP failures for many client_ids block that address for everyone, and only that address', async () => {
      const account = await h.createAccount();
      const creds = credsOf(account);
      const scanner = newAddress();

      // Unknown client_ids, one attempt each: no single client reaches its own threshold.
      for (let i = 0; i < MAX_FAILURES_PER_IP; i++) {
        const res = await tokenFrom(scanner, { id: `guess-${i}-${scanner}`, secret: creds.secret });
        expect(res.status, `attempt ${i + 1}: ${res.text}`).toBe(401);
      }

      // Now the address is refused for any client, even a real one with its right secret, before any check.
      const blocked = await tokenFrom(scanner, creds);
      expectTooManyRequests(blocked);
      expect(blocked.headers.get('retry-after')).toBe(String(BLOCK_SECONDS));
      expectTooManyRequests(await tokenFrom(scanner, { id: 'guess-new', secret: 'x' }));

      // Every other address is unaffected.
      expect((await tokenFrom(newAddress(), creds)).status).toBe(200);

      // And the block lifts with the service clock.
      h.clock.advance(BLOCK_SECONDS * 1000);
      const lifted = await tokenFrom(scanner, creds);
      expect(lifted.status, lifted.text).toBe(200);
    });

    it('a blocked address is refused before the rate limit is consulted, so it spends none of the account’s allowance', async () => {
      startOfNextMinute();
      const account = await h.createAccount({ rate_limit_per_minute: 2 });
      const creds = credsOf(account);
      const attacker = newAddress();
      await failFrom(attacker, creds);
      for (let i = 0; i < 3; i++) expectTooManyRequests(await tokenFrom(attacker, creds));

      const res = await tokenFrom(newAddress(), creds);
      expect(res.status, res.text).toBe(200);
      expect(limitHeaders(res)).toMatchObject({ limit: '2', remaining: '1' });
    });
  });

  it('the audit trail records rate-limit, bad-secret and brute-force denials', async () => {
    startOfNextMinute();
    const account = await h.createAccount({ rate_limit_per_minute: 1 });
    const creds = credsOf(account);
    expect((await h.token(grant, creds)).status).toBe(200);
    expectTooManyRequests(await h.token(grant, creds));

    const attacker = newAddress();
    for (let i = 0; i < MAX_FAILURES; i++) expect((await tokenFrom(attacker, wrong(creds))).status).toBe(401);
    expectTooManyRequests(await tokenFrom(attacker, creds));
    await h.service.flush();

    const res = await h.admin('GET', `/audit-events?service_account_id=${account.id}&action=token.denied&limit=100`);
    expect(res.status, res.text).toBe(200);
    const denials: any[] = res.body.items;
    expect(denials.filter((e) => e.reason === 'rate_limited')).toEqual([
      expect.objectContaining({ action: 'token.denied', outcome: 'failure', http_status: 429, client_id: creds.id }),
    ]);
    const badSecrets = denials.filter((e) => e.reason === 'bad_secret');
    expect(badSecrets).toHaveLength(MAX_FAILURES);
    for (const e of badSecrets) expect(e).toMatchObject({ http_status: 401, source_ip: attacker, client_id: creds.id });

    // The brute-force refusal happens before the client is looked up; it is found by its client_id.
    const all = await h.admin('GET', '/audit-events?action=token.denied&limit=100');
    expect(all.body.items.filter((e: any) => e.client_id === creds.id && e.reason === 'too_many_failures')).toEqual([
      expect.objectContaining({ outcome: 'failure', http_status: 429, source_ip: attacker }),
    ]);
  });
});

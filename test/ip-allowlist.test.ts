import { createServer, connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { DATABASE_KINDS } from './support/database';
import { basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
type Creds = { id: string; secret: string };

const credsOf = (account: any): Creds => ({ id: account.client_id, secret: account.secret.secret });

/** POST /oauth/token with extra headers (X-Forwarded-For), over IPv4 loopback. */
const tokenWith = (h: TestService, creds: Creds, headers: Record<string, string>) =>
  h.fetch('/oauth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(creds.id, creds.secret), ...headers },
    body: new URLSearchParams(grant).toString(),
  });

/** The same request over IPv6 loopback (only reachable when the server listens on '::'). */
async function tokenOverIpv6(h: TestService, creds: Creds): Promise<HttpResult> {
  const res = await fetch(`http://[::1]:${h.config.port}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(creds.id, creds.secret) },
    body: new URLSearchParams(grant).toString(),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

/** The account's audit events, newest first. */
async function auditOf(h: TestService, accountId: string): Promise<any[]> {
  const res = await h.admin('GET', `/audit-events?service_account_id=${accountId}&limit=100`);
  expect(res.status).toBe(200);
  return res.body.items;
}

const expectIpDenied = async (h: TestService, accountId: string, sourceIp: string) => {
  const denied = (await auditOf(h, accountId)).filter((e) => e.action === 'token.denied' && e.reason === 'ip_not_allowed');
  expect(denied.map((e) => e.source_ip)).toContain(sourceIp);
};

const setAllowed = async (h: TestService, accountId: string, allowed: string[]) => {
  const res = await h.admin('PATCH', `/service-accounts/${accountId}`, { allowed_ips: allowed });
  expect(res.status).toBe(200);
  return res.body.allowed_ips as string[];
};

describe.each(DATABASE_KINDS)('allowed_ips in the admin API (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  it('defaults to empty, and stores and returns addresses and ranges in canonical form, on create and on PATCH', async () => {
    expect((await h.createAccount()).allowed_ips).toEqual([]);

    const account = await h.createAccount({
      allowed_ips: ['10.0.0.5', '10.0.0.0/24', '2001:DB8:0:0::/32', ' 198.51.100.7 ', '2001:0db8::0001', '::ffff:192.0.2.1', '::FFFF:c000:0200/120'],
    });
    const canonical = ['10.0.0.5', '10.0.0.0/24', '2001:db8::/32', '198.51.100.7', '2001:db8::1', '192.0.2.1', '192.0.2.0/24'];
    expect(account.allowed_ips).toEqual(canonical);
    expect((await h.admin('GET', `/service-accounts/${account.id}`)).body.allowed_ips).toEqual(canonical);

    expect(await setAllowed(h, account.id, ['::ffff:127.0.0.1', '127.0.0.1', 'FE80::1/64'])).toEqual(['127.0.0.1', 'fe80::1/64']);
    expect((await h.admin('GET', `/service-accounts/${account.id}`)).body.allowed_ips).toEqual(['127.0.0.1', 'fe80::1/64']);
  });

  const invalid = ['10.0.0.300', '10.0.0.0/33', 'banana', '10.1', '2001:db8::/129', '10.0.0.0/', '0x0a.0.0.1', '010.0.0.1', '10.0.0.0/-1', '2001:db8:::1', ''];

  it.each(invalid)('refuses %j on create with a problem naming allowed_ips.<index> and quoting the entry', async (bad) => {
    const res = await h.admin('POST', '/service-accounts', { name: 'bad-allowlist', allowed_ips: ['10.0.0.1', bad] });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.status).toBe(400);
    expect(res.body.errors).toEqual([{ field: 'allowed_ips.1', message: expect.stringContaining(JSON.stringify(bad)) }]);
    const list = await h.admin('GET', '/service-accounts?q=bad-allowlist');
    expect(list.body.items).toEqual([]);
  });

  it('refuses invalid entries on PATCH, naming each, and leaves the allowlist as it was', async () => {
    const account = await h.createAccount({ allowed_ips: ['192.0.2.0/24'] });
    const res = await h.admin('PATCH', `/service-accounts/${account.id}`, { allowed_ips: ['banana', '10.0.0.1', '10.0.0.0/33'] });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(res.body.errors).toEqual([
      { field: 'allowed_ips.0', message: expect.stringContaining('"banana"') },
      { field: 'allowed_ips.2', message: expect.stringContaining('"10.0.0.0/33"') },
    ]);
    expect((await h.admin('GET', `/service-accounts/${account.id}`)).body.allowed_ips).toEqual(['192.0.2.0/24']);
  });

  it('refuses entries that are not strings, and lists longer than 100 entries', async () => {
    const notString = await h.admin('POST', '/service-accounts', { name: 'x', allowed_ips: [167772161] });
    expect(notString.status).toBe(400);
    expect(notString.body.errors.map((e: any) => e.field)).toEqual(['allowed_ips.0']);

    const tooMany = await h.admin('POST', '/service-accounts', {
      name: 'x',
      allowed_ips: Array.from({ length: 101 }, (_, i) => `10.0.${i}.1`),
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors.map((e: any) => e.field)).toEqual(['allowed_ips']);
  });
});

describe.each(DATABASE_KINDS)('token requests against the allowlist (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  it('from outside the list: the same 401 invalid_client as a wrong secret, and the audit trail says ip_not_allowed', async () => {
    const account = await h.createAccount({ allowed_ips: ['10.0.0.0/8', '2001:db8::/32'] });
    const creds = credsOf(account);

    const outside = await h.token(grant, creds);
    const wrongSecret = await h.token(grant, { id: creds.id, secret: `${creds.secret.slice(0, -1)}${creds.secret.endsWith('A') ? 'B' : 'A'}` });
    expect(outside.status).toBe(401);
    expect(outside.body.error).toBe('invalid_client');
    expect(outside.text).toBe(wrongSecret.text);
    expect(outside.status).toBe(wrongSecret.status);
    for (const header of ['content-type', 'www-authenticate', 'cache-control'])
      expect(outside.headers.get(header), header).toBe(wrongSecret.headers.get(header));

    const events = (await auditOf(h, account.id)).filter((e) => e.action === 'token.denied');
    expect(events.map((e) => e.reason)).toContain('ip_not_allowed');
    const ipEvent = events.find((e) => e.reason === 'ip_not_allowed');
    expect(ipEvent).toMatchObject({ outcome: 'failure', source_ip: '127.0.0.1', client_id: creds.id, service_account_id: account.id, http_status: 401 });
    // The wrong secret is recorded as what it was, not as an address problem.
    expect(events.filter((e) => e.reason === 'ip_not_allowed')).toHaveLength(1);
    expect((await auditOf(h, account.id)).some((e) => e.action === 'token.issued')).toBe(false);
  });

  it.each([
    ['the exact address', ['127.0.0.1']],
    ['a CIDR range', ['127.0.0.0/8']],
    ['a later entry of a longer list', ['10.0.0.0/8', '2001:db8::/32', '127.0.0.0/30']],
    ['the IPv4-mapped spelling of the address', ['::ffff:127.0.0.1']],
    ['the whole IPv4 space', ['0.0.0.0/0']],
  ])('from inside the list (%s): 200', async (_, allowed) => {
    const account = await h.createAccount({ allowed_ips: allowed });
    const res = await h.token(grant, credsOf(account));
    expect(res.status).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
    const issued = (await auditOf(h, account.id)).find((e) => e.action === 'token.issued');
    expect(issued?.source_ip).toBe('127.0.0.1');
  });

  it.each([
    ['a neighbouring address', ['127.0.0.2']],
    ['a range just beside it', ['127.0.0.0/32']],
    ['IPv6 loopback only', ['::1']],
    ['all of IPv6', ['::/0']],
  ])('from outside the list (%s): 401', async (_, allowed) => {
    const account = await h.createAccount({ allowed_ips: allowed });
    const res = await h.token(grant, credsOf(account));
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    await expectIpDenied(h, account.id, '127.0.0.1');
  });

  it('a PATCH of allowed_ips takes effect on the very next request; [] allows any address again', async () => {
    const account = await h.createAccount();
    const creds = credsOf(account);
    expect((await h.token(grant, creds)).status).toBe(200); // warm: the credential has been verified once

    await setAllowed(h, account.id, ['192.0.2.0/24']);
    expect((await h.token(grant, creds)).status).toBe(401);

    await setAllowed(h, account.id, ['192.0.2.0/24', '127.0.0.1']);
    expect((await h.token(grant, creds)).status).toBe(200);

    await setAllowed(h, account.id, ['2001:db8::/32']);
    expect((await h.token(grant, creds)).status).toBe(401);

    expect(await setAllowed(h, account.id, [])).toEqual([]);
    expect((await h.token(grant, creds)).status).toBe(200);

    const reasons = (await auditOf(h, account.id)).filter((e) => e.action === 'token.denied').map((e) => e.reason);
    expect(reasons).toEqual(['ip_not_allowed', 'ip_not_allowed']);
  });

  it('X-Forwarded-For is ignored without TRUST_PROXY: a client cannot claim an allowed address', async () => {
    const account = await h.createAccount({ allowed_ips: ['203.0.113.9', '2001:db8::/32'] });
    const creds = credsOf(account);
    for (const claim of ['203.0.113.9', '127.0.0.1, 203.0.113.9', '2001:db8::1', '[2001:db8::1]:443']) {
      const res = await tokenWith(h, creds, { 'x-forwarded-for': claim });
      expect(res.status, claim).toBe(401);
    }
    const denied = (await auditOf(h, account.id)).filter((e) => e.reason === 'ip_not_allowed');
    expect(denied).toHaveLength(4);
    expect(new Set(denied.map((e) => e.source_ip))).toEqual(new Set(['127.0.0.1']));

    // Nor does the header lock out a client whose socket address is allowed.
    await setAllowed(h, account.id, ['127.0.0.1']);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(200);
  });
});

describe.each(DATABASE_KINDS)('a dual-stack listener (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, {}, { host: '::' });
  });
  afterAll(() => h?.close());

  it('premise: the server accepts IPv6 too, and such a socket reports an IPv4 client as ::ffff:127.0.0.1', async () => {
    // Our server answers on [::1] as well as on 127.0.0.1: it listens on the dual-stack wildcard.
    expect((await fetch(`http://[::1]:${h.config.port}/.well-known/jwks.json`)).status).toBe(200);
    // On this host, a dual-stack socket reports 127.0.0.1 as IPv4-mapped.
    const seen = await new Promise<string | undefined>((resolve, reject) => {
      const server = createServer((socket) => {
        resolve(socket.remoteAddress);
        socket.destroy();
        server.close();
      });
      server.once('error', reject);
      server.listen(0, '::', () => connect((server.address() as AddressInfo).port, '127.0.0.1').on('error', () => {}));
    });
    expect(seen).toBe('::ffff:127.0.0.1');
  });

  it.each([['127.0.0.1'], ['127.0.0.0/8'], ['::ffff:127.0.0.1'], ['::ffff:127.0.0.0/104']])(
    'an IPv4 client (socket ::ffff:127.0.0.1) matches %s',
    async (entry) => {
      const account = await h.createAccount({ allowed_ips: [entry] });
      const res = await h.token(grant, credsOf(account));
      expect(res.status).toBe(200);
      const issued = (await auditOf(h, account.id)).find((e) => e.action === 'token.issued');
      expect(issued?.source_ip).toBe('127.0.0.1');
    },
  );

  it('an IPv4 client outside the list is refused and audited under its IPv4 address', async () => {
    const account = await h.createAccount({ allowed_ips: ['10.0.0.0/8', '::1'] });
    expect((await h.token(grant, credsOf(account))).status).toBe(401);
    await expectIpDenied(h, account.id, '127.0.0.1');
  });

  it('an IPv6 client matches IPv6 addresses and CIDR ranges, and not IPv4 entries', async () => {
    const account = await h.createAccount({ allowed_ips: ['::1'] });
    const creds = credsOf(account);
    expect((await tokenOverIpv6(h, creds)).status).toBe(200);

    await setAllowed(h, account.id, ['::/96']);
    expect((await tokenOverIpv6(h, creds)).status).toBe(200);

    await setAllowed(h, account.id, ['127.0.0.0/8', '0.0.0.0/0', '::2/127']);
    const refused = await tokenOverIpv6(h, creds);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    await expectIpDenied(h, account.id, '::1');
    // ...while the same list lets the IPv4 client in.
    expect((await h.token(grant, creds)).status).toBe(200);
  });
});

describe.each(DATABASE_KINDS)('behind a trusted proxy, TRUST_PROXY=127.0.0.1 (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    // Many refusals of one client in a row here; the brute-force guard is another file's story.
    h = await startTestService(kind, { TRUST_PROXY: '127.0.0.1', BRUTE_FORCE_MAX_FAILURES: '1000' });
  });
  afterAll(() => h?.close());

  it('believes X-Forwarded-For: the first untrusted address from the right is the client', async () => {
    const account = await h.createAccount({ allowed_ips: ['203.0.113.0/24'] });
    const creds = credsOf(account);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '203.0.113.9, 127.0.0.1' })).status).toBe(200);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '203.0.113.9' })).status).toBe(200);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '203.0.113.9:51234' })).status).toBe(200);
    const issued = (await auditOf(h, account.id)).filter((e) => e.action === 'token.issued');
    expect(issued.map((e) => e.source_ip)).toEqual(['203.0.113.9', '203.0.113.9', '203.0.113.9']);
  });

  it('an address a client writes to the left of its own does not count', async () => {
    const account = await h.createAccount({ allowed_ips: ['203.0.113.0/24'] });
    const res = await tokenWith(h, credsOf(account), { 'x-forwarded-for': '203.0.113.9, 198.51.100.20, 127.0.0.1' });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    await expectIpDenied(h, account.id, '198.51.100.20');
  });

  it('without the header, the client is the socket (the proxy itself)', async () => {
    const account = await h.createAccount({ allowed_ips: ['203.0.113.0/24'] });
    expect((await h.token(grant, credsOf(account))).status).toBe(401);
    await expectIpDenied(h, account.id, '127.0.0.1');
  });

  it('IPv6 addresses in the header work, bare or bracketed with a port', async () => {
    const account = await h.createAccount({ allowed_ips: ['2001:db8::/32'] });
    const creds = credsOf(account);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '2001:db8::7' })).status).toBe(200);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '[2001:DB8::7]:443, 127.0.0.1' })).status).toBe(200);
    const refused = await tokenWith(h, creds, { 'x-forwarded-for': '2001:db9::1' });
    expect(refused.status).toBe(401);
    await expectIpDenied(h, account.id, '2001:db9::1');
    const issued = (await auditOf(h, account.id)).filter((e) => e.action === 'token.issued');
    expect(issued.map((e) => e.source_ip)).toEqual(['2001:db8::7', '2001:db8::7']);
  });

  it('garbage in the header never crashes anything, and never passes for an allowed address', async () => {
    const account = await h.createAccount({ allowed_ips: ['203.0.113.9'] });
    const creds = credsOf(account);
    const garbage = [
      'banana',
      ',,, ,',
      '999.1.1.1',
      '203.0.113.9.1',
      '203.0.113.9/32',
      '[203.0.113.9',
      '::::',
      '203.0.113.9 203.0.113.9',
      'unknown, 127.0.0.1',
      `${'1.2.3.4, '.repeat(1000)}x`,
      'a'.repeat(8000),
      '%00, "\'<script>',
    ];
    for (const header of garbage) {
      const res = await tokenWith(h, creds, { 'x-forwarded-for': header });
      expect(res.status, header.slice(0, 40)).toBeLessThan(500);
      expect(res.status, header.slice(0, 40)).toBe(401);
    }
    // The service still works for the real client afterwards.
    expect((await tokenWith(h, creds, { 'x-forwarded-for': 'garbage, 203.0.113.9' })).status).toBe(200);
    // The admin API audits changes under the same address: garbage there is no 5xx either.
    const adminRes = await h.fetch('/admin/v1/service-accounts', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await h.adminToken()}`,
        'content-type': 'application/json',
        'x-forwarded-for': 'banana, ::::, 999.1.1.1',
      },
      body: JSON.stringify({ name: 'created-through-a-confused-proxy' }),
    });
    expect(adminRes.status).toBe(201);
  });
});

describe.each(DATABASE_KINDS)('behind a chain of trusted proxies, TRUST_PROXY as ranges (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { TRUST_PROXY: '10.0.0.0/8, 127.0.0.0/8,fd00::/8' }, { host: '::' });
  });
  afterAll(() => h?.close());

  it('skips every trusted hop from the right, on a dual-stack socket (::ffff:127.0.0.1 is a trusted proxy)', async () => {
    const account = await h.createAccount({ allowed_ips: ['203.0.113.9', '2001:db8::/32'] });
    const creds = credsOf(account);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '203.0.113.9, 10.1.2.3, fd00::1, 127.0.0.5' })).status).toBe(200);
    expect((await tokenWith(h, creds, { 'x-forwarded-for': '2001:db8::5, ::ffff:10.9.9.9' })).status).toBe(200);
    const spoofed = await tokenWith(h, creds, { 'x-forwarded-for': '203.0.113.9, 198.51.100.3, 10.1.2.3' });
    expect(spoofed.status).toBe(401);
    await expectIpDenied(h, account.id, '198.51.100.3');
    const issued = (await auditOf(h, account.id)).filter((e) => e.action === 'token.issued');
    expect(issued.map((e) => e.source_ip).sort()).toEqual(['2001:db8::5', '203.0.113.9']);
  });
});

describe('TRUST_PROXY in the configuration', () => {
  it('takes addresses and ranges, comma-separated, in canonical form', () => {
    expect(loadConfig({ TRUST_PROXY: ' 127.0.0.1 , 10.0.0.0/8,,FD00::/8,::ffff:192.0.2.1' }).trustProxy).toEqual([
      '127.0.0.1',
      '10.0.0.0/8',
      'fd00::/8',
      '192.0.2.1',
    ]);
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: '' }).trustProxy).toEqual([]);
  });

  it.each(['banana', '127.0.0.1, 10.0.0.0/33', '10.1', '2001:db8::/129', '127.0.0.1;10.0.0.1'])(
    'refuses %j with a ConfigError naming TRUST_PROXY',
    (value) => {
      let error: unknown;
      try {
        loadConfig({ TRUST_PROXY: value });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/TRUST_PROXY/);
    },
  );
});

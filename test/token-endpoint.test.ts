import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, freshDatabase, type TestDatabase } from './support/database';
import { ADMIN_CLIENT_ID, basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const FORM = 'application/x-www-form-urlencoded';
const grant = { grant_type: 'client_credentials' };
const ORDERS = 'https://orders.example.com';
const BILLING = 'https://billing.example.com';

/** RFC 6749 §5.2: a JSON error object, never cached. */
function expectOAuthError(res: HttpResult, status: number, error: string): void {
  expect({ status: res.status, body: res.body }).toEqual({
    status,
    body: { error, error_description: expect.any(String) },
  });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

/** exp - iat of a token, and the expires_in of its response. */
function lifetimeOf(res: HttpResult): { expires_in: number; exp_minus_iat: number } {
  const claims = decodeJwt(res.body.access_token);
  return { expires_in: res.body.expires_in, exp_minus_iat: claims.exp! - claims.iat! };
}

describe.each(DATABASE_KINDS)('token endpoint (%s)', (kind) => {
  let h: TestService;
  let account: any;
  let creds: { id: string; secret: string };
  /** POST /oauth/token with a hand-built body. */
  let post: (body: RequestInit['body'], headers?: Record<string, string>, init?: RequestInit) => Promise<HttpResult>;

  beforeAll(async () => {
    h = await startTestService(kind);
    account = await h.createAccount({
      scopes: ['orders:read', 'orders:write'],
      audiences: [ORDERS, BILLING],
    });
    creds = { id: account.client_id, secret: account.secret.secret };
    post = (body, headers = {}, init = {}) => h.fetch('/oauth/token', { method: 'POST', headers, body, ...init });
  });
  afterAll(() => h?.close());

  const basic = () => basicAuth(creds.id, creds.secret);

  it('issues an RFC 9068 access token for client_secret_basic', async () => {
    const res = await h.token({ grant_type: 'client_credentials' }, creds);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'orders:read orders:write' });
    const header = decodeProtectedHeader(res.body.access_token);
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'RS256' });
    expect(header.kid).toEqual(expect.any(String));
    const claims = decodeJwt(res.body.access_token);
    const now = Math.floor(h.clock.now().getTime() / 1000);
    expect(claims).toMatchObject({
      iss: h.config.issuer,
      sub: creds.id,
      client_id: creds.id,
      aud: 'https://orders.example.com',
      scope: 'orders:read orders:write',
      iat: now,
      exp: now + 900,
    });
    expect(claims.jti).toEqual(expect.any(String));
  });

  it('accepts client_secret_post', async () => {
    const res = await h.token({ grant_type: 'client_credentials', client_id: creds.id, client_secret: creds.secret });
    expect(res.status).toBe(200);
  });

  it('accepts a JSON body', async () => {
    const res = await h.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(creds.id, creds.secret) },
      body: JSON.stringify({ grant_type: 'client_credentials', scope: 'orders:read' }),
    });
    expect(res.status).toBe(200);
    expect(res.body.scope).toBe('orders:read');
  });

  it('issues unique token ids', async () => {
    const a = await h.token({ grant_type: 'client_credentials' }, creds);
    const b = await h.token({ grant_type: 'client_credentials' }, creds);
    expect(decodeJwt(a.body.access_token).jti).not.toBe(decodeJwt(b.body.access_token).jti);
  });

  it('answers with application/json and accepts a form content type with a charset parameter', async () => {
    const res = await post('grant_type=client_credentials', {
      'content-type': `${FORM}; charset=UTF-8`,
      authorization: basic(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.access_token).toEqual(expect.any(String));
  });

  it('accepts the Basic scheme and the media type in any letter case (RFC 7235 §2.1, RFC 2045 §5.1)', async () => {
    const res = await post('grant_type=client_credentials', {
      'content-type': 'Application/X-WWW-Form-URLEncoded',
      authorization: basic().replace(/^Basic/, 'bAsIc'),
    });
    expect(res.status).toBe(200);
  });

  it('accepts a client_id in the body equal to the one in the Basic header', async () => {
    const res = await h.token({ grant_type: 'client_credentials', client_id: creds.id }, creds);
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).client_id).toBe(creds.id);
  });

  describe('invalid_request (RFC 6749 §5.2)', () => {
    it('without grant_type', async () => {
      expectOAuthError(await h.token({}, creds), 400, 'invalid_request');
      expectOAuthError(await h.token({ scope: 'orders:read' }, creds), 400, 'invalid_request');
    });

    it.each([
      ['grant_type', 'grant_type=client_credentials&grant_type=client_credentials'],
      ['scope', 'grant_type=client_credentials&scope=orders%3Aread&scope=orders%3Awrite'],
      ['audience', `grant_type=client_credentials&audience=${encodeURIComponent(ORDERS)}&audience=${encodeURIComponent(ORDERS)}`],
    ])('when %s is repeated (RFC 6749 §3.2)', async (_name, body) => {
      expectOAuthError(await post(body, { 'content-type': FORM, authorization: basic() }), 400, 'invalid_request');
    });

    it('when client_id is repeated in the body', async () => {
      const body = new URLSearchParams([
        ['grant_type', 'client_credentials'],
        ['client_id', creds.id],
        ['client_id', creds.id],
        ['client_secret', creds.secret],
      ]).toString();
      expectOAuthError(await post(body, { 'content-type': FORM }), 400, 'invalid_request');
    });

    it.each(['text/plain', 'application/xml', 'multipart/form-data; boundary=x'])(
      'for the content type %s',
      async (type) => {
        expectOAuthError(
          await post('grant_type=client_credentials', { 'content-type': type, authorization: basic() }),
          400,
          'invalid_request',
        );
      },
    );

    it('for a body without a content type', async () => {
      const res = await post(new TextEncoder().encode('grant_type=client_credentials'), { authorization: basic() });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it.each([
      ['malformed JSON', '{"grant_type": "client_credentials"'],
      ['a JSON array', '[{"grant_type": "client_credentials"}]'],
      ['a JSON string', '"grant_type=client_credentials"'],
      ['a number value', '{"grant_type": "client_credentials", "scope": 1}'],
      ['a boolean value', '{"grant_type": true}'],
      ['an object value', '{"grant_type": "client_credentials", "scope": {"a": "orders:read"}}'],
      ['an array for a single-valued parameter', '{"grant_type": "client_credentials", "scope": ["orders:read"]}'],
    ])('for %s', async (_what, body) => {
      const res = await post(body, { 'content-type': 'application/json', authorization: basic() });
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('when the client authenticates with both the Basic header and client_secret', async () => {
      const res = await h.token({ ...grant, client_secret: creds.secret }, creds);
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('when the body client_id differs from the Basic one', async () => {
      const other = await h.createAccount();
      const res = await h.token({ ...grant, client_id: other.client_id }, creds);
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('when both audience and resource are given', async () => {
      const res = await h.token({ ...grant, audience: ORDERS, resource: ORDERS }, creds);
      expectOAuthError(res, 400, 'invalid_request');
    });
  });

  it.each(['password', 'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:jwt-bearer'])(
    'answers unsupported_grant_type for grant_type=%s',
    async (grantType) => {
      expectOAuthError(await h.token({ grant_type: grantType }, creds), 400, 'unsupported_grant_type');
      expectOAuthError(
        await h.token({ grant_type: grantType, client_id: creds.id, client_secret: creds.secret }),
        400,
        'unsupported_grant_type',
      );
    },
  );

  describe('invalid_client (RFC 6749 §5.2)', () => {
    const UNKNOWN = 'sa_000000000000000000000000';

    it('gives byte-identical 401 answers for an unknown client, a wrong secret and a malformed secret', async () => {
      const wrong = `${creds.secret.slice(0, -1)}${creds.secret.endsWith('A') ? 'B' : 'A'}`;
      const overLong = 'x'.repeat(600);
      const viaBasic = [
        await h.token(grant, { id: UNKNOWN, secret: creds.secret }),
        await h.token(grant, { id: creds.id, secret: wrong }),
        await h.token(grant, { id: creds.id, secret: 'not-even-our-format' }),
        await h.token(grant, { id: creds.id, secret: overLong }),
      ];
      const viaPost = [
        await h.token({ ...grant, client_id: UNKNOWN, client_secret: creds.secret }),
        await h.token({ ...grant, client_id: creds.id, client_secret: wrong }),
        await h.token({ ...grant, client_id: creds.id, client_secret: 'ccs_zz' }),
        await h.token({ ...grant, client_id: creds.id, client_secret: overLong }),
      ];
      for (const res of [...viaBasic, ...viaPost]) {
        expectOAuthError(res, 401, 'invalid_client');
        expect(res.text).toBe(viaBasic[0]!.text);
      }
      for (const res of viaBasic) expect(res.headers.get('www-authenticate')).toMatch(/^Basic\b/);
      for (const res of viaPost) expect(res.headers.get('www-authenticate')).toBeNull();
    });

    it('without any credentials, or with only a client_id, and without WWW-Authenticate', async () => {
      for (const res of [await h.token(grant), await h.token({ ...grant, client_id: creds.id })]) {
        expectOAuthError(res, 401, 'invalid_client');
        expect(res.headers.get('www-authenticate')).toBeNull();
      }
    });

    it.each([
      ['bad base64', 'Basic !!!not-base64!!!'],
      ['no colon', `Basic ${Buffer.from('sa_000000000000000000000000').toString('base64')}`],
      ['an empty client id', `Basic ${Buffer.from(':some-secret').toString('base64')}`],
      ['an empty secret', `Basic ${Buffer.from('sa_000000000000000000000000:').toString('base64')}`],
      ['a bad percent-encoding', `Basic ${Buffer.from('sa_000000000000000000000000:%E0%A4%A').toString('base64')}`],
      ['no credentials after the scheme', 'Basic'],
      ['the Bearer scheme', 'Bearer abc.def.ghi'],
      ['the Digest scheme', 'Digest username="x", realm="token"'],
      ['an over-long secret', basicAuth('sa_000000000000000000000000', 'y'.repeat(2000))],
    ])('for a malformed Authorization header (%s), with WWW-Authenticate: Basic', async (_what, authorization) => {
      const res = await post('grant_type=client_credentials', { 'content-type': FORM, authorization });
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic\b/);
    });
  });

  describe('invalid_scope (RFC 6749 §5.2)', () => {
    it.each([
      ['a scope the account lacks', 'orders:delete'],
      ['one scope the account lacks among held ones', 'orders:read admin:accounts:create'],
      ['a scope with a double quote', 'orders:read "orders:write"'],
      ['a scope with a backslash', 'orders\\read'],
      ['a scope of only spaces', '   '],
    ])('for %s', async (_what, scope) => {
      expectOAuthError(await h.token({ ...grant, scope }, creds), 400, 'invalid_scope');
    });
  });

  describe('invalid_target (RFC 8707 §2)', () => {
    it.each([
      ['an audience not granted', { audience: 'https://payroll.example.com' }],
      ['a resource not granted', { resource: 'https://payroll.example.com' }],
      ['a relative resource', { resource: '/orders' }],
      ['a resource without a scheme', { resource: 'orders.example.com' }],
      ['a resource with a fragment', { resource: `${ORDERS}#section` }],
    ])('for %s', async (_what, extra) => {
      expectOAuthError(await h.token({ ...grant, ...extra }, creds), 400, 'invalid_target');
    });

    it('when one of several resources is not granted', async () => {
      const body = new URLSearchParams([
        ['grant_type', 'client_credentials'],
        ['resource', ORDERS],
        ['resource', 'https://payroll.example.com'],
      ]).toString();
      expectOAuthError(await post(body, { 'content-type': FORM, authorization: basic() }), 400, 'invalid_target');
    });
  });

  describe('request size and method', () => {
    it('answers 413 to a body over BODY_LIMIT_BYTES (16384 by default)', async () => {
      const body = `grant_type=client_credentials&padding=${'a'.repeat(16_400)}`;
      const res = await post(body, { 'content-type': FORM, authorization: basic() });
      expect(res.status).toBe(413);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.body).toEqual({ error: 'invalid_request', error_description: expect.any(String) });
    });

    it('answers 413 to a chunked body over the limit (no Content-Length)', async () => {
      const chunk = new TextEncoder().encode(`padding=${'a'.repeat(4096)}&`);
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 8) {
            controller.enqueue(new TextEncoder().encode('grant_type=client_credentials'));
            controller.close();
            return;
          }
          sent++;
          controller.enqueue(chunk);
        },
      });
      const res = await post(stream, { 'content-type': FORM, authorization: basic() }, { duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
    });

    it('accepts a body just under the limit', async () => {
      const prefix = 'grant_type=client_credentials&padding=';
      const body = `${prefix}${'a'.repeat(16_384 - prefix.length)}`;
      expect(body.length).toBe(16_384);
      const res = await post(body, { 'content-type': FORM, authorization: basic() });
      expect(res.status).toBe(200);
    });

    it.each(['GET', 'PUT', 'DELETE'])('answers 405 with Allow: POST to %s /oauth/token', async (method) => {
      const res = await h.fetch('/oauth/token', { method });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    });
  });

  describe('scope and audience', () => {
    it('grants only the requested subset of scopes, in the token and the response', async () => {
      const res = await h.token({ ...grant, scope: 'orders:write' }, creds);
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('orders:write');
      expect(decodeJwt(res.body.access_token).scope).toBe('orders:write');
    });

    it('grants every scope of the account when none is requested', async () => {
      const res = await h.token(grant, creds);
      expect(res.body.scope.split(' ').sort()).toEqual(['orders:read', 'orders:write']);
      expect(String(decodeJwt(res.body.access_token).scope).split(' ').sort()).toEqual(['orders:read', 'orders:write']);
    });

    it('collapses a scope requested twice in one value', async () => {
      const res = await h.token({ ...grant, scope: 'orders:read orders:read' }, creds);
      expect(res.status).toBe(200);
      expect(res.body.scope).toBe('orders:read');
      expect(decodeJwt(res.body.access_token).scope).toBe('orders:read');
    });

    it('puts both audiences in aud for two resource parameters (RFC 8707)', async () => {
      const body = new URLSearchParams([
        ['grant_type', 'client_credentials'],
        ['resource', ORDERS],
        ['resource', BILLING],
      ]).toString();
      const res = await post(body, { 'content-type': FORM, authorization: basic() });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).aud).toEqual([ORDERS, BILLING]);
    });

    it('puts both audiences in aud for a JSON array of resources', async () => {
      const res = await post(JSON.stringify({ ...grant, resource: [BILLING, ORDERS] }), {
        'content-type': 'application/json',
        authorization: basic(),
      });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).aud).toEqual([BILLING, ORDERS]);
    });

    it('gives the requested audience, or the single requested resource', async () => {
      const byAudience = await h.token({ ...grant, audience: BILLING }, creds);
      expect(byAudience.status).toBe(200);
      expect(decodeJwt(byAudience.body.access_token).aud).toBe(BILLING);
      const byResource = await h.token({ ...grant, resource: BILLING }, creds);
      expect(byResource.status).toBe(200);
      expect(decodeJwt(byResource.body.access_token).aud).toBe(BILLING);
    });

    it('gives an account without audiences the default audience, the issuer', async () => {
      const bare = await h.createAccount({ scopes: ['a:b'] });
      const res = await h.token(grant, { id: bare.client_id, secret: bare.secret.secret });
      expect(res.status).toBe(200);
      expect(decodeJwt(res.body.access_token).aud).toBe(h.config.issuer);
    });

    it('gives an account without scopes a token without a scope claim and a response without scope', async () => {
      const noScopes = await h.createAccount({ audiences: [ORDERS] });
      const res = await h.token(grant, { id: noScopes.client_id, secret: noScopes.secret.secret });
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('scope');
      expect(decodeJwt(res.body.access_token)).not.toHaveProperty('scope');
      expectOAuthError(
        await h.token({ ...grant, scope: 'orders:read' }, { id: noScopes.client_id, secret: noScopes.secret.secret }),
        400,
        'invalid_scope',
      );
    });
  });

  describe('lifetime', () => {
    it("uses the account's token_ttl_seconds", async () => {
      const short = await h.createAccount({ token_ttl_seconds: 60 });
      const res = await h.token(grant, { id: short.client_id, secret: short.secret.secret });
      expect(res.status).toBe(200);
      expect(lifetimeOf(res)).toEqual({ expires_in: 60, exp_minus_iat: 60 });
    });

    it('refuses through the admin API a token_ttl_seconds above MAX_TOKEN_TTL_SECONDS (3600 by default)', async () => {
      const res = await h.admin('POST', '/service-accounts', { name: 'too-long-ttl', token_ttl_seconds: 3601 });
      expect(res.status).toBe(400);
      const ok = await h.admin('POST', '/service-accounts', { name: 'max-ttl', token_ttl_seconds: 3600 });
      expect(ok.status).toBe(201);
    });
  });
});

describe.each(DATABASE_KINDS)('token endpoint with configured lifetime, audience and body limit (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, {
      TOKEN_TTL_SECONDS: '120',
      MAX_TOKEN_TTL_SECONDS: '600',
      DEFAULT_AUDIENCE: 'https://default.example',
      BODY_LIMIT_BYTES: '2048',
    });
  });
  afterAll(() => h?.close());

  it('uses TOKEN_TTL_SECONDS for expires_in and exp - iat', async () => {
    const account = await h.createAccount();
    const res = await h.token(grant, { id: account.client_id, secret: account.secret.secret });
    expect(res.status).toBe(200);
    expect(lifetimeOf(res)).toEqual({ expires_in: 120, exp_minus_iat: 120 });
  });

  it('lets an account have up to MAX_TOKEN_TTL_SECONDS, and not more', async () => {
    expect((await h.admin('POST', '/service-accounts', { name: 'over', token_ttl_seconds: 601 })).status).toBe(400);
    const account = await h.createAccount({ token_ttl_seconds: 600 });
    const res = await h.token(grant, { id: account.client_id, secret: account.secret.secret });
    expect(lifetimeOf(res)).toEqual({ expires_in: 600, exp_minus_iat: 600 });
  });

  it('gives an account without audiences DEFAULT_AUDIENCE', async () => {
    const account = await h.createAccount({ scopes: ['x:y'] });
    const res = await h.token(grant, { id: account.client_id, secret: account.secret.secret });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).aud).toBe('https://default.example');
  });

  it('applies BODY_LIMIT_BYTES', async () => {
    const account = await h.createAccount();
    const authorization = basicAuth(account.client_id, account.secret.secret);
    const send = (size: number) =>
      h.fetch('/oauth/token', {
        method: 'POST',
        headers: { 'content-type': FORM, authorization },
        body: `grant_type=client_credentials&padding=${'a'.repeat(size)}`,
      });
    expect((await send(3000)).status).toBe(413);
    expect((await send(1500)).status).toBe(200);
  });
});

describe.each(DATABASE_KINDS)('token lifetime capped by a lowered MAX_TOKEN_TTL_SECONDS (%s)', (kind) => {
  let database: TestDatabase;
  let account: any;
  let later: TestService | undefined;

  beforeAll(async () => {
    database = await freshDatabase(kind);
    const before = await startTestService(kind, {}, { database });
    try {
      account = await before.createAccount({ token_ttl_seconds: 3000 });
    } finally {
      await before.close();
    }
    later = await startTestService(kind, { MAX_TOKEN_TTL_SECONDS: '600', TOKEN_TTL_SECONDS: '300' }, { database });
  });
  afterAll(async () => {
    await later?.close();
    await database?.destroy();
  });

  it('issues tokens no longer than MAX_TOKEN_TTL_SECONDS to an account set longer before', async () => {
    const res = await later!.token(grant, { id: account.client_id, secret: account.secret.secret });
    expect(res.status).toBe(200);
    expect(lifetimeOf(res)).toEqual({ expires_in: 600, exp_minus_iat: 600 });
  });
});

describe.each(DATABASE_KINDS)('client credentials that need form-encoding (%s)', (kind) => {
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic's base64; so a literal '+' must stay '+',
  // a literal '%41' must not become 'A', and ':' in the secret must not split it.
  const SECRET = 'p:a+s%s&w=o rd/é%41ü€?#[]!\'()*~"\\;,<>{}|^`@$ 🔑 long enough';
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, {}, { adminSecret: SECRET });
  });
  afterAll(() => h?.close());

  it('authenticate with client_secret_basic, form-encoded then base64', async () => {
    expect(SECRET.length).toBeGreaterThanOrEqual(32);
    const res = await h.token(grant, { id: ADMIN_CLIENT_ID, secret: SECRET });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).client_id).toBe(ADMIN_CLIENT_ID);
  });

  it('authenticate with client_secret_post, form-encoded by URLSearchParams', async () => {
    const res = await h.token({ ...grant, client_id: ADMIN_CLIENT_ID, client_secret: SECRET });
    expect(res.status).toBe(200);
    expect(decodeJwt(res.body.access_token).client_id).toBe(ADMIN_CLIENT_ID);
  });

  it('authenticate with client_secret_post in a JSON body', async () => {
    const res = await h.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...grant, client_id: ADMIN_CLIENT_ID, client_secret: SECRET }),
    });
    expect(res.status).toBe(200);
  });

  it('are refused when one character differs', async () => {
    const res = await h.token(grant, { id: ADMIN_CLIENT_ID, secret: SECRET.replace('+', ' ') });
    expectOAuthError(res, 401, 'invalid_client');
  });
});

describe.each(DATABASE_KINDS)('a 512-character non-ASCII client secret (%s)', (kind) => {
  // BOOTSTRAP_ADMIN_CLIENT_SECRET accepts up to 512 characters; each 'é' form-encodes to 6 bytes.
  const SECRET = 'é'.repeat(512);
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, {}, { adminSecret: SECRET });
  });
  afterAll(() => h?.close());

  it('authenticates with client_secret_post', async () => {
    const res = await h.token({ ...grant, client_id: ADMIN_CLIENT_ID, client_secret: SECRET });
    expect(res.status).toBe(200);
  });

  it('authenticates with client_secret_basic too', async () => {
    const res = await h.token(grant, { id: ADMIN_CLIENT_ID, secret: SECRET });
    expect(res.status).toBe(200);
  });
});

describe.each(DATABASE_KINDS)('signing algorithms (%s)', (kind) => {
  describe.each(['ES256', 'EdDSA'] as const)('SIGNING_ALG=%s', (alg) => {
    let h: TestService;
    beforeAll(async () => {
      h = await startTestService(kind, { SIGNING_ALG: alg });
    });
    afterAll(() => h?.close());

    it('issues tokens with that alg that verify against the published JWKS', async () => {
      const account = await h.createAccount({ scopes: ['orders:read'], audiences: [ORDERS] });
      const res = await h.token(grant, { id: account.client_id, secret: account.secret.secret });
      expect(res.status).toBe(200);
      const header = decodeProtectedHeader(res.body.access_token);
      expect(header).toMatchObject({ alg, typ: 'at+jwt' });

      const jwks = await h.fetch('/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      expect(jwks.body.keys.find((k: any) => k.kid === header.kid)).toMatchObject({ alg, use: 'sig' });
      const { payload, protectedHeader } = await jwtVerify(res.body.access_token, createLocalJWKSet(jwks.body), {
        issuer: h.config.issuer,
        audience: ORDERS,
        typ: 'at+jwt',
        algorithms: [alg],
        currentDate: h.clock.now(),
      });
      expect(protectedHeader.alg).toBe(alg);
      expect(payload).toMatchObject({ client_id: account.client_id, sub: account.client_id, scope: 'orders:read' });
    });
  });
});

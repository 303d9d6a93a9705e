import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { basicAuth, startTestService, uniqueName, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const ORDERS = 'https://orders.example.com';
const BILLING = 'https://billing.example.com';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A fresh token for a fresh account, over HTTP. */
async function tokenFor(h: TestService, input: Record<string, unknown>, form: Record<string, string> = {}) {
  const account = await h.createAccount(input);
  const res = await h.token({ ...grant, ...form }, { id: account.client_id, secret: account.secret.secret });
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
  return { account, token: res.body.access_token as string };
}

/** The token with one character of its payload changed. */
function flipPayloadCharacter(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const i = Math.floor(payload.length / 2);
  const flipped = payload[i] === 'A' ? 'B' : 'A';
  return `${header}.${payload.slice(0, i)}${flipped}${payload.slice(i + 1)}.${signature}`;
}

/** The token with its claims replaced, keeping the original header and signature. */
function withForgedClaims(token: string, changes: Record<string, unknown>): string {
  const [header, , signature] = token.split('.') as [string, string, string];
  const payload = Buffer.from(JSON.stringify({ ...decodeJwt(token), ...changes })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/** The service's JWKS keys, after checking every key is a public signing key with kid, alg and use=sig. */
async function publicSigningKeys(h: TestService): Promise<Record<string, unknown>[]> {
  const res = await h.fetch('/.well-known/jwks.json');
  expect(res.status).toBe(200);
  const keys: Record<string, unknown>[] = res.body.keys;
  expect(keys.length).toBeGreaterThan(0);
  for (const key of keys) {
    expect(key).toMatchObject({ kid: expect.any(String), alg: expect.any(String), use: 'sig' });
    for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
  }
  return keys;
}

/** A token's header names a key of the JWKS with the configured alg. */
async function expectTokenKeyPublished(h: TestService, alg: string): Promise<void> {
  const { token } = await tokenFor(h, {});
  const header = decodeProtectedHeader(token);
  expect(header.alg).toBe(alg);
  const keys = await publicSigningKeys(h);
  expect(keys.find((k) => k.kid === header.kid)).toMatchObject({ alg, use: 'sig' });
}

describe.each(DATABASE_KINDS)('discovery and JWKS (%s)', (kind) => {
  let h: TestService;
  let metadata: any;
  const uniqueScope = `${uniqueName('reports')}:read`;

  beforeAll(async () => {
    h = await startTestService(kind);
    await h.createAccount({ scopes: [uniqueScope, 'orders:read'], audiences: [ORDERS] });
    const res = await h.fetch('/.well-known/oauth-authorization-server');
    if (res.status !== 200) throw new Error(`metadata: ${res.status} ${res.text}`);
    metadata = res.body;
  });
  afterAll(() => h?.close());

  describe('authorization server metadata (RFC 8414)', () => {
    it('names the configured issuer, which is the iss of issued tokens', async () => {
      expect(metadata.issuer).toBe(h.config.issuer);
      expect(metadata.issuer).toBe(h.url);
      const { token } = await tokenFor(h, { audiences: [ORDERS] });
      expect(decodeJwt(token).iss).toBe(metadata.issuer);
    });

    it('advertises absolute token_endpoint and jwks_uri under the issuer, and both work', async () => {
      for (const url of [metadata.token_endpoint, metadata.jwks_uri]) {
        expect(typeof url).toBe('string');
        expect(new URL(url).href).toBe(url);
        expect(url.startsWith(`${metadata.issuer}/`)).toBe(true);
      }
      const account = await h.createAccount({ scopes: ['orders:read'] });
      const tokenRes = await fetch(metadata.token_endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basicAuth(account.client_id, account.secret.secret),
        },
        body: 'grant_type=client_credentials',
      });
      expect(tokenRes.status).toBe(200);
      const jwksRes = await fetch(metadata.jwks_uri);
      expect(jwksRes.status).toBe(200);
      expect(((await jwksRes.json()) as { keys: unknown[] }).keys.length).toBeGreaterThan(0);
    });

    it('advertises only the client credentials grant and its two client authentication methods', () => {
      expect(metadata.response_types_supported).toEqual([]);
      expect(metadata.grant_types_supported).toEqual(['client_credentials']);
      expect(metadata.token_endpoint_auth_methods_supported).toEqual(
        expect.arrayContaining(['client_secret_basic', 'client_secret_post']),
      );
    });

    it("lists a newly created account's scope in scopes_supported", async () => {
      expect(metadata.scopes_supported).toContain(uniqueScope);
      const laterScope = `${uniqueName('invoices')}:write`;
      await h.createAccount({ scopes: [laterScope] });
      const again = await h.fetch('/.well-known/oauth-authorization-server');
      expect(again.body.scopes_supported).toEqual(expect.arrayContaining([uniqueScope, laterScope]));
    });

    const scopesSupported = async () =>
      (await h.fetch('/.well-known/oauth-authorization-server')).body.scopes_supported as string[];

    it('drops a scope from scopes_supported once no account holds it, and only then', async () => {
      const shared = `${uniqueName('shipments')}:read`;
      const solo = `${uniqueName('shipments')}:write`;
      const a = await h.createAccount({ scopes: [shared, solo] });
      const b = await h.createAccount({ scopes: [shared] });
      expect(await scopesSupported()).toEqual(expect.arrayContaining([shared, solo]));

      // a keeps `shared` but gives up `solo`, which nobody else holds.
      expect((await h.admin('PATCH', `/service-accounts/${a.id}`, { scopes: [shared] })).status).toBe(200);
      let scopes = await scopesSupported();
      expect(scopes).toContain(shared);
      expect(scopes).not.toContain(solo);

      // `shared` stays while b still holds it.
      expect((await h.admin('DELETE', `/service-accounts/${a.id}`)).status).toBe(204);
      expect(await scopesSupported()).toContain(shared);
      expect((await h.admin('DELETE', `/service-accounts/${b.id}`)).status).toBe(204);
      scopes = await scopesSupported();
      expect(scopes).not.toContain(shared);
      expect(scopes).toContain(uniqueScope);
    });

    it('keeps scopes_supported exact when accounts sharing scopes are created and deleted concurrently', async () => {
      const scopes = [0, 1, 2, 3].map((i) => `${uniqueName(`fleet${i}`)}:read`);
      // Every account holds a different mix, in a different order, so concurrent changes touch the same scopes.
      const mixes = Array.from({ length: 12 }, (_, i) => (i % 2 ? [...scopes].reverse() : scopes).slice(i % 3));
      const accounts = await Promise.all(mixes.map((mix) => h.createAccount({ scopes: mix })));
      expect(await scopesSupported()).toEqual(expect.arrayContaining(scopes));

      // Delete all but the one holding only the last two scopes (i = 2 holds scopes[2..3]).
      const keep = accounts[2]!;
      const statuses = await Promise.all(
        accounts.filter((a) => a !== keep).map(async (a) => (await h.admin('DELETE', `/service-accounts/${a.id}`)).status),
      );
      expect(statuses.every((s) => s === 204)).toBe(true);
      const left = await scopesSupported();
      expect(left).toEqual(expect.arrayContaining([scopes[2], scopes[3]]));
      expect(left).not.toContain(scopes[0]);
      expect(left).not.toContain(scopes[1]);
    });

    it('carries an ETag: a revalidation gets 304 until an account change alters the document', async () => {
      const first = await h.fetch('/.well-known/oauth-authorization-server');
      const etag = first.headers.get('etag');
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      const unchanged = await h.fetch('/.well-known/oauth-authorization-server', { headers: { 'if-none-match': etag! } });
      expect(unchanged.status).toBe(304);
      expect(unchanged.text).toBe('');
      expect(unchanged.headers.get('etag')).toBe(etag);

      const newScope = `${uniqueName('ledger')}:read`;
      await h.createAccount({ scopes: [newScope] });
      const changed = await h.fetch('/.well-known/oauth-authorization-server', { headers: { 'if-none-match': etag! } });
      expect(changed.status).toBe(200);
      expect(changed.body.scopes_supported).toContain(newScope);
      expect(changed.headers.get('etag')).not.toBe(etag);
    });

    it('serves the same document at /.well-known/openid-configuration', async () => {
      const [a, b] = await Promise.all([
        h.fetch('/.well-known/oauth-authorization-server'),
        h.fetch('/.well-known/openid-configuration'),
      ]);
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect(b.headers.get('content-type')).toMatch(/^application\/json/);
      expect(b.body).toEqual(a.body);
    });
  });

  describe('JWKS', () => {
    it('answers a revalidation with its ETag by 304 and no body; a stale or weak-matching tag as HTTP says', async () => {
      const first = await h.fetch('/.well-known/jwks.json');
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
      for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await h.fetch('/.well-known/jwks.json', { headers: { 'if-none-match': header } });
        expect(res.status).toBe(304);
        expect(res.text).toBe('');
      }
      const stale = await h.fetch('/.well-known/jwks.json', { headers: { 'if-none-match': '"not-the-current-one"' } });
      expect(stale.status).toBe(200);
      expect(stale.body).toEqual(first.body);
    });

    it('is cacheable for JWKS_MAX_AGE_SECONDS (300 by default)', async () => {
      const res = await h.fetch('/.well-known/jwks.json');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    });

    it('publishes RS256 keys (the default) with kid, alg and use=sig, and no private members', async () => {
      const keys = await publicSigningKeys(h);
      expect(keys.map((k) => k.alg)).toEqual(['RS256']);
    });

    it("publishes the kid and alg of the token's header", async () => {
      await expectTokenKeyPublished(h, 'RS256');
    });
  });

  describe('a resource API verifying tokens through discovery', () => {
    let verify: (token: string, audience?: string) => ReturnType<typeof jwtVerify>;
    beforeAll(() => {
      const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri));
      verify = (token, audience = ORDERS) =>
        jwtVerify(token, jwks, {
          issuer: metadata.issuer,
          audience,
          typ: 'at+jwt',
          algorithms: ['RS256'],
          currentDate: h.clock.now(),
        });
    });

    it('accepts a token fetched over HTTP and reads its claims', async () => {
      const { account, token } = await tokenFor(
        h,
        { scopes: ['orders:read', 'orders:write'], audiences: [ORDERS, BILLING] },
        { scope: 'orders:read' },
      );
      const { payload, protectedHeader } = await verify(token);
      expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
      const now = Math.floor(h.clock.now().getTime() / 1000);
      expect(payload).toMatchObject({
        iss: metadata.issuer,
        aud: ORDERS,
        sub: account.client_id,
        client_id: account.client_id,
        scope: 'orders:read',
        iat: now,
        exp: now + 900,
      });
      expect(payload.jti).toEqual(expect.any(String));
    });

    it('rejects a token with a character of its payload changed', async () => {
      const { token } = await tokenFor(h, { scopes: ['orders:read'], audiences: [ORDERS] });
      await expect(verify(token)).resolves.toBeDefined();
      await expect(verify(flipPayloadCharacter(token))).rejects.toMatchObject({
        code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
      });
    });

    it('rejects a token whose claims were rewritten to widen its scope', async () => {
      const { token } = await tokenFor(h, { scopes: ['orders:read'], audiences: [ORDERS] });
      const forged = withForgedClaims(token, { scope: 'orders:read orders:write' });
      await expect(verify(forged)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    });

    it('rejects a token issued for another audience', async () => {
      const { token } = await tokenFor(h, { audiences: [BILLING] });
      await expect(verify(token, BILLING)).resolves.toBeDefined();
      await expect(verify(token, ORDERS)).rejects.toMatchObject({
        code: 'ERR_JWT_CLAIM_VALIDATION_FAILED',
        claim: 'aud',
      });
    });

    it('rejects a token once it has expired', async () => {
      const { token } = await tokenFor(h, { audiences: [ORDERS] });
      const exp = decodeJwt(token).exp!;
      await expect(
        jwtVerify(token, createRemoteJWKSet(new URL(metadata.jwks_uri)), {
          issuer: metadata.issuer,
          audience: ORDERS,
          typ: 'at+jwt',
          algorithms: ['RS256'],
          currentDate: new Date((exp + 1) * 1000),
        }),
      ).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    });
  });
});

describe.each(DATABASE_KINDS)('discovery with configured ISSUER and JWKS_MAX_AGE_SECONDS (%s)', (kind) => {
  const ISSUER = 'https://auth.example.test/tenant-a';
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { ISSUER, JWKS_MAX_AGE_SECONDS: '60' });
  });
  afterAll(() => h?.close());

  it('builds every advertised URL from ISSUER, not from the request', async () => {
    const res = await h.fetch('/.well-known/oauth-authorization-server');
    expect(res.body).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
    });
    const { token } = await tokenFor(h, {});
    expect(decodeJwt(token).iss).toBe(ISSUER);
  });

  it('sends Cache-Control max-age=JWKS_MAX_AGE_SECONDS on the JWKS', async () => {
    const res = await h.fetch('/.well-known/jwks.json');
    expect(res.headers.get('cache-control')).toBe('public, max-age=60');
  });
});

describe.each(DATABASE_KINDS)('JWKS content (%s)', (kind) => {
  describe.each(['ES256', 'EdDSA'] as const)('SIGNING_ALG=%s', (alg) => {
    let h: TestService;
    beforeAll(async () => {
      h = await startTestService(kind, { SIGNING_ALG: alg });
    });
    afterAll(() => h?.close());

    it('publishes keys with kid, alg and use=sig, and no private members', async () => {
      const keys = await publicSigningKeys(h);
      expect(keys.map((k) => k.alg)).toEqual([alg]);
      expect((await h.fetch('/.well-known/jwks.json')).headers.get('cache-control')).toBe('public, max-age=300');
    });

    it("publishes the kid and alg of the token's header", async () => {
      await expectTokenKeyPublished(h, alg);
    });
  });
});

describe.each(DATABASE_KINDS)('signing key persistence (%s)', (kind) => {
  let keysDir: string;
  let first: TestService;
  let second: TestService;
  let switched: TestService;
  let firstToken: string;
  let kidsBeforeSwitch: (string | undefined)[];
  let secondKidsBeforeSwitch: (string | undefined)[];

  beforeAll(async () => {
    keysDir = await mkdtemp(join(tmpdir(), 'keys-persist-'));
    first = await startTestService(kind, {}, { keysDir });
    firstToken = (await tokenFor(first, { audiences: [ORDERS] })).token;
    second = await startTestService(kind, {}, { keysDir });
    // Taken before the switch: running instances watch the folder, so both publish the new key soon after,
    // each at its own moment (comparing them after the switch would race their folder watchers).
    kidsBeforeSwitch = await kids(first);
    secondKidsBeforeSwitch = await kids(second);
    switched = await startTestService(kind, { SIGNING_ALG: 'ES256' }, { keysDir });
  });
  afterAll(async () => {
    await Promise.all([first?.close(), second?.close(), switched?.close()]);
    if (keysDir) await rm(keysDir, { recursive: true, force: true });
  });

  const kids = async (h: TestService) =>
    ((await h.fetch('/.well-known/jwks.json')).body.keys as JWK[]).map((k) => k.kid).sort();

  it('a second service on the same keys folder publishes the same kid and signs with it', async () => {
    expect(secondKidsBeforeSwitch).toEqual(kidsBeforeSwitch);
    const { token } = await tokenFor(second, {});
    expect(decodeProtectedHeader(token).kid).toBe(decodeProtectedHeader(firstToken).kid);
  });

  it("a token from the first service verifies against the second's JWKS", async () => {
    const meta = (await second.fetch('/.well-known/oauth-authorization-server')).body;
    const { payload } = await jwtVerify(firstToken, createRemoteJWKSet(new URL(meta.jwks_uri)), {
      issuer: first.config.issuer,
      audience: ORDERS,
      typ: 'at+jwt',
      algorithms: ['RS256'],
      currentDate: first.clock.now(),
    });
    expect(payload.aud).toBe(ORDERS);
  });

  it('after a switch of SIGNING_ALG, still publishes the old key, so earlier tokens verify', async () => {
    const before = kidsBeforeSwitch;
    const after = await kids(switched);
    expect(after).toEqual(expect.arrayContaining(before));
    expect(after.length).toBe(before.length + 1);

    const { token } = await tokenFor(switched, {});
    expect(decodeProtectedHeader(token).alg).toBe('ES256');
    const meta = (await switched.fetch('/.well-known/oauth-authorization-server')).body;
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
    const { payload } = await jwtVerify(firstToken, jwks, {
      issuer: first.config.issuer,
      audience: ORDERS,
      typ: 'at+jwt',
      algorithms: ['RS256', 'ES256'],
      currentDate: first.clock.now(),
    });
    expect(payload.aud).toBe(ORDERS);
  });
});

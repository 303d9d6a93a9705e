import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { decodeJwt, exportJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { proofKey, signProof, type ProofChanges, type ProofKey } from './support/dpop-proof';
import { basicAuth, startTestService, startTwoInstances, uniqueName, type HttpResult, type TestService } from './support/service';

const ALL_ADMIN = ['service-account:read', 'service-account:create', 'service-account:update', 'service-account:delete'];
const LIST = '/admin/v1/service-accounts';

/** RFC 9449 §4.2: base64url(SHA-256(ASCII(access token))), computed here independently of the service. */
const ath = (token: string) => createHash('sha256').update(token, 'ascii').digest('base64url');

function expectProblem(res: HttpResult, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
}

/** 401, problem+json, and a DPoP challenge (RFC 9449 §7.1) with the given error and the proof algorithms. */
function expectDpopRefusal(res: HttpResult, error: 'invalid_token' | 'invalid_dpop_proof') {
  expectProblem(res, 401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^DPoP\b/);
  expect(challenge).toContain(`error="${error}"`);
  expect(challenge).toMatch(/algs="[^"]*ES256[^"]*"/);
  expect(res.text).not.toMatch(/"items"/);
}

/**
 * RFC 9449 §7 at the admin API: a DPoP-bound admin token works only with the DPoP scheme and a proof of its
 * key for that very request; sent as a Bearer token, it is refused, so a stolen one is useless without the key.
 */
describe.each(DATABASE_KINDS)('admin API with DPoP-bound tokens (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  const nowSeconds = () => Math.floor(h.clock.now().getTime() / 1000);

  /** A proof signed now by `key` for `method` `path` on the issuer, naming `token` in ath; claims may be changed or removed (undefined). */
  const proof = (key: ProofKey, token: string, method: string, path: string, changes: ProofChanges = {}) =>
    signProof(key, { htm: method, htu: `${h.config.issuer}${path}`, iat: nowSeconds(), ath: ath(token) }, changes);

  /** A token-endpoint proof: what makes the token DPoP-bound. */
  const tokenProof = (key: ProofKey) => signProof(key, { htm: 'POST', htu: `${h.config.issuer}/oauth/token`, iat: nowSeconds() });

  /** An admin account (created through the admin API) that requires DPoP, its key and a token bound to that key. */
  const dpopAdmin = async (scopes = ALL_ADMIN) => {
    const account = await h.createAccount({ scopes, audiences: [h.config.adminAudience], require_dpop: true });
    const key = await proofKey();
    const res = await h.fetch('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(account.client_id, account.secret.secret),
        dpop: await tokenProof(key),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
    return { account, key, token: res.body.access_token as string };
  };

  /** An admin account without DPoP and its (unbound) Bearer token. */
  const bearerAdmin = async () => {
    const account = await h.createAccount({ scopes: ALL_ADMIN, audiences: [h.config.adminAudience] });
    const res = await h.token({ grant_type: 'client_credentials' }, { id: account.client_id, secret: account.secret.secret });
    expect(res.status, res.text).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
    return { account, token: res.body.access_token as string };
  };

  /** An admin API call with `Authorization: <scheme> <token>` and, when given, a DPoP header. */
  const call = (method: string, path: string, auth: { scheme: string; token: string; dpop?: string }, body?: unknown) =>
    h.fetch(path, {
      method,
      headers: {
        authorization: `${auth.scheme} ${auth.token}`,
        ...(auth.dpop !== undefined ? { dpop: auth.dpop } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  /** GET /admin/v1/service-accounts with the DPoP scheme and the given proof. */
  const list = (token: string, dpop?: string) => call('GET', LIST, { scheme: 'DPoP', token, dpop });

  describe('a DPoP-bound admin token', () => {
    it('works with the DPoP scheme and a proof for the request, for reads and writes alike', async () => {
      const { account, key, token } = await dpopAdmin();
      const read = await list(token, await proof(key, token, 'GET', LIST));
      expect(read.status, read.text).toBe(200);
      expect(read.body.items).toEqual(expect.any(Array));

      const name = uniqueName('made-with-dpop');
      const created = await call('POST', LIST, { scheme: 'DPoP', token, dpop: await proof(key, token, 'POST', LIST) }, { name });
      expect(created.status, created.text).toBe(201);
      expect(created.body.name).toBe(name);

      const path = `${LIST}/${created.body.id}`;
      const patched = await call('PATCH', path, { scheme: 'DPoP', token, dpop: await proof(key, token, 'PATCH', path) }, { description: 'x' });
      expect(patched.status, patched.text).toBe(200);

      // The audit trail names the DPoP admin as the actor.
      const events = await h.admin('GET', `/service-accounts/${created.body.id}/audit-events`);
      expect(events.body.items.map((e: { actor: string }) => e.actor)).toContain(account.client_id);
    });

    it('the scheme is case-insensitive, and htu is compared without the query (RFC 9449 §4.3)', async () => {
      const { key, token } = await dpopAdmin();
      const lower = await call('GET', LIST, { scheme: 'dpop', token, dpop: await proof(key, token, 'GET', LIST) });
      expect(lower.status, lower.text).toBe(200);
      const withQuery = await call('GET', `${LIST}?limit=1`, { scheme: 'DPoP', token, dpop: await proof(key, token, 'GET', LIST) });
      expect(withQuery.status, withQuery.text).toBe(200);
      expect(withQuery.body.items.length).toBeLessThanOrEqual(1);
    });

    it('is refused as a Bearer token, with or without a proof: a stolen token is useless without the key', async () => {
      const { key, token } = await dpopAdmin();
      const bare = await call('GET', LIST, { scheme: 'Bearer', token });
      expectDpopRefusal(bare, 'invalid_token');
      expect(bare.body.detail).toMatch(/DPoP/);
      expectDpopRefusal(await call('GET', LIST, { scheme: 'Bearer', token, dpop: await proof(key, token, 'GET', LIST) }), 'invalid_token');
      expectDpopRefusal(await call('POST', LIST, { scheme: 'Bearer', token }, { name: uniqueName('stolen') }), 'invalid_token');
    });

    it('is refused without a proof, or with one signed by another key', async () => {
      const { key, token } = await dpopAdmin();
      const other = await proofKey();
      expectDpopRefusal(await list(token), 'invalid_dpop_proof');
      // The thief's own key, in the header and signing: its thumbprint is not the token's cnf.jkt.
      expectDpopRefusal(await list(token, await proof(other, token, 'GET', LIST)), 'invalid_dpop_proof');
      // The right public key in the header, but signed by another private key.
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { signWith: other.privateKey })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, 'not-a-jwt'), 'invalid_dpop_proof');
      // Still fine with a good proof.
      expect((await list(token, await proof(key, token, 'GET', LIST))).status).toBe(200);
    });

    it('is refused with a proof for another method or URL', async () => {
      const { key, token } = await dpopAdmin();
      expectDpopRefusal(await list(token, await proof(key, token, 'POST', LIST)), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'get', LIST)), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', '/admin/v1/secrets')), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { htu: `https://elsewhere.example.com${LIST}` } })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { htu: undefined } })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { htm: undefined } })), 'invalid_dpop_proof');
    });

    it('is refused with a proof for another access token (ath), or naming none', async () => {
      const { key, token } = await dpopAdmin();
      const { token: otherToken } = await bearerAdmin();
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { ath: ath(otherToken) } })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { ath: undefined } })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { ath: Buffer.from(ath(token), 'base64url').toString('hex') } })), 'invalid_dpop_proof');
    });

    it('is refused with a replayed proof, or a fresh proof reusing a jti', async () => {
      const { key, token } = await dpopAdmin();
      const once = await proof(key, token, 'GET', LIST);
      expect((await list(token, once)).status).toBe(200);
      expectDpopRefusal(await list(token, once), 'invalid_dpop_proof');

      const jti = randomUUID();
      expect((await list(token, await proof(key, token, 'GET', LIST, { claims: { jti } }))).status).toBe(200);
      h.clock.advance(1_000);
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { jti } })), 'invalid_dpop_proof');
    });

    it('is refused with a stale proof or one from the future', async () => {
      const { key, token } = await dpopAdmin();
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { iat: nowSeconds() - 301 } })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { iat: nowSeconds() + 61 } })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { claims: { iat: undefined } })), 'invalid_dpop_proof');
    });

    it('is refused with a proof that is not a dpop+jwt, or carries no public key', async () => {
      const { key, token } = await dpopAdmin();
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { header: { typ: 'JWT' } })), 'invalid_dpop_proof');
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { header: { jwk: undefined } })), 'invalid_dpop_proof');
      const privateJwk = await exportJWK(key.privateKey);
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST, { header: { jwk: privateJwk } })), 'invalid_dpop_proof');
    });

    it('checks htu against the issuer, not the Host header the request came with', async () => {
      const { key, token } = await dpopAdmin();
      const spoofedHost = 'evil.example';
      const get = (dpop: string) =>
        new Promise<number>((resolve, reject) => {
          const req = httpRequest(`${h.url}${LIST}`, {
            headers: { host: spoofedHost, 'x-forwarded-host': spoofedHost, authorization: `DPoP ${token}`, dpop },
          });
          req.on('response', (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          });
          req.on('error', reject);
          req.end();
        });
      expect(await get(await proof(key, token, 'GET', LIST, { claims: { htu: `http://${spoofedHost}${LIST}` } }))).toBe(401);
      expect(await get(await proof(key, token, 'GET', LIST))).toBe(200);
    });

    it('a missing scope is 403 with a DPoP challenge', async () => {
      const { key, token } = await dpopAdmin(['service-account:read']);
      const res = await call('POST', LIST, { scheme: 'DPoP', token, dpop: await proof(key, token, 'POST', LIST) }, { name: uniqueName('nope') });
      expectProblem(res, 403);
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge).toMatch(/^DPoP\b/);
      expect(challenge).toContain('error="insufficient_scope"');
      expect(challenge).toContain('service-account:create');
    });

    it('stops working once its account is disabled, proof or not', async () => {
      const { account, key, token } = await dpopAdmin();
      expect((await h.admin('PATCH', `/service-accounts/${account.id}`, { status: 'disabled' })).status).toBe(200);
      expectDpopRefusal(await list(token, await proof(key, token, 'GET', LIST)), 'invalid_token');
    });
  });

  describe('an unbound (Bearer) admin token', () => {
    it('still works with the Bearer scheme', async () => {
      const { token } = await bearerAdmin();
      const res = await call('GET', LIST, { scheme: 'Bearer', token });
      expect(res.status, res.text).toBe(200);
      const created = await call('POST', LIST, { scheme: 'Bearer', token }, { name: uniqueName('bearer') });
      expect(created.status, created.text).toBe(201);
    });

    it('is refused with the DPoP scheme, even with a well-formed proof', async () => {
      const { token } = await bearerAdmin();
      const key = await proofKey();
      const res = await list(token, await proof(key, token, 'GET', LIST));
      expectDpopRefusal(res, 'invalid_token');
      expect(res.body.detail).toMatch(/Bearer/);
      expectDpopRefusal(await list(token), 'invalid_token');
    });
  });

  it('a request without credentials is offered both the Bearer and the DPoP scheme', async () => {
    const res = await h.fetch(LIST);
    expectProblem(res, 401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^Bearer\b/);
    expect(challenge).toMatch(/\bDPoP realm="admin", algs="[^"]+"/);
    expect(challenge).not.toContain('error=');
  });
});

describe.each(DATABASE_KINDS)('admin API DPoP replay across instances (%s)', (kind) => {
  let pair: Awaited<ReturnType<typeof startTwoInstances>>;
  beforeAll(async () => {
    pair = await startTwoInstances(kind);
  });
  afterAll(() => pair?.close());

  it('a proof accepted by one instance is refused by the other (the replay guard is in the database)', async () => {
    const { a, b } = pair;
    const account = await a.createAccount({ scopes: ALL_ADMIN, audiences: [a.config.adminAudience] });
    const key = await proofKey();
    const iat = Math.floor(a.clock.now().getTime() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ jti: randomUUID(), iat, ...claims }).setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk }).sign(key.privateKey);
    const tokenRes = await a.fetch('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(account.client_id, account.secret.secret),
        dpop: await sign({ htm: 'POST', htu: `${a.config.issuer}/oauth/token` }),
      },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    });
    expect(tokenRes.status, tokenRes.text).toBe(200);
    const token = tokenRes.body.access_token as string;

    const once = await sign({ htm: 'GET', htu: `${a.config.issuer}${LIST}`, ath: ath(token) });
    const headers = { authorization: `DPoP ${token}`, dpop: once };
    expect((await a.fetch(LIST, { headers })).status).toBe(200);
    expectDpopRefusal(await b.fetch(LIST, { headers }), 'invalid_dpop_proof');
  });
});

import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { decodeJwt, decodeProtectedHeader, exportJWK, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { proofKey, signProof, type ProofChanges, type ProofKey } from './support/dpop-proof';
import { basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };

interface Creds {
  id: string;
  secret: string;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A POST with raw header lines, repeated names kept apart on the wire. */
function postRaw(url: string, body: string, headers: string[]) {
  return new Promise<{ status: number; cacheControl: string | undefined; body: string }>((resolve, reject) => {
    const extra = ['host', new URL(url).host, 'content-length', String(Buffer.byteLength(body))];
    const req = httpRequest(url, { method: 'POST', headers: [...extra, ...headers] });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, cacheControl: res.headers['cache-control'], body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * RFC 9449 §4.2 — story-driven tests of proof-of-possession at the token endpoint: a client that proves
 * a key gets a token bound to it; anything wrong with the proof is invalid_dpop_proof and no token.
 */
describe.each(DATABASE_KINDS)('DPoP-bound tokens (%s)', (kind) => {
  let h: TestService;
  let tokenUrl: string;
  beforeAll(async () => {
    h = await startTestService(kind);
    tokenUrl = `${h.config.issuer}/oauth/token`;
  });
  afterAll(() => h?.close());

  const nowSeconds = () => Math.floor(h.clock.now().getTime() / 1000);

  /** A proof for POST /oauth/token signed now by `key`; claims and header may be changed or removed (undefined). */
  const proof = (key: ProofKey, changes: ProofChanges = {}) =>
    signProof(key, { htm: 'POST', htu: tokenUrl, iat: nowSeconds() }, changes);

  const newAccount = async (input: Record<string, unknown> = {}) => {
    const account = await h.createAccount({ scopes: ['orders:read'], ...input });
    return { account, creds: { id: account.client_id, secret: account.secret.secret } as Creds };
  };

  /** POST /oauth/token with Basic credentials and, when given, a DPoP header. */
  const tokenRequest = (creds: Creds, dpop?: string): Promise<HttpResult> =>
    h.fetch('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(creds.id, creds.secret),
        ...(dpop !== undefined ? { dpop } : {}),
      },
      body: new URLSearchParams(grant).toString(),
    });

  const expectDpopToken = (res: HttpResult, key: ProofKey) => {
    expect(res.status, res.text).toBe(200);
    expect(res.body.token_type).toBe('DPoP');
    expect(decodeProtectedHeader(res.body.access_token).typ).toBe('at+jwt');
    expect(decodeJwt(res.body.access_token).cnf).toEqual({ jkt: key.jkt });
  };

  const expectRefused = (res: HttpResult) => {
    expect(res.status, res.text).toBe(400);
    expect(res.body.error).toBe('invalid_dpop_proof');
    expect(Object.keys(res.body).sort()).toEqual(['error', 'error_description']);
    expect(res.headers.get('cache-control')).toBe('no-store');
  };

  it.each(['ES256', 'EdDSA', 'RS256'])('a valid %s proof gets a DPoP token bound to the key’s thumbprint', async (alg) => {
    const { creds } = await newAccount();
    const key = await proofKey(alg);
    const res = await tokenRequest(creds, await proof(key));
    expectDpopToken(res, key);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body.scope).toBe('orders:read');
    expect(decodeJwt(res.body.access_token).sub).toBe(creds.id);
  });

  it('without a DPoP header the token is a Bearer token with no cnf', async () => {
    const { creds } = await newAccount();
    const res = await tokenRequest(creds);
    expect(res.status, res.text).toBe(200);
    expect(res.body.token_type).toBe('Bearer');
    expect(decodeJwt(res.body.access_token)).not.toHaveProperty('cnf');
    expect(decodeProtectedHeader(res.body.access_token).typ).toBe('at+jwt');
  });

  it('htu is compared without query and fragment (RFC 9449 §4.3)', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    expectDpopToken(await tokenRequest(creds, await proof(key, { claims: { htu: `${tokenUrl}?x=1#frag` } })), key);
  });

  it('refuses a proof for another URL or another method', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { htu: `${h.config.issuer}/oauth/introspect` } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { htu: 'https://elsewhere.example.com/oauth/token' } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { htm: 'GET' } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { htm: 'post' } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { htu: undefined } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { htm: undefined } })));
  });

  it('refuses a replayed proof, and a fresh proof reusing a jti of the same key', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    const once = await proof(key);
    expectDpopToken(await tokenRequest(creds, once), key);
    expectRefused(await tokenRequest(creds, once));

    const jti = randomUUID();
    expectDpopToken(await tokenRequest(creds, await proof(key, { claims: { jti } })), key);
    h.clock.advance(1_000);
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { jti } })));
  });

  it('accepts a proof up to 300 s old and 60 s ahead of the clock, and refuses one older or further ahead', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();

    const oldButFine = await proof(key);
    h.clock.advance(300_000);
    expectDpopToken(await tokenRequest(creds, oldButFine), key);

    const tooOld = await proof(key);
    h.clock.advance(301_000);
    expectRefused(await tokenRequest(creds, tooOld));

    expectDpopToken(await tokenRequest(creds, await proof(key, { claims: { iat: nowSeconds() + 60 } })), key);
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { iat: nowSeconds() + 61 } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { iat: nowSeconds() + 3600 } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { iat: undefined } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { iat: String(nowSeconds()) } })));
  });

  it('refuses a proof without a jti, or with an empty one', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { jti: undefined } })));
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { jti: '' } })));
  });

  it('refuses a proof of the wrong typ, or without one', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    expectRefused(await tokenRequest(creds, await proof(key, { header: { typ: 'JWT' } })));
    expectRefused(await tokenRequest(creds, await proof(key, { header: { typ: 'at+jwt' } })));
    expectRefused(await tokenRequest(creds, await proof(key, { header: { typ: undefined } })));
  });

  it('refuses alg none and a MAC (HS256)', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    const claims = { jti: randomUUID(), htm: 'POST', htu: tokenUrl, iat: nowSeconds() };
    const unsigned = `${b64({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })}.${b64(claims)}.`;
    expectRefused(await tokenRequest(creds, unsigned));

    const secret = new TextEncoder().encode('a shared secret of at least thirty-two bytes');
    const mac = await new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })
      .sign(secret);
    expectRefused(await tokenRequest(creds, mac));
    const macWithOctKey = await new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: { kty: 'oct', k: Buffer.from(secret).toString('base64url') } as JWK })
      .sign(secret);
    expectRefused(await tokenRequest(creds, macWithOctKey));
  });

  it('refuses a header jwk that is a private key, or missing', async () => {
    const { creds } = await newAccount();
    for (const alg of ['ES256', 'RS256']) {
      const key = await proofKey(alg);
      const privateJwk = await exportJWK(key.privateKey);
      expect(privateJwk).toHaveProperty('d');
      expectRefused(await tokenRequest(creds, await proof(key, { header: { jwk: privateJwk } })));
    }
    expectRefused(await tokenRequest(creds, await proof(await proofKey(), { header: { jwk: undefined } })));
  });

  it('refuses a bad signature: signed by another key, or tampered with after signing', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    const other = await proofKey();
    expectRefused(await tokenRequest(creds, await proof(key, { signWith: other.privateKey })));

    const [header, , signature] = (await proof(key)).split('.') as [string, string, string];
    const forged = b64({ jti: randomUUID(), htm: 'POST', htu: tokenUrl, iat: nowSeconds() });
    expectRefused(await tokenRequest(creds, `${header}.${forged}.${signature}`));
    expectRefused(await tokenRequest(creds, 'not-a-jwt'));
  });

  it('refuses two DPoP headers, whether joined by the client or sent as two header lines', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    const [a, b] = [await proof(key), await proof(key)];
    expectRefused(await tokenRequest(creds, `${a}, ${b}`));
    expectRefused(await tokenRequest(creds, `${a},${b}`));

    // Two separate DPoP header lines on the wire (fetch would join them; node:http sends raw lines).
    const raw = await postRaw(`${h.url}/oauth/token`, new URLSearchParams(grant).toString(), [
      'content-type', 'application/x-www-form-urlencoded',
      'authorization', basicAuth(creds.id, creds.secret),
      'dpop', await proof(key),
      'dpop', await proof(key),
    ]);
    expect(raw.status, raw.body).toBe(400);
    expect(JSON.parse(raw.body).error).toBe('invalid_dpop_proof');
    expect(raw.cacheControl).toBe('no-store');
  });

  it('a refused proof issues no token: the audit trail shows a denial, not an issue', async () => {
    const { account, creds } = await newAccount();
    const key = await proofKey();
    const res = await tokenRequest(creds, await proof(key, { claims: { htm: 'GET' } }));
    expectRefused(res);
    expect(res.text).not.toMatch(/access_token/);
    await h.service.flush();
    const events = await h.admin('GET', `/service-accounts/${account.id}/audit-events`);
    expect(events.status, events.text).toBe(200);
    const tokenEvents = events.body.items.filter((e: { action: string }) => e.action.startsWith('token.'));
    expect(tokenEvents).toHaveLength(1);
    expect(tokenEvents[0]).toMatchObject({ action: 'token.denied', outcome: 'failure', reason: 'invalid_dpop_proof', http_status: 400 });
  });

  it('an account that requires DPoP gets invalid_request without a proof and a DPoP token with one', async () => {
    const { account, creds } = await newAccount({ require_dpop: true });
    expect(account.require_dpop).toBe(true);
    const bare = await tokenRequest(creds);
    expect(bare.status, bare.text).toBe(400);
    expect(bare.body.error).toBe('invalid_request');
    expect(bare.body).not.toHaveProperty('access_token');
    expect(bare.headers.get('cache-control')).toBe('no-store');

    const key = await proofKey();
    expectDpopToken(await tokenRequest(creds, await proof(key)), key);
    // A bad proof is still a bad proof for such an account.
    expectRefused(await tokenRequest(creds, await proof(key, { claims: { htm: 'GET' } })));

    const patched = await h.admin('PATCH', `/service-accounts/${account.id}`, { require_dpop: false });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body.require_dpop).toBe(false);
    const bearer = await tokenRequest(creds);
    expect(bearer.status, bearer.text).toBe(200);
    expect(bearer.body.token_type).toBe('Bearer');
    expect(decodeJwt(bearer.body.access_token)).not.toHaveProperty('cnf');
  });

  it('DPoP does not stand in for client authentication', async () => {
    const { creds } = await newAccount();
    const key = await proofKey();
    const res = await tokenRequest({ id: creds.id, secret: `${creds.secret.slice(0, -1)}${creds.secret.endsWith('A') ? 'B' : 'A'}` }, await proof(key));
    expect(res.status, res.text).toBe(401);
    expect(res.body.error).toBe('invalid_client');
  });

  it('the metadata lists the asymmetric DPoP signing algorithms, and neither none nor a MAC', async () => {
    const res = await h.fetch('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    const algs: string[] = res.body.dpop_signing_alg_values_supported;
    expect(algs).toEqual(expect.arrayContaining(['ES256', 'EdDSA', 'RS256']));
    expect(algs).not.toContain('none');
    expect(algs.filter((a) => a.startsWith('HS'))).toEqual([]);
  });
});

import { randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const ORDERS = 'https://orders.example.com';
const INTROSPECT = 'token:introspect';

interface Creds {
  id: string;
  secret: string;
}

/** The token with its claims changed, keeping the original header and signature. */
function withAlteredClaims(token: string, changes: Record<string, unknown>): string {
  const [header, , signature] = token.split('.') as [string, string, string];
  const payload = Buffer.from(JSON.stringify({ ...decodeJwt(token), ...changes })).toString('base64url');
  return `${header}.${payload}.${signature}`;
}

/**
 * RFC 7662 — a resource server asks whether a token is still good. Only a caller holding token:introspect
 * may ask; the answer is the token's claims while we signed it, it is unexpired, and the account and the
 * secret it was obtained with are still active, and `{active: false}` (nothing more) otherwise.
 */
describe.each(DATABASE_KINDS)('token introspection (%s)', (kind) => {
  let h: TestService;
  /** A resource server allowed to introspect. */
  let caller: Creds;
  beforeAll(async () => {
    h = await startTestService(kind);
    const account = await h.createAccount({ scopes: [INTROSPECT] });
    caller = { id: account.client_id, secret: account.secret.secret };
  });
  afterAll(() => h?.close());

  /** POST /oauth/introspect; the caller authenticates with Basic (default), in the body, or not at all. */
  const introspect = (form: Record<string, string>, as: Creds | null = caller, method: 'basic' | 'post' = 'basic') =>
    h.fetch('/oauth/introspect', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        ...(as && method === 'basic' ? { authorization: basicAuth(as.id, as.secret) } : {}),
      },
      body: new URLSearchParams({
        ...form,
        ...(as && method === 'post' ? { client_id: as.id, client_secret: as.secret } : {}),
      }).toString(),
    });

  const newAccount = async (input: Record<string, unknown> = {}) => {
    const account = await h.createAccount({ scopes: ['orders:read'], audiences: [ORDERS], ...input });
    return { account, creds: { id: account.client_id, secret: account.secret.secret } as Creds };
  };

  const tokenOf = async (creds: Creds, headers: Record<string, string> = {}) => {
    const res = await h.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(creds.id, creds.secret), ...headers },
      body: new URLSearchParams(grant).toString(),
    });
    expect(res.status, res.text).toBe(200);
    return res.body.access_token as string;
  };

  const expectActive = async (token: string) => {
    const res = await introspect({ token });
    expect(res.status, res.text).toBe(200);
    expect(res.body.active).toBe(true);
    return res;
  };

  const expectInactive = async (token: string) => {
    const res = await introspect({ token });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ active: false });
    expect(res.headers.get('cache-control')).toBe('no-store');
  };

  it('describes an active token with its claims, as Bearer, without the credential it was obtained with', async () => {
    const { creds } = await newAccount();
    const token = await tokenOf(creds);
    const claims = decodeJwt(token);
    for (const method of ['basic', 'post'] as const) {
      const res = await introspect({ token }, caller, method);
      expect(res.status, res.text).toBe(200);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body).toEqual({
        active: true,
        client_id: creds.id,
        sub: creds.id,
        scope: 'orders:read',
        aud: claims.aud,
        iss: h.config.issuer,
        exp: claims.exp,
        iat: claims.iat,
        jti: claims.jti,
        org_id: 'default',
        token_type: 'Bearer',
      });
    }
    expect(claims.aud).toEqual(expect.anything());
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(claims.iat).toBe(Math.floor(h.clock.now().getTime() / 1000));
  });

  it('describes a DPoP-bound token as DPoP, with its key thumbprint', async () => {
    const { creds } = await newAccount();
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const proof = await new SignJWT({
      jti: randomUUID(),
      htm: 'POST',
      htu: `${h.config.issuer}/oauth/token`,
      iat: Math.floor(h.clock.now().getTime() / 1000),
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
      .sign(privateKey);
    const token = await tokenOf(creds, { dpop: proof });
    const res = await expectActive(token);
    expect(res.body.token_type).toBe('DPoP');
    expect(res.body.cnf).toEqual({ jkt: await calculateJwkThumbprint(jwk) });
    expect(res.body).not.toHaveProperty('credential_id');
  });

  it('says only {active: false} of malformed strings', async () => {
    for (const junk of ['not-a-token', 'a.b.c', 'eyJhbGciOiJub25lIn0.e30.', '...', 'x'.repeat(5000)]) await expectInactive(junk);
  });

  it('an expired token is inactive; one second before its exp it is still active', async () => {
    const { creds } = await newAccount({ token_ttl_seconds: 120 });
    const token = await tokenOf(creds);
    h.clock.advance(119_000);
    await expectActive(token);
    h.clock.advance(2_000);
    await expectInactive(token);
  });

  it('a token signed by another key, or with its payload altered, is inactive', async () => {
    const { creds } = await newAccount();
    const genuine = await tokenOf(creds);
    const { kid, alg } = decodeProtectedHeader(genuine);
    const claims = decodeJwt(genuine);

    // Same claims, same kid and alg, same issuer: only the key differs.
    const { privateKey } = await generateKeyPair(alg!);
    const forged = await new SignJWT({ ...claims, jti: randomUUID() })
      .setProtectedHeader({ alg: alg!, typ: 'at+jwt', ...(kid ? { kid } : {}) })
      .sign(privateKey);
    await expectInactive(forged);
    const forgedNoKid = await new SignJWT({ ...claims }).setProtectedHeader({ alg: alg!, typ: 'at+jwt' }).sign(privateKey);
    await expectInactive(forgedNoKid);

    await expectInactive(withAlteredClaims(genuine, { scope: 'orders:read orders:write' }));
    await expectInactive(withAlteredClaims(genuine, { exp: claims.exp! + 86_400 }));
    await expectInactive(`${genuine.slice(0, -2)}${genuine.endsWith('AA') ? 'BB' : 'AA'}`);
    // The genuine one is untouched by all this.
    await expectActive(genuine);
  });

  it('a token of an account since disabled, revoked or deleted is inactive', async () => {
    const disabled = await newAccount();
    const disabledToken = await tokenOf(disabled.creds);
    await expectActive(disabledToken);
    expect((await h.admin('PATCH', `/service-accounts/${disabled.account.id}`, { status: 'disabled' })).status).toBe(200);
    await expectInactive(disabledToken);

    const revoked = await newAccount();
    const revokedToken = await tokenOf(revoked.creds);
    expect((await h.admin('POST', `/service-accounts/${revoked.account.id}/revoke`)).status).toBe(200);
    await expectInactive(revokedToken);

    const deleted = await newAccount();
    const deletedToken = await tokenOf(deleted.creds);
    expect((await h.admin('DELETE', `/service-accounts/${deleted.account.id}`)).status).toBe(204);
    await expectInactive(deletedToken);
  });

  it('a token obtained with a secret since disabled or revoked is inactive; the other secret’s token stays active', async () => {
    const { account, creds } = await newAccount();
    const added = async () => {
      const res = await h.admin('POST', `/service-accounts/${account.id}/secrets`, {});
      expect(res.status, res.text).toBe(201);
      return { id: res.body.id as string, creds: { id: creds.id, secret: res.body.secret as string } };
    };
    const first = { id: account.secret.id as string, token: await tokenOf(creds) };
    const second = await added();
    const secondToken = await tokenOf(second.creds);
    const third = await added();
    const thirdToken = await tokenOf(third.creds);
    expect(decodeJwt(first.token).credential_id).toBe(first.id);
    expect(decodeJwt(secondToken).credential_id).toBe(second.id);

    const disable = await h.admin('PATCH', `/service-accounts/${account.id}/secrets/${first.id}`, { status: 'disabled' });
    expect(disable.status, disable.text).toBe(200);
    await expectInactive(first.token);
    await expectActive(secondToken);

    expect((await h.admin('DELETE', `/service-accounts/${account.id}/secrets/${second.id}`)).status).toBe(204);
    await expectInactive(secondToken);
    const stillGood = await expectActive(thirdToken);
    expect(stillGood.body.client_id).toBe(creds.id);
  });

  it('a token outliving the secret it was obtained with is inactive once the secret expires', async () => {
    const { account, creds } = await newAccount({ token_ttl_seconds: 900 });
    const expiresAt = new Date(h.clock.now().getTime() + 600_000).toISOString();
    const res = await h.admin('POST', `/service-accounts/${account.id}/secrets`, { expires_at: expiresAt });
    expect(res.status, res.text).toBe(201);
    const shortLived = await tokenOf({ id: creds.id, secret: res.body.secret });
    const longLived = await tokenOf(creds);
    h.clock.advance(601_000);
    await expectInactive(shortLived);
    await expectActive(longLived);
  });

  it('the caller must authenticate: no credentials or a wrong secret is 401 invalid_client', async () => {
    const { creds } = await newAccount();
    const token = await tokenOf(creds);
    const anonymous = await introspect({ token }, null);
    expect(anonymous.status, anonymous.text).toBe(401);
    expect(anonymous.body.error).toBe('invalid_client');
    expect(anonymous.text).not.toMatch(/active/);

    const wrong = { id: caller.id, secret: `${caller.secret.slice(0, -1)}${caller.secret.endsWith('A') ? 'B' : 'A'}` };
    for (const method of ['basic', 'post'] as const) {
      const res = await introspect({ token }, wrong, method);
      expect(res.status, res.text).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect(res.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('a caller without token:introspect is 403 insufficient_scope, even asking about its own token', async () => {
    const { creds } = await newAccount({ scopes: ['orders:read', 'token:read'] });
    const token = await tokenOf(creds);
    const res = await introspect({ token }, creds);
    expect(res.status, res.text).toBe(403);
    expect(res.body.error).toBe('insufficient_scope');
    expect(res.body).not.toHaveProperty('active');
  });

  it('a missing or empty token parameter is 400 invalid_request; GET is 405', async () => {
    for (const form of [{}, { token: '' }] as Record<string, string>[]) {
      const missing = await introspect(form);
      expect(missing.status, missing.text).toBe(400);
      expect(missing.body.error).toBe('invalid_request');
      expect(missing.headers.get('cache-control')).toBe('no-store');
    }

    const get = await h.fetch('/oauth/introspect', { headers: { authorization: basicAuth(caller.id, caller.secret) } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('the metadata names the introspection endpoint', async () => {
    const res = await h.fetch('/.well-known/oauth-authorization-server');
    expect(res.status).toBe(200);
    expect(res.body.introspection_endpoint).toBe(`${h.config.issuer}/oauth/introspect`);
  });
});

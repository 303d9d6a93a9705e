import { generateKeyPairSync, randomUUID } from 'node:crypto';
import {
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { startTestService, type HttpResult, type TestService } from './support/service';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface ClientKey {
  privateKey: CryptoKey;
  publicJwk: JWK;
  alg: string;
}

async function newKey(alg: 'ES256' | 'RS256' | 'PS256' | 'EdDSA' = 'ES256'): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  return { privateKey, publicJwk: await exportJWK(publicKey), alg };
}

describe.each(DATABASE_KINDS)('private_key_jwt client authentication (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { BRUTE_FORCE_MAX_FAILURES: '1000' });
  });
  afterAll(() => h?.close());

  /** A signed client assertion for `clientId`, valid for a minute of the service clock unless told otherwise. */
  const assertion = async (key: ClientKey, clientId: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) => {
    const iat = Math.floor(h.clock.now().getTime() / 1000);
    return new SignJWT({ jti: randomUUID(), ...claims })
      .setProtectedHeader({ alg: key.alg, ...header })
      .setIssuer(String(claims.iss ?? clientId))
      .setSubject(String(claims.sub ?? clientId))
      .setAudience((claims.aud as string) ?? h.config.issuer)
      .setIssuedAt(iat)
      .setExpirationTime(Number(claims.exp ?? iat + 60))
      .sign(key.privateKey);
  };

  const tokenWith = (jwt: string, extra: Record<string, string> = {}) =>
    h.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: jwt,
        ...extra,
      }).toString(),
    });

  /** An account that authenticates with private_key_jwt only, holding one registered key. */
  const keyAccount = async (alg: 'ES256' | 'RS256' | 'PS256' | 'EdDSA' = 'ES256') => {
    const account = await h.createAccount({ token_endpoint_auth_methods: ['private_key_jwt'], scopes: ['jobs:run'] });
    const key = await newKey(alg);
    const res = await h.admin('POST', `/service-accounts/${account.id}/keys`, { jwk: { ...key.publicJwk, alg }, description: 'ci' });
    expect(res.status, res.text).toBe(201);
    return { account, key, keyRow: res.body };
  };

  const expectInvalidClient = (res: HttpResult) => {
    expect(res.status, res.text).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_client', error_description: 'client authentication failed' });
  };

  const deniedReason = async (clientId: string) => {
    await h.service.flush();
    const res = await h.admin('GET', `/audit-events?action=token.denied&limit=100`);
    return (res.body.items as any[]).find((e) => e.client_id === clientId)?.reason;
  };

  it('an account created for private_key_jwt only holds no secret, and cannot be given one', async () => {
    const account = await h.createAccount({ token_endpoint_auth_methods: ['private_key_jwt'] });
    expect(account.secret).toBeNull();
    expect(account.secrets).toEqual([]);
    expect(account.token_endpoint_auth_methods).toEqual(['private_key_jwt']);
    const refused = await h.admin('POST', `/service-accounts/${account.id}/secrets`, {});
    expect(refused.status).toBe(409);
  });

  it.each(['ES256', 'RS256', 'PS256', 'EdDSA'] as const)('a %s assertion signed by a registered key gets a token', async (alg) => {
    const { account, key, keyRow } = await keyAccount(alg);
    expect(keyRow).toMatchObject({ alg, status: 'active', kid: await calculateJwkThumbprint(key.publicJwk) });
    expect(keyRow.jwk).not.toHaveProperty('d');
    const res = await tokenWith(await assertion(key, account.client_id));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ token_type: 'Bearer', scope: 'jobs:run' });
    expect(decodeJwt(res.body.access_token)).toMatchObject({ sub: account.client_id, client_id: account.client_id });
  });

  it('accepts the token endpoint URL as audience too, and a client_id parameter that matches', async () => {
    const { account, key } = await keyAccount();
    const res = await tokenWith(await assertion(key, account.client_id, { aud: `${h.config.issuer}/oauth/token` }), {
      client_id: account.client_id,
    });
    expect(res.status, res.text).toBe(200);
  });

  it('refuses a replayed assertion, even though it is otherwise valid', async () => {
    const { account, key } = await keyAccount();
    const jwt = await assertion(key, account.client_id);
    expect((await tokenWith(jwt)).status).toBe(200);
    expectInvalidClient(await tokenWith(jwt));
    expect(await deniedReason(account.client_id)).toBe('assertion_replayed');
  });

  it('refuses an assertion for another audience, an expired one, and one valid for too long', async () => {
    const { account, key } = await keyAccount();
    expectInvalidClient(await tokenWith(await assertion(key, account.client_id, { aud: 'https://someone-else.example' })));
    expect(await deniedReason(account.client_id)).toBe('assertion_invalid');

    const old = await assertion(key, account.client_id);
    h.clock.advance(120_000);
    expectInvalidClient(await tokenWith(old));
    expect(await deniedReason(account.client_id)).toBe('assertion_expired');

    const nowSeconds = Math.floor(h.clock.now().getTime() / 1000);
    expectInvalidClient(await tokenWith(await assertion(key, account.client_id, { exp: nowSeconds + 3600 })));
  });

  it('refuses an assertion signed by a disabled key, and by a deleted one; a re-enabled key works again', async () => {
    const { account, key, keyRow } = await keyAccount();
    const path = `/service-accounts/${account.id}/keys/${keyRow.id}`;
    expect((await h.admin('PATCH', path, { status: 'disabled' })).body.status).toBe('disabled');
    expectInvalidClient(await tokenWith(await assertion(key, account.client_id)));
    expect(await deniedReason(account.client_id)).toBe('key_disabled');
    expect((await h.admin('PATCH', path, { status: 'active' })).status).toBe(200);
    expect((await tokenWith(await assertion(key, account.client_id))).status).toBe(200);
    expect((await h.admin('DELETE', path)).status).toBe(204);
    expectInvalidClient(await tokenWith(await assertion(key, account.client_id)));
    expect((await h.admin('GET', `/service-accounts/${account.id}/keys`)).body.items).toEqual([]);
  });

  it('refuses a key that is not registered, an unsigned assertion, an HMAC one, and iss differing from sub', async () => {
    const { account, key } = await keyAccount();
    expectInvalidClient(await tokenWith(await assertion(await newKey(), account.client_id)));
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ iss: account.client_id, sub: account.client_id, aud: h.config.issuer, jti: randomUUID(), exp: 9_999_999_999 }),
    ).toString('base64url')}.`;
    expectInvalidClient(await tokenWith(unsigned));
    const hmac = await new SignJWT({ jti: randomUUID() })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(account.client_id)
      .setSubject(account.client_id)
      .setAudience(h.config.issuer)
      .setExpirationTime('1m')
      .sign(new TextEncoder().encode('a-shared-secret-a-shared-secret-!'));
    expectInvalidClient(await tokenWith(hmac));
    expectInvalidClient(await tokenWith(await assertion(key, account.client_id, { sub: 'someone-else' })));
  });

  it('refuses a method the account does not allow: a secret for a key-only account, an assertion for a secret-only one', async () => {
    const secretOnly = await h.createAccount();
    const key = await newKey();
    expect((await h.admin('POST', `/service-accounts/${secretOnly.id}/keys`, { jwk: key.publicJwk })).status).toBe(201);
    expectInvalidClient(await tokenWith(await assertion(key, secretOnly.client_id)));
    expect(await deniedReason(secretOnly.client_id)).toBe('auth_method_not_allowed');
    // Allowing it makes the same key work; the secret keeps working too.
    const patched = await h.admin('PATCH', `/service-accounts/${secretOnly.id}`, {
      token_endpoint_auth_methods: ['client_secret_basic', 'private_key_jwt'],
    });
    expect(patched.status, patched.text).toBe(200);
    expect((await tokenWith(await assertion(key, secretOnly.client_id))).status).toBe(200);
    const basic = await h.token({ grant_type: 'client_credentials' }, { id: secretOnly.client_id, secret: secretOnly.secret.secret });
    expect(basic.status).toBe(200);
    // client_secret_post is no longer allowed.
    const post = await h.token({ grant_type: 'client_credentials', client_id: secretOnly.client_id, client_secret: secretOnly.secret.secret });
    expectInvalidClient(post);
  });

  it('will not drop the secret methods of an account that still holds secrets', async () => {
    const account = await h.createAccount();
    const res = await h.admin('PATCH', `/service-accounts/${account.id}`, { token_endpoint_auth_methods: ['private_key_jwt'] });
    expect(res.status).toBe(409);
    await h.admin('DELETE', `/service-accounts/${account.id}/secrets/${account.secret.id}`);
    expect((await h.admin('PATCH', `/service-accounts/${account.id}`, { token_endpoint_auth_methods: ['private_key_jwt'] })).status).toBe(200);
  });

  it('mixing an assertion with a secret, or a wrong assertion type, is invalid_request', async () => {
    const { account, key } = await keyAccount();
    const jwt = await assertion(key, account.client_id);
    const both = await tokenWith(jwt, { client_secret: 'x'.repeat(40) });
    expect(both.status).toBe(400);
    expect(both.body.error).toBe('invalid_request');
    const wrongType = await h.fetch('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:example:saml', client_assertion: jwt }).toString(),
    });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.error).toBe('invalid_request');
  });

  it('validates registered keys: public only, asymmetric, strong enough, unique kid per account', async () => {
    const account = await h.createAccount();
    const path = `/service-accounts/${account.id}/keys`;
    const bad = async (jwk: unknown) => {
      const res = await h.admin('POST', path, { jwk });
      expect(res.status, res.text).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain('jwk');
    };
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    await bad(await exportJWK(privateKey));
    await bad({ kty: 'oct', k: 'c2VjcmV0' });
    const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    await bad(weakRsa.publicKey.export({ format: 'jwk' }));
    await bad({ ...(await newKey()).publicJwk, alg: 'HS256' });
    await bad('not an object');

    const key = await newKey();
    expect((await h.admin('POST', path, { jwk: { ...key.publicJwk, kid: 'k1' } })).status).toBe(201);
    expect((await h.admin('POST', path, { jwk: { ...(await newKey()).publicJwk, kid: 'k1' } })).status).toBe(409);
  });

  it('lists private_key_jwt and its algorithms in the metadata', async () => {
    const res = await h.fetch('/.well-known/oauth-authorization-server');
    expect(res.body.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
    expect(res.body.token_endpoint_auth_signing_alg_values_supported).toEqual(['RS256', 'PS256', 'ES256', 'EdDSA']);
  });
});

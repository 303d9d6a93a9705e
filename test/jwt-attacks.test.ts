import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader, exportJWK, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyFile } from '../src/tokens/key-file';
import { rotateKey } from '../src/tokens/key-rotation';
import { DATABASE_KINDS } from './support/database';
import { startTestService, type HttpResult, type TestService } from './support/service';

// Forged, foreign and stale access tokens against the admin API, over HTTP. The verification helper has its
// own tests (verify-helper.test.ts); this is the service's own guard in front of every admin operation, which
// must refuse each one with 401, an RFC 9457 problem and an RFC 6750 challenge, whatever the operation.

type SigningKeyLike = Parameters<SignJWT['sign']>[0];

const ALL_ADMIN = ['service-account:read', 'service-account:create', 'service-account:update', 'service-account:delete'];
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const ZERO_ID = '00000000-0000-4000-8000-000000000000';

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const hs256 = (header: object, payload: object, secret: Buffer | string) => {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
};

function expectRefused(res: HttpResult, what: string) {
  expect(res.status, `${what}: ${res.text}`).toBe(401);
  expect(res.headers.get('content-type') ?? '', what).toMatch(/^application\/problem\+json/);
  expect(res.body, what).toMatchObject({ type: expect.any(String), title: expect.any(String), status: 401 });
  expect(res.headers.get('www-authenticate') ?? '', what).toMatch(/^Bearer realm="admin", error="invalid_token"/);
}

describe.each(DATABASE_KINDS)('JWT attacks on the admin API (%s)', (kind) => {
  let h: TestService;
  /** Every admin operation of /openapi.json, its path parameters an unknown id (the guard answers first). */
  let operations: Array<{ method: string; path: string }>;
  let kid: string;
  let publicJwk: JWK;
  /** The service's own private signing key, read from KEYS_DIR: forges tokens with a valid signature. */
  let ownKey: SigningKeyLike;
  let ownJwk: JWK;
  let genuine: JWTPayload;

  beforeAll(async () => {
    h = await startTestService(kind);
    const doc = (await h.fetch('/openapi.json')).body;
    operations = Object.entries<any>(doc.paths)
      .filter(([path]) => path.startsWith('/admin/'))
      .flatMap(([path, item]) =>
        METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path: path.replace(/\{[^}]+\}/g, ZERO_ID) })),
      );
    const token = await h.adminToken();
    genuine = decodeJwt(token);
    kid = decodeProtectedHeader(token).kid!;
    publicJwk = (await h.fetch('/.well-known/jwks.json')).body.keys.find((k: JWK) => k.kid === kid);
    const [file] = await readdir(h.config.keysDir);
    const record = parseKeyFile(await readFile(join(h.config.keysDir, file!), 'utf8'));
    ownJwk = record.jwk;
    ownKey = await importJWK(record.jwk, record.alg);
  });
  afterAll(() => h?.close());

  /** The genuine admin token's claims, renewed at the test clock's now. */
  const claims = (extra: JWTPayload = {}): JWTPayload => {
    const now = Math.floor(h.clock.now().getTime() / 1000);
    return { ...genuine, iat: now, exp: now + 900, jti: crypto.randomUUID(), ...extra };
  };
  const signed = (key: SigningKeyLike, header: Record<string, unknown>, payload: JWTPayload) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid, ...header } as any).sign(key);

  /** Signed by our key without jose, which refuses to sign what it could not verify (an unknown `crit`). */
  const rs256 = (header: object, payload: object) => {
    const input = `${b64url(header)}.${b64url(payload)}`;
    return `${input}.${sign('sha256', Buffer.from(input), createPrivateKey({ key: ownJwk as any, format: 'jwk' })).toString('base64url')}`;
  };

  /** Refused on every admin operation, each with a body it would otherwise take. */
  async function expectRefusedEverywhere(token: string, what: string) {
    for (const op of operations) {
      const body = op.method === 'GET' || op.method === 'DELETE' ? undefined : {};
      expectRefused(await h.admin(op.method, op.path.replace('/admin/v1', ''), body, token), `${what} on ${op.method} ${op.path}`);
    }
  }

  it('finds every admin operation in /openapi.json, and the genuine token passes the guard on each', async () => {
    expect(operations.length).toBeGreaterThanOrEqual(17);
    expect(publicJwk).toMatchObject({ kty: 'RSA', kid });
    const token = await h.adminToken();
    for (const op of operations) {
      const res = await h.admin(op.method, op.path.replace('/admin/v1', ''), op.method === 'GET' || op.method === 'DELETE' ? undefined : {}, token);
      expect([200, 201, 204, 400, 404, 409], `${op.method} ${op.path}: ${res.text}`).toContain(res.status);
    }
  });

  it('refuses an unsigned token (alg none), however its header is spelled', async () => {
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const token = `${b64url({ alg, typ: 'at+jwt', kid })}.${b64url(claims())}.`;
      await expectRefusedEverywhere(token, `alg ${alg}`);
      await expectRefusedEverywhere(`${token}${b64url('x')}`, `alg ${alg} with a signature`);
    }
  });

  it('refuses HS256 tokens keyed with the public key: as PEM, as JWK JSON, as the raw modulus', async () => {
    const pem = createPublicKey({ key: publicJwk as any, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
    const pkcs1 = createPublicKey({ key: publicJwk as any, format: 'jwk' }).export({ format: 'pem', type: 'pkcs1' }).toString();
    const secrets: Array<[string, Buffer | string]> = [
      ['SPKI PEM', pem],
      ['SPKI PEM without its final newline', pem.trimEnd()],
      ['PKCS#1 PEM', pkcs1],
      ['JWK JSON', JSON.stringify(publicJwk)],
      ['JWKS JSON', JSON.stringify({ keys: [publicJwk] })],
      ['the modulus', Buffer.from(publicJwk.n!, 'base64url')],
      ['the modulus as base64url text', publicJwk.n!],
      ['the DER', createPublicKey({ key: publicJwk as any, format: 'jwk' }).export({ format: 'der', type: 'spki' })],
    ];
    for (const [what, secret] of secrets) {
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        const header = { alg, typ: 'at+jwt', kid };
        const input = `${b64url(header)}.${b64url(claims())}`;
        const hash = alg === 'HS256' ? 'sha256' : alg === 'HS384' ? 'sha384' : 'sha512';
        const token = `${input}.${createHmac(hash, secret).update(input).digest('base64url')}`;
        await expectRefusedEverywhere(token, `${alg} keyed with ${what}`);
      }
    }
    // And the plain HS256 helper, for good measure, with the kid left out.
    await expectRefusedEverywhere(hs256({ alg: 'HS256', typ: 'at+jwt' }, claims(), pem), 'HS256 without kid');
  });

  it('refuses a token signed by a stranger: a correct-looking kid, an unknown kid, no kid, its key embedded in the header', async () => {
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const strangerJwk = await exportJWK(stranger.publicKey);
    const forged = async (header: Record<string, unknown>, payload = claims()) => signed(stranger.privateKey, header, payload);
    const cases: Array<[string, string]> = [
      ['our kid, our issuer, admin scopes', await forged({})],
      ['our kid, another issuer', await forged({}, claims({ iss: 'https://evil.example' }))],
      ['an unknown kid', await forged({ kid: 'not-a-key-of-ours' })],
      ['no kid', await forged({ kid: undefined })],
      ['its own key as a jwk header', await forged({ kid: undefined, jwk: strangerJwk })],
      ['its own key as a jwk header, our kid', await forged({ jwk: { ...strangerJwk, kid } })],
      ['a jku header', await forged({ jku: 'https://evil.example/jwks.json' })],
      ['an x5u header', await forged({ x5u: 'https://evil.example/cert.pem' })],
    ];
    for (const [what, token] of cases) await expectRefusedEverywhere(token, what);
  });

  it('refuses a genuine signature on the wrong kind of token: typ JWT or none, another audience or issuer, an unknown client, an unknown critical header, another RSA algorithm', async () => {
    const cases: Array<[string, string]> = [
      ['typ JWT', await signed(ownKey, { typ: 'JWT' }, claims())],
      ['no typ', await signed(ownKey, { typ: undefined }, claims())],
      ['typ dpop+jwt', await signed(ownKey, { typ: 'dpop+jwt' }, claims())],
      ['another audience', await signed(ownKey, {}, claims({ aud: 'https://orders.example.com' }))],
      ['no audience', await signed(ownKey, {}, claims({ aud: undefined }))],
      ['another issuer', await signed(ownKey, {}, claims({ iss: 'https://evil.example' }))],
      ['no exp', await signed(ownKey, {}, claims({ exp: undefined }))],
      ['not yet valid (nbf in an hour)', await signed(ownKey, {}, claims({ nbf: Math.floor(h.clock.now().getTime() / 1000) + 3600 }))],
      ['a client_id naming no account', await signed(ownKey, {}, claims({ client_id: 'sa_nobody', sub: 'sa_nobody' }))],
      ['no client_id', await signed(ownKey, {}, claims({ client_id: undefined }))],
      ['a client_id that is not a string', await signed(ownKey, {}, claims({ client_id: ['test-admin'] as any }))],
      ['an unknown critical header', rs256({ alg: 'RS256', typ: 'at+jwt', kid, crit: ['x-must-understand'], 'x-must-understand': true }, claims())],
      ['a cnf other than jkt', await signed(ownKey, {}, claims({ cnf: { x5t: 'abc' } as any }))],
      [
        'RS384 by our own key',
        await new SignJWT(claims())
          .setProtectedHeader({ alg: 'RS384', typ: 'at+jwt', kid })
          .sign(await importJWK({ ...ownJwk, alg: 'RS384' }, 'RS384')),
      ],
    ];
    for (const [what, token] of cases) await expectRefusedEverywhere(token, what);
    // The same forgery with every claim right is accepted: each case above fails for its one reason.
    expect((await h.admin('GET', '/service-accounts', undefined, await signed(ownKey, {}, claims()))).status).toBe(200);
  });

  it('refuses a token whose account was disabled, revoked or deleted since', async () => {
    const tokenOf = async (account: any) => {
      const res = await h.token({ grant_type: 'client_credentials' }, { id: account.client_id, secret: account.secret.secret });
      expect(res.status, res.text).toBe(200);
      return res.body.access_token as string;
    };
    const admins = await Promise.all([0, 1, 2].map(() => h.createAccount({ scopes: ALL_ADMIN, audiences: [h.config.adminAudience] })));
    const tokens = await Promise.all(admins.map(tokenOf));
    for (const token of tokens) expect((await h.admin('GET', '/service-accounts?limit=1', undefined, token)).status).toBe(200);
    expect((await h.admin('PATCH', `/service-accounts/${admins[0].id}`, { status: 'disabled' })).status).toBe(200);
    expect((await h.admin('POST', `/service-accounts/${admins[1].id}/revoke`)).status).toBe(200);
    expect((await h.admin('DELETE', `/service-accounts/${admins[2].id}`)).status).toBe(204);
    await expectRefusedEverywhere(tokens[0]!, 'a disabled account’s token');
    await expectRefusedEverywhere(tokens[1]!, 'a revoked account’s token');
    await expectRefusedEverywhere(tokens[2]!, 'a deleted account’s token');
  });

  it('refuses a token whose secret was revoked or disabled since, as introspection does', async () => {
    const account = await h.createAccount({ scopes: ALL_ADMIN, audiences: [h.config.adminAudience] });
    const other = await h.admin('POST', `/service-accounts/${account.id}/secrets`, {});
    expect(other.status, other.text).toBe(201);
    const tokenWith = async (secret: string) => {
      const res = await h.token({ grant_type: 'client_credentials' }, { id: account.client_id, secret });
      expect(res.status, res.text).toBe(200);
      return res.body.access_token as string;
    };
    const first = await tokenWith(account.secret.secret);
    const second = await tokenWith(other.body.secret);
    expect((await h.admin('PATCH', `/service-accounts/${account.id}/secrets/${other.body.id}`, { status: 'disabled' })).status).toBe(200);
    expect((await h.admin('DELETE', `/service-accounts/${account.id}/secrets/${account.secret.id}`)).status).toBe(204);
    await expectRefusedEverywhere(first, 'a token of a revoked secret');
    await expectRefusedEverywhere(second, 'a token of a disabled secret');
    // Re-enabled, the secret's tokens work again (a disabled secret may come back; a revoked one never does).
    expect((await h.admin('PATCH', `/service-accounts/${account.id}/secrets/${other.body.id}`, { status: 'active' })).status).toBe(200);
    expect((await h.admin('GET', '/service-accounts?limit=1', undefined, second)).status).toBe(200);
  });

  it('refuses an expired token, by the clock alone', async () => {
    const token = await h.adminToken();
    const { exp } = decodeJwt(token);
    h.clock.current = new Date(exp! * 1000 - 1000);
    expect((await h.admin('GET', '/service-accounts?limit=1', undefined, token)).status).toBe(200);
    h.clock.current = new Date(exp! * 1000);
    await expectRefusedEverywhere(token, 'an expired token');
  });

  it('refuses a token signed by a key that was retired and has left the JWKS, however fresh its claims', async () => {
    const oldKey = ownKey;
    const oldKid = kid;
    // A rotation with nothing to wait for: the new key signs at once, the old one retires now.
    await rotateKey({ dir: h.config.keysDir, maxTokenTtlSeconds: h.config.maxTokenTtlSeconds }, { alg: 'RS256', propagationSeconds: 0, now: h.clock.now() });
    await h.service.keys.reload();
    const newKid = decodeProtectedHeader(await h.adminToken()).kid;
    expect(newKid).not.toBe(oldKid);
    // Published until every token it signed has expired (MAX_TOKEN_TTL_SECONDS and a margin), then dropped.
    h.clock.advance((h.config.maxTokenTtlSeconds + 120) * 1000);
    const published = (await h.fetch('/.well-known/jwks.json')).body.keys.map((k: JWK) => k.kid);
    expect(published).toEqual([newKid]);
    await expectRefusedEverywhere(await signed(oldKey, { kid: oldKid }, claims()), 'a dropped key’s fresh token');
    await expectRefusedEverywhere(await signed(oldKey, { kid: newKid }, claims()), 'a dropped key’s token under the new kid');
    expect((await h.admin('GET', '/service-accounts?limit=1')).status).toBe(200);
  });
});

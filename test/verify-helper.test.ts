import { createPublicKey, randomUUID, type JsonWebKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import fc from 'fast-check';
import { Hono } from 'hono';
import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  accessTokenHash,
  createVerifier,
  errorResponse,
  TokenVerificationError,
  verifyExpress,
  verifyHono,
  type TokenVariables,
  type Verifier,
} from '../src/verify';
import { DATABASE_KINDS } from './support/database';
import { proofKey, signProof, type ProofKey } from './support/dpop-proof';
import { basicAuth, type HttpResult, startTestService, type TestService } from './support/service';

const API = 'https://api.example.com';
const OTHER_API = 'https://other.example.com';
const grant = { grant_type: 'client_credentials' };
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** What a refused verification looks like: the error's code, and the HTTP answer a resource API gives. */
async function refusal(promise: Promise<unknown>) {
  const error = await promise.then(
    () => {
      throw new Error('expected the token to be refused');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TokenVerificationError);
  const e = error as TokenVerificationError;
  return { code: e.code, ...errorResponse(e, { dpopAlgorithms: ['ES256'] }) };
}

/** An issuer of our own: a key pair and its JWKS on a tiny local HTTP server, to sign tokens the service would not. */
async function ownIssuer() {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'own-key', alg: 'RS256', use: 'sig' };
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(req.url === '/jwks.json' ? { keys: [jwk] } : {}));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const now = () => Math.floor(Date.now() / 1000);
  return {
    url,
    issuer: url,
    jwksUri: `${url}/jwks.json`,
    /** RFC 9068 claims signed by our key; `claims` and `header` override, `undefined` removes. */
    sign(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}) {
      const payload: Record<string, unknown> = {
        iss: url, aud: API, sub: 'sa_own', client_id: 'sa_own', jti: randomUUID(), iat: now(), exp: now() + 300,
        scope: 'invoices:read', ...claims,
      };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const protectedHeader = { alg: 'RS256', typ: 'at+jwt', kid: 'own-key', ...header };
      for (const [k, v] of Object.entries(protectedHeader)) if (v === undefined) delete (protectedHeader as Record<string, unknown>)[k];
      return new SignJWT(payload).setProtectedHeader(protectedHeader as { alg: string }).sign(privateKey);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Serves `fetch` (a Hono app) or a node request listener (an Express app) on a free loopback port. */
async function listen(app: { fetch: (req: Request) => Response | Promise<Response> } | express.Express) {
  let server: Server;
  if ('listen' in app) {
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
  } else {
    server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
  }
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe.each(DATABASE_KINDS)('verifying tokens in a resource API (%s)', (kind) => {
  let h: TestService;
  let own: Awaited<ReturnType<typeof ownIssuer>>;
  let verifier: Verifier;
  let jwksUri: string;

  beforeAll(async () => {
    h = await startTestService(kind);
    own = await ownIssuer();
    jwksUri = `${h.url}/.well-known/jwks.json`;
    verifier = createVerifier({ issuer: h.config.issuer, audience: API, clock: h.clock.now });
  });
  afterAll(async () => {
    await own?.close();
    await h?.close();
  });

  const nowSeconds = () => Math.floor(h.clock.now().getTime() / 1000);

  /** A fresh account (by default allowed invoices:read and invoices:write for API) and a token from the endpoint. */
  async function tokenFor(input: Record<string, unknown> = {}, form: Record<string, string> = {}, dpop?: string) {
    const account = await h.createAccount({ scopes: ['invoices:read', 'invoices:write'], audiences: [API], ...input });
    const res: HttpResult = await h.fetch('/oauth/token', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(account.client_id, account.secret.secret),
        ...(dpop !== undefined ? { dpop } : {}),
      },
      body: new URLSearchParams({ ...grant, ...form }).toString(),
    });
    if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
    return { account, token: res.body.access_token as string };
  }

  /** A DPoP-bound token: the token request carries a proof of `key`. */
  async function dpopToken(key: ProofKey, form: Record<string, string> = {}) {
    const proof = await signProof(key, { htm: 'POST', htu: `${h.config.issuer}/oauth/token`, iat: nowSeconds() });
    return tokenFor({}, form, proof);
  }

  describe('RFC 9068 access tokens', () => {
    it('accepts a token of the service, found through discovery, and returns its claims typed', async () => {
      const { account, token } = await tokenFor({}, { scope: 'invoices:read invoices:write' });
      const claims = await verifier.verify(token);
      const now = nowSeconds();
      expect(claims).toMatchObject({
        iss: h.config.issuer,
        sub: account.client_id,
        client_id: account.client_id,
        aud: API,
        scope: ['invoices:read', 'invoices:write'],
        iat: now,
        exp: now + 900,
        jti: decodeJwt(token).jti,
      });
      expect(claims).not.toHaveProperty('cnf');
      // The same through verifyRequest, and with an explicit jwksUri instead of discovery.
      await expect(verifier.verifyRequest({ authorization: `Bearer ${token}`, method: 'GET', url: `${API}/x` })).resolves.toMatchObject({ jti: claims.jti });
      const explicit = createVerifier({ issuer: h.config.issuer, audience: [OTHER_API, API], jwksUri, clock: h.clock.now });
      await expect(explicit.verify(token)).resolves.toMatchObject({ client_id: account.client_id });
    });

    it('refuses a token for another audience', async () => {
      const { token } = await tokenFor({ audiences: [OTHER_API] });
      const r = await refusal(verifier.verify(token));
      expect(r.code).toBe('audience_mismatch');
      expect(r.status).toBe(401);
      expect(r.body.error).toBe('invalid_token');
      expect(r.headers['www-authenticate']).toMatch(/^Bearer error="invalid_token", error_description="[^"]+"$/);
    });

    it('refuses a token of another issuer, even when signed by a key the verifier fetches', async () => {
      const { token } = await tokenFor();
      const elsewhere = createVerifier({ issuer: 'https://auth.other.example', audience: API, jwksUri, clock: h.clock.now });
      expect((await refusal(elsewhere.verify(token))).code).toBe('issuer_mismatch');
      const ownVerifier = createVerifier({ issuer: own.issuer, audience: API, jwksUri: own.jwksUri });
      expect((await refusal(ownVerifier.verify(await own.sign({ iss: 'https://auth.other.example' })))).code).toBe('issuer_mismatch');
    });

    it('refuses an expired token, allowing clockTolerance seconds of skew', async () => {
      const { token } = await tokenFor();
      const { exp } = decodeJwt(token);
      const at = (seconds: number, clockTolerance?: number) =>
        createVerifier({ issuer: h.config.issuer, audience: API, jwksUri, clockTolerance, clock: () => new Date(seconds * 1000) });
      await expect(at(exp! - 1).verify(token)).resolves.toBeDefined();
      await expect(at(exp! + 4).verify(token)).resolves.toBeDefined(); // default tolerance: 5 s
      const r = await refusal(at(exp! + 5).verify(token));
      expect(r.code).toBe('token_expired');
      expect(r.status).toBe(401);
      expect((await refusal(at(exp!, 0).verify(token))).code).toBe('token_expired');

      // The service's clock moves on: the verifier sharing it sees the token expire.
      h.clock.advance(906_000);
      expect((await refusal(verifier.verify(token))).code).toBe('token_expired');
    });

    it('refuses a token issued in the future (iat) or not valid yet (nbf)', async () => {
      const { token } = await tokenFor();
      const { iat } = decodeJwt(token);
      const early = createVerifier({ issuer: h.config.issuer, audience: API, jwksUri, clock: () => new Date((iat! - 60) * 1000) });
      expect((await refusal(early.verify(token))).code).toBe('token_not_yet_valid');

      const ownVerifier = createVerifier({ issuer: own.issuer, audience: API, jwksUri: own.jwksUri });
      expect((await refusal(ownVerifier.verify(await own.sign({ nbf: Math.floor(Date.now() / 1000) + 60 })))).code).toBe('token_not_yet_valid');
    });

    it('refuses alg none, whatever the caller allows', async () => {
      const { token } = await tokenFor();
      const [, payload] = token.split('.') as [string, string];
      const unsigned = `${b64({ alg: 'none', typ: 'at+jwt' })}.${payload}.`;
      expect((await refusal(verifier.verify(unsigned))).code).toBe('alg_not_allowed');
      const permissive = createVerifier({ issuer: h.config.issuer, audience: API, algorithms: ['none', 'RS256'], clock: h.clock.now });
      expect(permissive.algorithms).toEqual(['RS256']);
      expect((await refusal(permissive.verify(unsigned))).code).toBe('alg_not_allowed');
    });

    it('refuses an HS256 token whose MAC key is the bytes of the public signing key', async () => {
      const { token } = await tokenFor();
      const { kid } = decodeProtectedHeader(token);
      const jwks = (await h.fetch('/.well-known/jwks.json')).body.keys as JWK[];
      const publicJwk = jwks.find((k) => k.kid === kid)!;
      const pem = createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
      for (const secret of [Buffer.from(pem), Buffer.from(JSON.stringify(publicJwk)), Buffer.from(publicJwk.n!, 'base64url')]) {
        const forged = await new SignJWT(decodeJwt(token)).setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid }).sign(secret);
        const permissive = createVerifier({ issuer: h.config.issuer, audience: API, algorithms: ['HS256', 'RS256'], clock: h.clock.now });
        expect((await refusal(verifier.verify(forged))).code).toBe('alg_not_allowed');
        expect((await refusal(permissive.verify(forged))).code).toBe('alg_not_allowed');
      }
    });

    it('refuses a token whose kid names no key of the JWKS', async () => {
      const { token } = await tokenFor();
      const claims = decodeJwt(token);
      const { privateKey } = await generateKeyPair('RS256');
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: 'no-such-key' }).sign(privateKey);
      const r = await refusal(verifier.verify(forged));
      expect(r.code).toBe('token_unknown_key');
      expect(r.status).toBe(401);
      // With the kid of a real key but another signer: a bad signature.
      const impostor = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid! })
        .sign(privateKey);
      expect((await refusal(verifier.verify(impostor))).code).toBe('token_invalid_signature');
    });

    it('refuses a token whose typ is not at+jwt; accepts application/at+jwt', async () => {
      const ownVerifier = createVerifier({ issuer: own.issuer, audience: API, jwksUri: own.jwksUri });
      await expect(ownVerifier.verify(await own.sign())).resolves.toMatchObject({ client_id: 'sa_own', scope: ['invoices:read'] });
      await expect(ownVerifier.verify(await own.sign({}, { typ: 'application/at+jwt' }))).resolves.toBeDefined();
      for (const typ of ['JWT', 'dpop+jwt', 'application/jwt', undefined]) {
        expect((await refusal(ownVerifier.verify(await own.sign({}, { typ })))).code).toBe('typ_invalid');
      }
    });

    it('refuses a token lacking a required claim (sub, client_id, jti, exp, iat) or with a malformed one', async () => {
      const ownVerifier = createVerifier({ issuer: own.issuer, audience: API, jwksUri: own.jwksUri });
      for (const claim of ['sub', 'client_id', 'jti', 'exp', 'iat']) {
        expect((await refusal(ownVerifier.verify(await own.sign({ [claim]: undefined })))).code).toBe('token_malformed');
      }
      expect((await refusal(ownVerifier.verify(await own.sign({ scope: ['invoices:read'] })))).code).toBe('token_malformed');
      expect((await refusal(ownVerifier.verify(await own.sign({ client_id: 42 })))).code).toBe('token_malformed');
      expect((await refusal(ownVerifier.verify(await own.sign({ authorization_details: [{ no: 'type' }] })))).code).toBe('token_malformed');
      await expect(
        ownVerifier.verify(await own.sign({ org_id: 'org_1', authorization_details: [{ type: 'invoice', actions: ['read'] }] })),
      ).resolves.toMatchObject({ org_id: 'org_1', authorization_details: [{ type: 'invoice', actions: ['read'] }] });
    });

    it('refuses a tampered token, garbage, and a request without a token', async () => {
      const { token } = await tokenFor();
      const [header, payload, signature] = token.split('.') as [string, string, string];
      const widened = b64({ ...decodeJwt(token), scope: 'invoices:read invoices:write admin' });
      expect((await refusal(verifier.verify(`${header}.${widened}.${signature}`))).code).toBe('token_invalid_signature');
      expect((await refusal(verifier.verify(`${header}.${payload}.${signature.slice(0, -4)}AAAA`))).code).toBe('token_invalid_signature');
      for (const garbage of ['not-a-jwt', 'a.b.c', `${header}.${payload}`, `${token}.x.y`]) {
        expect((await refusal(verifier.verify(garbage))).code).toBe('token_malformed');
      }

      for (const authorization of [undefined, '', 'Basic dXNlcjpwYXNz']) {
        const r = await refusal(verifier.verifyRequest({ authorization, method: 'GET', url: `${API}/x` }));
        expect(r.code).toBe('token_missing');
        expect(r.status).toBe(401);
        // RFC 6750 §3.1: no error code when the request carries no token; a DPoP challenge offers the algs.
        expect(r.headers['www-authenticate']).toBe('Bearer, DPoP algs="ES256"');
      }
      expect((await refusal(verifier.verifyRequest({ authorization: 'Bearer', method: 'GET', url: API }))).code).toBe('token_malformed');
      expect((await refusal(verifier.verifyRequest({ authorization: `Bearer ${token} x`, method: 'GET', url: API }))).code).toBe('token_malformed');
      // The scheme is case-insensitive.
      await expect(verifier.verifyRequest({ authorization: `bearer ${token}`, method: 'GET', url: API })).resolves.toBeDefined();
    });

    it('answers jwks_unavailable (503, no challenge) when the issuer cannot be reached', async () => {
      const { token } = await tokenFor();
      const down = createVerifier({ issuer: 'http://127.0.0.1:9', audience: API, clock: h.clock.now });
      const r = await refusal(down.verify(token));
      expect(r.code).toBe('jwks_unavailable');
      expect(r.status).toBe(503);
      expect(r.headers).not.toHaveProperty('www-authenticate');
      expect(r.body.error).toBe('temporarily_unavailable');
      await expect(down.ready()).rejects.toMatchObject({ code: 'jwks_unavailable' });

      const noJwks = createVerifier({ issuer: h.config.issuer, audience: API, jwksUri: 'http://127.0.0.1:9/jwks.json', clock: h.clock.now });
      expect((await refusal(noJwks.verify(token))).code).toBe('jwks_unavailable');
      await expect(verifier.ready()).resolves.toBeUndefined();
    });
  });

  describe('input from strangers', () => {
    /** Any header value, or a compact JWS of any JSON header and payload: refused with a TokenVerificationError, never thrown otherwise. */
    it('refuses any Authorization and DPoP header it cannot verify, with a TokenVerificationError', async () => {
      const { token } = await tokenFor();
      const [, , signature] = token.split('.') as [string, string, string];
      const json = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 });
      const header = fc.oneof(
        json,
        json.map((extra) => ({ alg: 'RS256', typ: 'at+jwt', kid: decodeProtectedHeader(token).kid, ...extra })),
      );
      const jws = fc.tuple(header, json).map(([hd, pl]) => `${b64(hd)}.${b64(pl)}.${signature}`);
      const authorization = fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.tuple(fc.constantFrom('Bearer', 'DPoP', 'bearer', 'Basic'), fc.oneof(jws, fc.string({ maxLength: 100 }))).map(([scheme, t]) => `${scheme} ${t}`),
      );
      await fc.assert(
        fc.asyncProperty(authorization, fc.option(fc.oneof(fc.string({ maxLength: 100 }), jws)), async (auth, dpop) => {
          const error = await verifier.verifyRequest({ authorization: auth, dpop, method: 'GET', url: `${API}/x` }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(error).toBeInstanceOf(TokenVerificationError);
          expect([401, 403]).toContain((error as TokenVerificationError).status);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('scopes', () => {
    it('refuses a token lacking a required scope with 403 insufficient_scope naming the scopes needed', async () => {
      const { token } = await tokenFor({}, { scope: 'invoices:read' });
      await expect(verifier.verify(token, { scopes: ['invoices:read'] })).resolves.toBeDefined();
      const r = await refusal(verifier.verify(token, { scopes: ['invoices:read', 'invoices:write'] }));
      expect(r.code).toBe('insufficient_scope');
      expect(r.status).toBe(403);
      expect(r.body).toEqual({ error: 'insufficient_scope', error_description: expect.stringContaining('invoices:write') });
      expect(r.headers['www-authenticate']).toMatch(/^Bearer error="insufficient_scope", error_description="[^"]+", scope="invoices:read invoices:write"$/);

      // Scopes of the verifier and of the call add up; a token without any scope holds none.
      const strict = createVerifier({ issuer: h.config.issuer, audience: API, requiredScopes: ['invoices:write'], clock: h.clock.now });
      expect((await refusal(strict.verify(token))).code).toBe('insufficient_scope');
      const { token: bare } = await tokenFor({ scopes: [] });
      await expect(verifier.verify(bare)).resolves.toMatchObject({ scope: [] });
      expect((await refusal(verifier.verify(bare, { scopes: ['invoices:read'] }))).code).toBe('insufficient_scope');
    });
  });

  describe('DPoP-bound tokens (RFC 9449)', () => {
    const url = `${API}/invoices`;
    const request = async (key: ProofKey, token: string, claims: Record<string, unknown> = {}) => ({
      authorization: `DPoP ${token}`,
      dpop: await signProof(key, { htm: 'GET', htu: url, iat: nowSeconds(), ath: accessTokenHash(token), ...claims }),
      method: 'GET',
      url,
    });

    it('accepts the token with a proof of its key for this request, and returns cnf.jkt', async () => {
      const key = await proofKey();
      const { token } = await dpopToken(key, { scope: 'invoices:read' });
      const claims = await verifier.verifyRequest(await request(key, token), { scopes: ['invoices:read'] });
      expect(claims.cnf).toEqual({ jkt: key.jkt });
      // htu is compared without query and fragment.
      await expect(verifier.verifyRequest({ ...(await request(key, token)), url: `${url}?page=2` })).resolves.toBeDefined();
    });

    it('refuses the token with the Bearer scheme, or verified as a bare token', async () => {
      const key = await proofKey();
      const { token } = await dpopToken(key);
      const asBearer = await refusal(verifier.verifyRequest({ ...(await request(key, token)), authorization: `Bearer ${token}` }));
      expect(asBearer.code).toBe('dpop_required');
      expect(asBearer.status).toBe(401);
      expect(asBearer.headers['www-authenticate']).toMatch(/^DPoP error="invalid_token", error_description="[^"]+", algs="ES256"$/);
      expect((await refusal(verifier.verify(token))).code).toBe('dpop_required');
    });

    it('refuses a proof for another URL or method, with a wrong ath, by another key, replayed, stale or missing', async () => {
      const key = await proofKey();
      const { token } = await dpopToken(key);
      const { token: otherToken } = await dpopToken(key);
      const refused = async (input: Promise<Parameters<Verifier['verifyRequest']>[0]>) => {
        const r = await refusal(verifier.verifyRequest(await input));
        expect(r.code).toBe('dpop_invalid');
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toMatch(/^DPoP error="invalid_dpop_proof", error_description="[^"]+", algs="ES256"$/);
      };
      await refused(request(key, token, { htu: `${API}/payments` }));
      await refused(request(key, token, { htu: `${OTHER_API}/invoices` }));
      await refused(request(key, token, { htm: 'POST' }));
      await refused(request(key, token, { ath: accessTokenHash(otherToken) }));
      await refused(request(key, token, { ath: undefined }));
      await refused(request(key, token, { iat: nowSeconds() - 301 }));
      await refused(request(key, token, { iat: nowSeconds() + 61 }));
      await refused(request(await proofKey(), token));
      await refused(Promise.resolve({ authorization: `DPoP ${token}`, method: 'GET', url }));
      const once = await request(key, token);
      await expect(verifier.verifyRequest(once)).resolves.toBeDefined();
      await refused(Promise.resolve(once));
      // Two proofs in one request.
      const [a, b] = [await request(key, token), await request(key, token)];
      await refused(Promise.resolve({ ...a, dpop: [a.dpop, b.dpop] }));
    });

    it('refuses a token that is not DPoP-bound presented with the DPoP scheme', async () => {
      const key = await proofKey();
      const { token } = await tokenFor();
      const r = await refusal(verifier.verifyRequest(await request(key, token)));
      expect(r.code).toBe('dpop_invalid');
    });
  });

  describe('middleware over HTTP', () => {
    const apps: { close(): Promise<void> }[] = [];
    afterAll(async () => {
      for (const app of apps) await app.close();
    });

    /** The same three checks for a Hono and an Express app, served for real. */
    async function exercise(base: string) {
      const get = (headers: Record<string, string> = {}) => fetch(`${base}/invoices?page=1`, { headers });
      const { account, token } = await tokenFor({}, { scope: 'invoices:read' });
      const ok = await get({ authorization: `Bearer ${token}` });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ client_id: account.client_id, scope: ['invoices:read'] });

      const none = await get();
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="invoices", DPoP realm="invoices", algs="ES256 EdDSA RS256 PS256"');
      expect(none.headers.get('cache-control')).toBe('no-store');
      expect(await none.json()).toMatchObject({ error: 'invalid_request' });

      const foreign = await get({ authorization: `Bearer ${(await tokenFor({ audiences: [OTHER_API] })).token}` });
      expect(foreign.status).toBe(401);
      expect(foreign.headers.get('www-authenticate')).toMatch(/^Bearer realm="invoices", error="invalid_token"/);
      expect(await foreign.json()).toEqual({ error: 'invalid_token', error_description: expect.any(String) });

      const writer = await get({ authorization: `Bearer ${(await tokenFor({}, { scope: 'invoices:write' })).token}` });
      expect(writer.status).toBe(403);
      expect(writer.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="invoices:read"$/);
      expect(((await writer.json()) as { error: string }).error).toBe('insufficient_scope');

      // DPoP over the wire: the proof names the URL the client called.
      const key = await proofKey();
      const { token: bound } = await dpopToken(key, { scope: 'invoices:read' });
      const proof = await signProof(key, { htm: 'GET', htu: `${base}/invoices`, iat: nowSeconds(), ath: accessTokenHash(bound) });
      const dpopOk = await get({ authorization: `DPoP ${bound}`, dpop: proof });
      expect(dpopOk.status).toBe(200);
      const asBearer = await get({ authorization: `Bearer ${bound}` });
      expect(asBearer.status).toBe(401);
      expect(asBearer.headers.get('www-authenticate')).toMatch(/^DPoP realm="invoices", error="invalid_token"/);
      const wrongUrl = await signProof(key, { htm: 'GET', htu: `${base}/payments`, iat: nowSeconds(), ath: accessTokenHash(bound) });
      const refused = await get({ authorization: `DPoP ${bound}`, dpop: wrongUrl });
      expect(refused.status).toBe(401);
      expect(((await refused.json()) as { error: string }).error).toBe('invalid_dpop_proof');
    }

    it('verifyHono sets c.var.token and answers 401/403 with a challenge', async () => {
      const app = new Hono<{ Variables: TokenVariables }>();
      app.get('/invoices', verifyHono(verifier, { scopes: ['invoices:read'], realm: 'invoices' }), (c) =>
        c.json({ client_id: c.var.token.client_id, scope: c.get('token').scope }),
      );
      const served = await listen(app);
      apps.push(served);
      await exercise(served.url);
    });

    it('verifyExpress sets req.token and answers 401/403 with a challenge', async () => {
      const app = express();
      app.get('/invoices', verifyExpress(verifier, { scopes: ['invoices:read'], realm: 'invoices' }), (req, res) => {
        res.json({ client_id: req.token!.client_id, scope: req.token!.scope });
      });
      const served = await listen(app);
      apps.push(served);
      await exercise(served.url);
    });

    it('compares htu with publicOrigin when a proxy sits in front', async () => {
      const app = new Hono<{ Variables: TokenVariables }>();
      app.get('/invoices', verifyHono(verifier, { publicOrigin: API }), (c) => c.json({ jkt: c.var.token.cnf?.jkt }));
      const served = await listen(app);
      apps.push(served);
      const key = await proofKey();
      const { token } = await dpopToken(key);
      const call = async (htu: string) =>
        fetch(`${served.url}/invoices`, {
          headers: { authorization: `DPoP ${token}`, dpop: await signProof(key, { htm: 'GET', htu, iat: nowSeconds(), ath: accessTokenHash(token) }) },
        });
      const ok = await call(`${API}/invoices`);
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ jkt: key.jkt });
      expect((await call(`${served.url}/invoices`)).status).toBe(401);
    });
  });
});

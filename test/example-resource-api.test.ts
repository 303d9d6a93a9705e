import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenHash } from '../src/verify';
import { basicAuth, startTestService, TestClock, type TestService } from './support/service';

const API = 'https://api.example.com';
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Starts examples/resource-api/server.ts as its own process and resolves with the URL it prints. */
function startExample(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/resource-api/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the example did not start:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1]!, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the example exited with ${code}:\n${output}`));
    });
  });
}

describe('the example resource API, as a child process, with tokens from the service over HTTP', () => {
  let h: TestService;
  let example: Awaited<ReturnType<typeof startExample>>;

  beforeAll(async () => {
    // The example checks tokens against the real clock: the service issues them at the real time too.
    h = await startTestService('pglite', {}, { clock: new TestClock(new Date()) });
    example = await startExample({ ISSUER: h.config.issuer, AUDIENCE: API, PORT: '0' });
  });
  afterAll(async () => {
    if (example?.child.exitCode === null) {
      const exited = new Promise((resolve) => example.child.once('exit', resolve));
      example.child.kill('SIGTERM');
      await exited;
    }
    await h?.close();
  });

  /** A token of a fresh account allowed `scopes` for `audiences`, fetched from the token endpoint. */
  async function token(scopes: string[], audiences = [API], dpop?: string): Promise<string> {
    const account = await h.createAccount({ scopes, audiences });
    const res = await fetch(`${h.url}/oauth/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(account.client_id, account.secret.secret),
        ...(dpop ? { dpop } : {}),
      },
      body: 'grant_type=client_credentials',
    });
    const body = (await res.json()) as { access_token: string };
    expect(res.status).toBe(200);
    return body.access_token;
  }

  const invoices = (headers: Record<string, string> = {}) => fetch(`${example.url}/invoices`, { headers });

  it('answers 200 with the invoices for a token holding invoices:read', async () => {
    const res = await invoices({ authorization: `Bearer ${await token(['invoices:read'])}` });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { client_id: string; invoices: unknown[] };
    expect(body.client_id).toMatch(/^sa_/);
    expect(body.invoices.length).toBeGreaterThan(0);
  });

  it('answers 403 insufficient_scope for a token without invoices:read', async () => {
    const res = await invoices({ authorization: `Bearer ${await token(['invoices:write'])}` });
    expect(res.status).toBe(403);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="insufficient_scope", .*scope="invoices:read"$/);
    expect(await res.json()).toEqual({ error: 'insufficient_scope', error_description: expect.any(String) });
  });

  it('answers 401 without a token, with a bare challenge', async () => {
    const res = await invoices();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer, DPoP algs="/);
  });

  it('answers 401 invalid_token for a tampered token and for a token of another audience', async () => {
    const good = await token(['invoices:read']);
    const [header, payload, signature] = good.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'invoices:read invoices:write' })).toString('base64url');
    const foreign = await token(['invoices:read'], ['https://other.example.com']);
    for (const bad of [`${header}.${forged}.${signature}`, foreign]) {
      const res = await invoices({ authorization: `Bearer ${bad}` });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token"/);
      expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
    }
  });

  it('accepts a DPoP-bound token only with a proof for GET /invoices', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const proof = (claims: Record<string, unknown>) =>
      new SignJWT({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
        .sign(privateKey);
    const bound = await token(['invoices:read'], [API], await proof({ htm: 'POST', htu: `${h.config.issuer}/oauth/token` }));
    expect(JSON.parse(Buffer.from(bound.split('.')[1]!, 'base64url').toString()).cnf).toEqual({ jkt: await calculateJwkThumbprint(jwk) });

    const ok = await invoices({
      authorization: `DPoP ${bound}`,
      dpop: await proof({ htm: 'GET', htu: `${example.url}/invoices`, ath: accessTokenHash(bound) }),
    });
    expect(ok.status).toBe(200);
    expect((await invoices({ authorization: `Bearer ${bound}` })).status).toBe(401);
  });
});

import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { basicAuth, startTestService, type TestService } from './support/service';

describe.each(DATABASE_KINDS)('token endpoint (%s)', (kind) => {
  let h: TestService;
  let account: any;
  let creds: { id: string; secret: string };

  beforeAll(async () => {
    h = await startTestService(kind);
    account = await h.createAccount({
      scopes: ['orders:read', 'orders:write'],
      audiences: ['https://orders.example.com', 'https://billing.example.com'],
    });
    creds = { id: account.client_id, secret: account.secret.secret };
  });
  afterAll(() => h?.close());

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
});

import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialCache } from '../src/accounts/credential-cache';
import { revokeSecret } from '../src/accounts/secrets';
import { DATABASE_KINDS, type TestDatabase } from './support/database';
import { startTestService, startTwoInstances, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };

/**
 * The credential cache answers a recently verified secret without argon2 or a database read. These stories
 * check what a user relies on: every change made through one instance reaches the other's cache before the
 * admin call returns, so the very next token request sees it.
 */
describe.each(DATABASE_KINDS)('credential cache across two instances (%s)', (kind) => {
  let pair: Awaited<ReturnType<typeof startTwoInstances>>;
  let database: TestDatabase;
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    pair = await startTwoInstances(kind);
    ({ a, b, database } = pair);
  });
  afterAll(() => pair?.close());

  /** An account whose secret instance b has verified and cached. */
  const warmAccount = async (input: Record<string, unknown> = {}) => {
    const account = await a.createAccount(input);
    const creds = { id: account.client_id, secret: account.secret.secret };
    expect((await b.token(grant, creds)).status).toBe(200);
    const hits = b.service.accounts.credentials.hits;
    expect((await b.token(grant, creds)).status).toBe(200);
    expect(b.service.accounts.credentials.hits).toBe(hits + 1);
    return { account, creds };
  };

  it('answers a verified secret from the cache, and a wrong secret for the same id still misses and fails', async () => {
    const { creds } = await warmAccount();
    const wrong = `${creds.secret.slice(0, -4)}AAAA`;
    const hits = b.service.accounts.credentials.hits;
    const res = await b.token(grant, { id: creds.id, secret: wrong === creds.secret ? `${wrong.slice(0, -1)}B` : wrong });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_client');
    expect(b.service.accounts.credentials.hits).toBe(hits);
    // A valid secret presented with another account's client_id is refused, cached or not.
    const other = await a.createAccount();
    expect((await b.token(grant, { id: other.client_id, secret: creds.secret })).status).toBe(401);
  });

  it('a secret disabled through one instance is refused by the other at once; enabled, it works again', async () => {
    const { account, creds } = await warmAccount();
    const path = `/service-accounts/${account.id}/secrets/${account.secret.id}`;
    expect((await a.admin('PATCH', path, { status: 'disabled' })).status).toBe(200);
    expect((await b.token(grant, creds)).status).toBe(401);
    expect((await a.admin('PATCH', path, { status: 'active' })).status).toBe(200);
    expect((await b.token(grant, creds)).status).toBe(200);
  });

  it('an account revoked or deleted through one instance is refused by the other at once', async () => {
    const revoked = await warmAccount();
    expect((await a.admin('POST', `/service-accounts/${revoked.account.id}/revoke`)).status).toBe(200);
    expect((await b.token(grant, revoked.creds)).status).toBe(401);

    const deleted = await warmAccount();
    expect((await a.admin('DELETE', `/service-accounts/${deleted.account.id}`)).status).toBe(204);
    expect((await b.token(grant, deleted.creds)).status).toBe(401);
  });

  it('edits to scopes, allowed IPs and token lifetime apply to the other instance’s very next token', async () => {
    const { account, creds } = await warmAccount({ scopes: ['reports:read', 'reports:write'] });
    const path = `/service-accounts/${account.id}`;

    expect((await a.admin('PATCH', path, { scopes: ['reports:read'] })).status).toBe(200);
    const narrowed = await b.token({ ...grant, scope: 'reports:write' }, creds);
    expect(narrowed.status).toBe(400);
    expect(narrowed.body.error).toBe('invalid_scope');

    expect((await a.admin('PATCH', path, { token_ttl_seconds: 120 })).status).toBe(200);
    expect((await b.token(grant, creds)).body.expires_in).toBe(120);

    expect((await a.admin('PATCH', path, { allowed_ips: ['192.0.2.0/24'] })).status).toBe(200);
    expect((await b.token(grant, creds)).status).toBe(401);
    expect((await a.admin('PATCH', path, { allowed_ips: ['127.0.0.1'] })).status).toBe(200);
    expect((await b.token(grant, creds)).status).toBe(200);
  });

  it('a change through the instance that cached the credential applies there too', async () => {
    const { account, creds } = await warmAccount();
    expect((await b.admin('PATCH', `/service-accounts/${account.id}`, { status: 'disabled' })).status).toBe(200);
    expect((await b.token(grant, creds)).status).toBe(401);
  });
});

describe.runIf(DATABASE_KINDS.includes('postgres'))('a dropped LISTEN connection (postgres)', () => {
  let pair: Awaited<ReturnType<typeof startTwoInstances>>;
  let database: TestDatabase;
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    pair = await startTwoInstances('postgres');
    ({ a, b, database } = pair);
  });
  afterAll(() => pair?.close());

  const waitUntilListening = async (h: TestService) => {
    for (let i = 0; i < 200 && !h.service.accounts.credentials.isListening; i++) await new Promise((r) => setTimeout(r, 50));
    expect(h.service.accounts.credentials.isListening).toBe(true);
  };

  it('no revocation is missed while it is down, and the cache is used again once it is back', async () => {
    const account = await a.createAccount();
    const creds = { id: account.client_id, secret: account.secret.secret };
    expect((await b.token(grant, creds)).status).toBe(200);

    // Cut every instance's LISTEN connection, as a failover or a network blip would.
    await database.handle.db.execute(sql`
      select pg_terminate_backend(pid) from pg_stat_activity
      where application_name = 'token-service-listen' and datname = current_database()`);
    for (let i = 0; i < 400 && b.service.accounts.credentials.isListening; i++) await new Promise((r) => setTimeout(r, 5));
    // Another instance revokes the secret at once; its notification reaches no one who was cut off.
    const elsewhere = { ...a.service.accounts, credentials: new CredentialCache({ ttlMs: 60_000, maxEntries: 10 }) };
    await revokeSecret(elsewhere, account.id, account.secret.id);
    expect((await b.token(grant, creds)).status).toBe(401);

    await waitUntilListening(b);
    const again = await a.createAccount();
    const againCreds = { id: again.client_id, secret: again.secret.secret };
    expect((await b.token(grant, againCreds)).status).toBe(200);
    const hits = b.service.accounts.credentials.hits;
    expect((await b.token(grant, againCreds)).status).toBe(200);
    expect(b.service.accounts.credentials.hits).toBe(hits + 1);
  });
});

describe.each(DATABASE_KINDS)('argon2 under a flood of wrong secrets (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    // Brute-force blocking would end the flood early; this story is about the argon2 queue.
    h = await startTestService(kind, {
      BRUTE_FORCE_MAX_FAILURES: '10000',
      BRUTE_FORCE_MAX_FAILURES_PER_IP: '10000',
      ARGON2_MAX_CONCURRENCY: '2',
    });
  });
  afterAll(() => h?.close());

  it('valid clients keep getting tokens while wrong secrets queue for argon2', async () => {
    const valid = await h.createAccount();
    const creds = { id: valid.client_id, secret: valid.secret.secret };
    expect((await h.token(grant, creds)).status).toBe(200); // verified once, now cached
    const victim = await h.createAccount();
    const wrong = { id: victim.client_id, secret: `${victim.secret.secret.slice(0, -6)}XXXXXX` };

    const order: string[] = [];
    const flood = Array.from({ length: 60 }, () =>
      h.token(grant, wrong).then((r) => {
        order.push('bad');
        return r.status;
      }),
    );
    const good = Array.from({ length: 20 }, () =>
      h.token(grant, creds).then((r) => {
        order.push('good');
        return r.status;
      }),
    );
    const [badStatuses, goodStatuses] = await Promise.all([Promise.all(flood), Promise.all(good)]);
    expect(new Set(badStatuses)).toEqual(new Set([401]));
    expect(new Set(goodStatuses)).toEqual(new Set([200]));
    // Every valid request was answered before the wrong ones had all been worked through.
    expect(order.lastIndexOf('good')).toBeLessThan(order.lastIndexOf('bad'));
  });
});

describe.each(DATABASE_KINDS)('credential cache turned off (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { CREDENTIAL_CACHE_TTL_SECONDS: '0' });
  });
  afterAll(() => h?.close());

  it('with a TTL of 0 every request reads the database, and tokens are still issued', async () => {
    const account = await h.createAccount();
    const creds = { id: account.client_id, secret: account.secret.secret };
    for (let i = 0; i < 3; i++) expect((await h.token(grant, creds)).status).toBe(200);
    expect(h.service.accounts.credentials.hits).toBe(0);
  });
});

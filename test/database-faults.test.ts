import { and, count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeAccount } from '../src/accounts/account-changes';
import { CredentialCache } from '../src/accounts/credential-cache';
import { revokeSecret } from '../src/accounts/secrets';
import { DatabaseCircuit, DatabaseUnavailable, isDatabaseUnavailable } from '../src/db/availability';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect';
import { auditEvents, clientSecrets } from '../src/db/schema';
import { PRIVATE_POSTGRES_MISSING, PrivatePostgres, privatePostgresAvailable } from './support/private-postgres';
import { basicAuth, startTestService, type HttpResult, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
/** What a client may wait for an answer while the database is down. */
const BOUND_MS = 3000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

async function timed(request: () => Promise<HttpResult>): Promise<HttpResult & { ms: number }> {
  const started = performance.now();
  const result = await request();
  return { ...result, ms: performance.now() - started };
}

function expectTemporarilyUnavailable(res: HttpResult & { ms: number }): void {
  expect({ status: res.status, error: res.body?.error }).toEqual({ status: 503, error: 'temporarily_unavailable' });
  expect(typeof res.body.error_description).toBe('string');
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toMatch(/no-store/);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(res.ms).toBeLessThan(BOUND_MS);
}

/**
 * The service on a PostgreSQL server of the test's own, which the test stops, restarts and freezes: the
 * database going away must cost clients a quick 503, never a hang or a 500; credentials verified within the
 * cache's TTL keep working; and the service recovers by itself, missing no revoke made meanwhile.
 * CI always runs this (.ci/run installs PostgreSQL 15); elsewhere it needs the same binaries.
 */
const title = 'PostgreSQL stops while the service runs';
describe.skipIf(!privatePostgresAvailable)(privatePostgresAvailable ? title : `${title}: skipped, ${PRIVATE_POSTGRES_MISSING}`, () => {
  let server: PrivatePostgres;
  let handle: DatabaseHandle;
  /** Another instance's connection, to look and to change things behind the service's back. */
  let other: DatabaseHandle;
  let h: TestService;
  type Creds = { id: string; secret: string; accountId: string; secretId: string };
  let cached: Creds;
  let revokedMeanwhile: Creds;
  let revokedUnseen: Creds;
  let uncached: Creds;
  /** token.issued events of `cached` written before the outage. */
  let issuedBefore: number;

  const credsOf = (account: any): Creds => ({
    id: account.client_id,
    secret: account.secret.secret,
    accountId: account.id,
    secretId: account.secret.id,
  });
  const cache = () => h.service.accounts.credentials;
  /** Another instance's account context: its changes reach this service only through NOTIFY. */
  const elsewhere = () => ({ ...h.service.accounts, db: other.db, credentials: new CredentialCache({ ttlMs: 60_000, maxEntries: 10 }) });
  const tokenEvents = async (clientId: string, action: 'token.issued' | 'token.denied') => {
    const [row] = await other.db
      .select({ n: count() })
      .from(auditEvents)
      .where(and(eq(auditEvents.clientId, clientId), eq(auditEvents.action, action)));
    return row!.n;
  };

  beforeAll(async () => {
    server = await PrivatePostgres.start();
    handle = await connectDatabase({ databaseUrl: server.url(), maxConnections: 5 });
    await handle.migrate();
    other = await connectDatabase({ databaseUrl: server.url(), maxConnections: 2 });
    h = await startTestService(
      'postgres',
      // As in production on PostgreSQL (auto picks memory here, the database being passed in): shared counters.
      { FLUSH_INTERVAL_MS: '200', RATE_LIMIT_STORE: 'database' },
      { database: { handle, url: server.url(), destroy: async () => {} } },
    );
    // Verified (and so cached) before the outage: cached, revokedMeanwhile, revokedUnseen. Never presented: uncached.
    cached = credsOf(await h.createAccount());
    revokedMeanwhile = credsOf(await h.createAccount());
    revokedUnseen = credsOf(await h.createAccount());
    uncached = credsOf(await h.createAccount());
    for (const creds of [cached, revokedMeanwhile, revokedUnseen]) expect((await h.token(grant, creds)).status).toBe(200);
    await h.adminToken(); // the admin's own credential is cached too
    expect((await h.fetch('/.well-known/oauth-authorization-server')).status).toBe(200);
    await h.service.flush();
  });

  afterAll(async () => {
    server?.thaw();
    // Bounded: whatever state a failed test left the service in, the server and its folder must go.
    const bounded = (work: Promise<unknown> | undefined) => Promise.race([work?.catch(() => {}), sleep(10_000)]);
    await bounded(h?.close());
    await bounded(other?.close());
    await bounded(handle?.close());
    await server?.remove();
  });

  it('while the server is down: 503 at once for what needs it, cached credentials still get tokens, /readyz 503', async () => {
    issuedBefore = await tokenEvents(cached.id, 'token.issued');
    expect(issuedBefore).toBe(1);
    const unreachableHits = cache().unreachableHits;
    await server.stop('immediate');
    const stoppedAt = performance.now();
    await until('the LISTEN connection is seen lost', () => !cache().isListening);

    // A credential not verified before: nothing to judge it by.
    const refused = await timed(() => h.token(grant, uncached));
    expectTemporarilyUnavailable(refused);
    // Several at once, and again: no queue forms behind the dead server.
    for (const res of await Promise.all(Array.from({ length: 5 }, () => timed(() => h.token(grant, uncached))))) {
      expectTemporarilyUnavailable(res);
    }

    // Credentials verified before the outage (within the cache TTL) keep working.
    h.clock.advance(60_000); // a later last-used time, to recognise these uses once written
    for (let i = 0; i < 3; i++) {
      const res = await timed(() => h.token(grant, cached));
      expect(res.status, res.text).toBe(200);
      expect(res.ms).toBeLessThan(BOUND_MS);
    }
    expect(cache().unreachableHits).toBe(unreachableHits + 3);
    // A secret other than the one verified cannot be checked now: 503, not 401 (nor, of course, 200).
    expectTemporarilyUnavailable(await timed(() => h.token(grant, { id: cached.id, secret: `${cached.secret}x` })));

    // The admin API needs the database for everything: problem+json 503, quickly.
    for (const [method, path, body] of [
      ['GET', '/service-accounts', undefined],
      ['POST', '/service-accounts', { name: 'during-outage' }],
      ['POST', `/service-accounts/${uncached.accountId}/secrets`, {}],
    ] as const) {
      const res = await timed(() => h.admin(method, path, body));
      expect({ path, status: res.status }).toEqual({ path, status: 503 });
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      expect(res.body).toMatchObject({ status: 503, title: 'Service unavailable' });
      expect(res.headers.get('retry-after')).toBeTruthy();
      expect(res.ms).toBeLessThan(BOUND_MS);
    }

    // Discovery and the JWKS keep answering: resource APIs starting now can still find the keys.
    expect((await h.fetch('/.well-known/oauth-authorization-server')).status).toBe(200);
    expect((await h.fetch('/.well-known/jwks.json')).status).toBe(200);
    // Introspection needs the database (the credential's state): 503, never a 500.
    const introspect = await timed(() =>
      h.fetch('/oauth/introspect', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(uncached.id, uncached.secret) },
        body: 'token=abc',
      }),
    );
    expectTemporarilyUnavailable(introspect);

    const ready = await timed(() => h.fetch('/readyz'));
    expect(ready.status).toBe(503);
    expect(ready.body.failing).toContain('database');
    expect(ready.ms).toBeLessThan(BOUND_MS);
    expect((await h.fetch('/healthz')).status).toBe(200);

    // What happened meanwhile waits in the buffers (last-used times too, checked once written, below).
    expect(h.service.audit.pending).toBeGreaterThan(0);
    await sleep(500); // a few flushes fail and keep their events
    expect(h.service.audit.pending).toBeGreaterThan(0);

    // Stay down long enough that the LISTEN reconnection backs off for a few seconds (200, 400, ... 3200 ms):
    // the next test revokes a secret in the window where the server is back and the service not yet listening.
    await sleep(Math.max(0, 3400 - (performance.now() - stoppedAt)));
    await server.startAgain();
  });

  it('the server back: a revoke made before the service listens again is not missed; the cache restarts empty', async () => {
    // Another instance revokes a secret this service has cached, while this service does not listen yet.
    await revokeSecret(elsewhere(), revokedMeanwhile.accountId, revokedMeanwhile.secretId);
    await revokeSecret(elsewhere(), revokedUnseen.accountId, revokedUnseen.secretId);
    expect(cache().isListening, 'the service listened again before the revokes: the story proves nothing').toBe(false);
    // Not listening: the cache is not used, the database answers.
    expect((await h.token(grant, revokedMeanwhile)).status).toBe(401);

    await until('the service listens again', () => cache().isListening);
    expect((await h.token(grant, revokedMeanwhile)).status).toBe(401);
    // Not presented since its revoke: what the cache held of it before the outage went when LISTEN came back.
    expect((await h.token(grant, revokedUnseen)).status).toBe(401);
    // The cached credential was dropped when LISTEN came back: verified again from the database, then cached.
    const { hits, misses } = cache();
    expect((await h.token(grant, cached)).status).toBe(200);
    expect({ hits: cache().hits, misses: cache().misses }).toEqual({ hits, misses: misses + 1 });
    expect((await h.token(grant, cached)).status).toBe(200);
    expect(cache().hits).toBe(hits + 1);

    // New credentials verify again; the admin API and readiness are back, without a restart.
    expect((await h.token(grant, uncached)).status).toBe(200);
    const created = await h.admin('POST', '/service-accounts', { name: 'after-outage' });
    expect(created.status).toBe(201);
    expect((await h.token(grant, { id: created.body.client_id, secret: created.body.secret.secret })).status).toBe(200);
    expect((await h.fetch('/readyz')).status).toBe(200);
  });

  it('the audit events and last-used times buffered during the outage are written after it', async () => {
    await until('the buffers are written', () => h.service.audit.pending === 0 && h.service.lastUsed.size === 0);
    // Three tokens issued during the outage, two more after it.
    expect(await tokenEvents(cached.id, 'token.issued')).toBe(issuedBefore + 3 + 2);
    const [denied] = await other.db
      .select({ n: count() })
      .from(auditEvents)
      .where(and(eq(auditEvents.clientId, uncached.id), eq(auditEvents.reason, 'temporarily_unavailable')));
    expect(denied!.n).toBe(6); // the six refused above, none lost
    const [secret] = await other.db
      .select({ lastUsedAt: clientSecrets.lastUsedAt })
      .from(clientSecrets)
      .where(eq(clientSecrets.id, cached.secretId));
    expect(secret!.lastUsedAt?.toISOString()).toBe(h.clock.now().toISOString());
  });

  it('a server that stops answering (frozen, partitioned): bounded waits, cached credentials still served', async () => {
    const never = credsOf(await h.createAccount());
    expect((await h.token(grant, cached)).status).toBe(200); // cached, and the connections warm
    server.freeze();
    try {
      // A credential never verified: the read gives up in time (the next ones at once, for a moment).
      expectTemporarilyUnavailable(await timed(() => h.token(grant, never)));
      expectTemporarilyUnavailable(await timed(() => h.token(grant, never)));
      // The LISTEN connection looks alive: the cache answers as usual, and the rate-limit counter, in the
      // silent database, gives way to the memory one in time.
      for (let i = 0; i < 2; i++) {
        const res = await timed(() => h.token(grant, cached));
        expect(res.status, res.text).toBe(200);
        expect(res.ms).toBeLessThan(BOUND_MS);
      }
      const ready = await timed(() => h.fetch('/readyz'));
      expect(ready.status).toBe(503);
      expect(ready.ms).toBeLessThan(BOUND_MS);
    } finally {
      server.thaw();
    }
    await until('the service answers from the database again', async () => (await h.token(grant, never)).status === 200);
    expect((await h.fetch('/readyz')).status).toBe(200);
    expect((await h.token(grant, revokedMeanwhile)).status).toBe(401);
  });

  it('a LISTEN connection cut while a revoke commits: re-established, and the cache flushed of what it held', async () => {
    await until('the service listens', () => cache().isListening);
    const victim = credsOf(await h.createAccount());
    expect((await h.token(grant, victim)).status).toBe(200);
    const hits = cache().hits;
    expect((await h.token(grant, victim)).status).toBe(200);
    expect(cache().hits).toBe(hits + 1); // cached

    // Another instance revokes the secret in a transaction that first ends the service's LISTEN backend
    // (waiting until it is gone): the NOTIFY at commit reaches no one of this service.
    await changeAccount(elsewhere(), victim.accountId, async (tx) => {
      await tx.execute(sql`select pg_terminate_backend(pid, 5000) from pg_stat_activity
        where application_name = 'token-service-listen' and pid <> pg_backend_pid()`);
      await tx.update(clientSecrets).set({ status: 'revoked' }).where(eq(clientSecrets.id, victim.secretId));
    });
    await until('the service sees its LISTEN connection lost', () => !cache().isListening);
    await until('the service listens again', () => cache().isListening);
    expect((await h.token(grant, victim)).status).toBe(401);
    // And the cache serves again.
    const { hits: before } = cache();
    expect((await h.token(grant, cached)).status).toBe(200);
    expect((await h.token(grant, cached)).status).toBe(200);
    expect(cache().hits).toBe(before + 1);
  });
});

describe('telling an unreachable database from other failures', () => {
  const wrapped = (cause: object) => Object.assign(new Error('Failed query: select 1'), { cause: Object.assign(new Error('x'), cause) });

  it('recognises connection errors and shutdown states through drizzle’s wrapping, and nothing else', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', '57P01', '57P03', '08006']) {
      expect({ code, unavailable: isDatabaseUnavailable(wrapped({ code })) }).toEqual({ code, unavailable: true });
    }
    for (const code of ['23505', '42P01', '40001', 'ERR_INVALID_ARG_TYPE', undefined]) {
      expect({ code, unavailable: isDatabaseUnavailable(wrapped({ code })) }).toEqual({ code, unavailable: false });
    }
    expect(isDatabaseUnavailable(new DatabaseUnavailable())).toBe(true);
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false);
  });

  it('gives up a read that does not answer in time, then fails fast for a moment, then tries again', async () => {
    const circuit = new DatabaseCircuit({ timeoutMs: 50, holdMs: 200 });
    let calls = 0;
    const hang = () => {
      calls++;
      return new Promise<never>(() => {});
    };
    const started = performance.now();
    await expect(circuit.read(hang)).rejects.toBeInstanceOf(DatabaseUnavailable);
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(circuit.read(hang)).rejects.toBeInstanceOf(DatabaseUnavailable);
    expect(calls).toBe(1); // the second did not ask
    await sleep(250);
    expect(await circuit.read(async () => 'answered')).toBe('answered');
    // Other errors pass through untouched, and do not open the circuit.
    const bug = new TypeError('a bug');
    await expect(circuit.read(() => Promise.reject(bug))).rejects.toBe(bug);
    expect(circuit.recentlyDown).toBe(false);
  });
});

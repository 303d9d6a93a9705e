import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/connect';
import { AuditLog, type AuditEvent } from '../src/audit/audit-log';
import { DATABASE_KINDS, freshDatabase, secondConnection, type DatabaseKind } from './support/database';
import { startTestService, uniqueName, type HttpResult, type TestService } from './support/service';

/**
 * Races over real HTTP: many admin calls at once on one account (on PostgreSQL also split across two
 * instances), and credentials revoked while clients keep asking for tokens.
 */

const grant = { grant_type: 'client_credentials' };
const CAP = 10; // MAX_ACTIVE_SECRETS' default

/**
 * The protections stay on, out of reach: the revoke races below send hundreds of requests with a credential
 * that has just been revoked, which would otherwise block 127.0.0.1 for every later test.
 */
const LIMITS = {
  RATE_LIMIT_PER_MINUTE: '1000000',
  BRUTE_FORCE_MAX_FAILURES: '10000',
  BRUTE_FORCE_MAX_FAILURES_PER_IP: '1000000',
};

function expectProblem(res: HttpResult, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status });
}

const countBy = (results: HttpResult[]) => {
  const counts: Record<number, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
};

/** Polls `condition` (progress of the loops, never the passing of time) for at most `ms`. */
async function until(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Sample {
  /** performance.now() just before the request was handed to fetch. */
  sent: number;
  /** Which of the targets it went to. */
  target: number;
  status: number;
  error?: string;
}

/** `perTarget` loops on each target asking for tokens with `creds` until stopped, recording every answer. */
function tokenLoops(targets: TestService[], creds: { id: string; secret: string }, perTarget: number) {
  const samples: Sample[] = [];
  let stopped = false;
  const loop = async (t: TestService, target: number) => {
    while (!stopped) {
      const sent = performance.now();
      try {
        const res = await t.token(grant, creds);
        samples.push({ sent, target, status: res.status, ...(res.status === 200 ? {} : { error: res.body?.error }) });
      } catch (error) {
        // A socket error is a failure of ours too: recorded, and the loop stops.
        samples.push({ sent, target, status: 0, error: String(error) });
        return;
      }
    }
  };
  const running = targets.flatMap((t, i) => Array.from({ length: perTarget }, () => loop(t, i)));
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}

describe.each(DATABASE_KINDS)('concurrency (%s)', (kind: DatabaseKind) => {
  /** Two instances on one database on PostgreSQL; on PGlite, whose database one process owns, one instance twice. */
  let a: TestService;
  let b: TestService;
  let closeAll: () => Promise<void>;

  beforeAll(async () => {
    if (kind === 'pglite') {
      a = b = await startTestService(kind, LIMITS);
      closeAll = () => a.close();
      return;
    }
    const database = await freshDatabase(kind);
    const bDatabase = await secondConnection(database);
    a = await startTestService(kind, LIMITS, { database });
    b = await startTestService(
      kind,
      { ...LIMITS, ISSUER: a.config.issuer },
      { database: bDatabase, keysDir: a.config.keysDir, adminSecret: a.adminSecret },
    );
    closeAll = async () => {
      await a.close();
      await b.close();
      await bDatabase.destroy();
      await database.destroy();
    };
  });
  afterAll(() => closeAll?.());

  const secrets = (account: any) => `/service-accounts/${account.id}/secrets`;
  const activeSecrets = async (account: any) => {
    const res = await a.admin('GET', `${secrets(account)}?status=active&limit=100`);
    expect(res.status, res.text).toBe(200);
    return res.body.items as any[];
  };

  describe('the cap on active secrets', () => {
    /** 50 parallel POSTs on an account holding one secret, alternating between the given instances. */
    async function fiftyAtOnce(via: TestService[]) {
      const account = await a.createAccount();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => via[i % via.length]!.admin('POST', secrets(account), { description: `p${i}` })),
      );
      expect(countBy(results)).toEqual({ 201: CAP - 1, 409: 50 - (CAP - 1) });
      for (const r of results.filter((r) => r.status === 409)) {
        expectProblem(r, 409);
        expect(r.body.detail).toMatch(/active secrets/);
      }
      const active = await activeSecrets(account);
      expect(active).toHaveLength(CAP);
      // Exactly the first secret and the ones the callers were told about.
      const told = results.filter((r) => r.status === 201).map((r) => r.body.id);
      expect(new Set(active.map((s) => s.id))).toEqual(new Set([account.secret.id, ...told]));
    }

    it('50 parallel secret creations: exactly cap-1 get 201, the rest 409, and the account holds cap', async () => {
      await fiftyAtOnce([a]);
    });

    it.runIf(kind === 'postgres')('the same across two instances sharing the database', async () => {
      await fiftyAtOnce([a, b]);
    });

    it('enabling disabled secrets while adding new ones in parallel still stops at the cap', async () => {
      const account = await a.createAccount();
      const added: string[] = [];
      for (let i = 0; i < CAP - 1; i++) {
        const res = await a.admin('POST', secrets(account), {});
        expect(res.status, res.text).toBe(201);
        added.push(res.body.id);
      }
      const disabled = added.slice(0, 5);
      for (const id of disabled) {
        expect((await a.admin('PATCH', `${secrets(account)}/${id}`, { status: 'disabled' })).status).toBe(200);
      }
      // 5 active, 5 free places; 5 enables and 5 additions race for them.
      const results = await Promise.all([
        ...disabled.map((id, i) => (i % 2 ? b : a).admin('PATCH', `${secrets(account)}/${id}`, { status: 'active' })),
        ...disabled.map((_, i) => (i % 2 ? a : b).admin('POST', secrets(account), {})),
      ]);
      const ok = results.filter((r) => r.status === 200 || r.status === 201).length;
      expect(ok).toBe(5);
      expect(results.filter((r) => r.status === 409)).toHaveLength(5);
      expect(await activeSecrets(account)).toHaveLength(CAP);
    });
  });

  describe('revocation while tokens are being requested', () => {
    /**
     * Loops ask for tokens (on B; on PostgreSQL also on A) with the account's first secret; once they get
     * tokens, `act` runs through A. Every request sent after its answer came back must be refused; requests
     * in flight at that moment may go either way.
     */
    async function raceAgainst(act: (account: any) => Promise<HttpResult>, expected: number) {
      const account = await a.createAccount({ rate_limit_per_minute: 1_000_000 });
      const creds = { id: account.client_id, secret: account.secret.secret as string };
      const loops = tokenLoops(a === b ? [a] : [b, a], creds, 3);
      try {
        await until(() => loops.samples.filter((s) => s.status === 200).length >= 30, 'tokens before the change');
        const sentAt = performance.now();
        const res = await act(account);
        const returnedAt = performance.now();
        expect(res.status, res.text).toBe(expected);
        // It once waited for an audit flush that chased the token events recorded meanwhile: ~30 s under load.
        expect(returnedAt - sentAt, 'the admin call under token load').toBeLessThan(10_000);
        // At least 20 requests after it on B (target 0), the instance that did not make the change.
        await until(
          () => loops.samples.filter((s) => s.sent > returnedAt && s.target === 0).length >= 20,
          'requests after the change',
        );
        await loops.stop();

        const before = loops.samples.filter((s) => s.sent < sentAt);
        const after = loops.samples.filter((s) => s.sent > returnedAt);
        expect(before.filter((s) => s.status !== 200)).toEqual([]);
        expect(after.filter((s) => s.status !== 401 || s.error !== 'invalid_client')).toEqual([]);
        // In flight meanwhile: either answer, never a failure of ours.
        expect(loops.samples.filter((s) => s.status !== 200 && s.status !== 401)).toEqual([]);
      } finally {
        await loops.stop();
      }
    }

    it('revoking the secret (DELETE …/secrets/{sid})', async () => {
      await raceAgainst((account) => a.admin('DELETE', `${secrets(account)}/${account.secret.id}`), 204);
    });

    it('disabling the secret', async () => {
      await raceAgainst(
        (account) => a.admin('PATCH', `${secrets(account)}/${account.secret.id}`, { status: 'disabled' }),
        200,
      );
    });

    it('disabling the account', async () => {
      await raceAgainst((account) => a.admin('PATCH', `/service-accounts/${account.id}`, { status: 'disabled' }), 200);
    });

    it('revoking the account (POST …/revoke)', async () => {
      await raceAgainst((account) => a.admin('POST', `/service-accounts/${account.id}/revoke`), 200);
    });

    it('deleting the account', async () => {
      await raceAgainst((account) => a.admin('DELETE', `/service-accounts/${account.id}`), 204);
    });
  });

  describe('parallel admin changes', () => {
    it('20 parallel creations with the same name: one 201, the rest 409, one account', async () => {
      const name = uniqueName('same');
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? b : a).admin('POST', '/service-accounts', { name })),
      );
      expect(countBy(results)).toEqual({ 201: 1, 409: 19 });
      for (const r of results.filter((r) => r.status === 409)) expectProblem(r, 409);
      const list = await a.admin('GET', `/service-accounts?q=${encodeURIComponent(name)}&limit=100`);
      expect(list.status, list.text).toBe(200);
      expect(list.body.items.map((x: any) => x.name)).toEqual([name]);
    });

    it('20 parallel PATCHes of one account: all 200, and the account is one of them whole (last write wins)', async () => {
      const account = await a.createAccount();
      const patches = Array.from({ length: 20 }, (_, i) => ({
        description: `writer ${i}`,
        scopes: [`scope:${i}`],
        token_ttl_seconds: 60 + i,
      }));
      const results = await Promise.all(
        patches.map((p, i) => (i % 2 ? b : a).admin('PATCH', `/service-accounts/${account.id}`, p)),
      );
      expect(countBy(results)).toEqual({ 200: 20 });
      const final = (await a.admin('GET', `/service-accounts/${account.id}`)).body;
      const winner = patches.findIndex((p) => p.description === final.description);
      expect(winner, final.description).toBeGreaterThanOrEqual(0);
      expect(final.scopes).toEqual(patches[winner]!.scopes);
      expect(final.token_ttl_seconds).toBe(patches[winner]!.token_ttl_seconds);
    });

    it('PATCHes racing a revoke: revoked wins, the PATCHes after it get 409, none fails', async () => {
      const account = await a.createAccount();
      const results = await Promise.all([
        ...Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? b : a).admin('PATCH', `/service-accounts/${account.id}`, { status: i % 4 < 2 ? 'disabled' : 'active' }),
        ),
        b.admin('POST', `/service-accounts/${account.id}/revoke`),
      ]);
      expect(results.filter((r) => r.status !== 200 && r.status !== 409)).toEqual([]);
      expect(results.at(-1)!.status).toBe(200);
      for (const r of results.filter((r) => r.status === 409)) expectProblem(r, 409);
      expect((await a.admin('GET', `/service-accounts/${account.id}`)).body.status).toBe('revoked');
    });

    it('10 parallel deletes of one account: one 204, the rest 404', async () => {
      const account = await a.createAccount();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).admin('DELETE', `/service-accounts/${account.id}`)),
      );
      expect(countBy(results)).toEqual({ 204: 1, 404: 9 });
      for (const r of results.filter((r) => r.status === 404)) expectProblem(r, 404);
      expect((await b.admin('GET', `/service-accounts/${account.id}`)).status).toBe(404);
    });

    it('10 parallel revokes of one secret: all succeed, the secret is revoked once', async () => {
      const account = await a.createAccount();
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? b : a).admin('DELETE', `${secrets(account)}/${account.secret.id}`),
        ),
      );
      expect(countBy(results)).toEqual({ 204: 10 });
      const res = await a.admin('GET', `${secrets(account)}?status=revoked`);
      expect(res.body.items.map((s: any) => s.id)).toEqual([account.secret.id]);
      const denied = await b.token(grant, { id: account.client_id, secret: account.secret.secret });
      expect(denied.status).toBe(401);
    });
  });
});

describe('the audit trail under steady traffic', () => {
  it('a flush writes what was recorded when it began, and ends, though events keep coming', async () => {
    const event = (action: string): AuditEvent => ({ occurredAt: new Date(0), action, outcome: 'success' });
    let inserts = 0;
    // Each INSERT takes a moment, during which another request records its event: the buffer is never empty.
    const db = {
      execute: async () => {
        inserts++;
        if (inserts > 1000) throw new Error('the flush chases new events forever');
        await new Promise((r) => setTimeout(r, 1));
        log.record(event('token.issued'));
      },
    } as unknown as Database;
    const log = new AuditLog(db, pino({ level: 'silent' }));
    for (let i = 0; i < 450; i++) log.record(event('token.issued'));
    log.record(event('secret.revoked'));

    await log.flush();
    expect(inserts).toBe(3); // 451 events in batches of 200
    expect(log.pending).toBe(3); // recorded during the three inserts: left for the next flush
  });
});

import { randomUUID } from 'node:crypto';
import { and, count, eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect';
import { auditEvents } from '../src/db/schema';
import { DATABASE_KINDS } from './support/database';
import { basicAuth } from './support/service';
import { freshServiceState, ServiceProcess } from './support/service-process';

const SHUTDOWN_TIMEOUT_SECONDS = 10;
const LOOPS = 20;

type Outcome =
  | { id: string; kind: 'response'; status: number; startedAt: number; endedAt: number }
  | { id: string; kind: 'refused' }
  | { id: string; kind: 'failed'; error: string };

describe.each(DATABASE_KINDS)('graceful shutdown (%s)', (kind) => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it(
    'finishes every accepted request, exits 0 before the deadline, and writes the audit trail of every token issued',
    async () => {
      const { url, adminSecret, env, database, dataDir } = await freshServiceState(kind, cleanups);
      const service = new ServiceProcess({
        ...env,
        BOOTSTRAP_ADMIN_CLIENT_ID: 'shutdown-admin',
        BOOTSTRAP_ADMIN_CLIENT_SECRET: adminSecret,
        // token events stay in the buffer until shutdown flushes them
        FLUSH_INTERVAL_MS: '60000',
        RATE_LIMIT_PER_MINUTE: '1000000',
        SHUTDOWN_TIMEOUT_SECONDS: String(SHUTDOWN_TIMEOUT_SECONDS),
        LOG_LEVEL: 'info',
      });
      cleanups.push(async () => service.kill('SIGKILL'));
      await service.waitFor('token service listening');

      // Arrange through the admin API.
      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      const adminRes = await fetch(`${url}/oauth/token`, {
        method: 'POST',
        headers: { ...form, authorization: basicAuth('shutdown-admin', adminSecret) },
        body: 'grant_type=client_credentials',
      });
      expect(adminRes.status, JSON.stringify(service.lines.slice(-3))).toBe(200);
      const adminToken = ((await adminRes.json()) as { access_token: string }).access_token;
      const created = await fetch(`${url}/admin/v1/service-accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: `shutdown-${randomUUID()}` }),
      });
      expect(created.status).toBe(201);
      const account = (await created.json()) as { client_id: string; secret: { secret: string } };
      const authorization = basicAuth(account.client_id, account.secret.secret);

      // Act: a steady stream of token requests, and SIGTERM in the middle of it.
      const outcomes: Outcome[] = [];
      let sigtermAt = Infinity;
      const loop = async () => {
        for (;;) {
          const id = randomUUID();
          const startedAt = performance.now();
          try {
            const res = await fetch(`${url}/oauth/token`, {
              method: 'POST',
              headers: { ...form, authorization, 'x-request-id': id },
              body: 'grant_type=client_credentials',
            });
            await res.arrayBuffer();
            outcomes.push({ id, kind: 'response', status: res.status, startedAt, endedAt: performance.now() });
          } catch (error) {
            const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
            if (code === 'ECONNREFUSED') {
              outcomes.push({ id, kind: 'refused' });
              return; // the port is closed: shutdown has begun
            }
            outcomes.push({ id, kind: 'failed', error: `${code ?? ''} ${String((error as Error).cause ?? error)}` });
          }
          if (performance.now() - sigtermAt > (SHUTDOWN_TIMEOUT_SECONDS + 10) * 1000) return;
        }
      };
      const loops = Array.from({ length: LOOPS }, loop);
      const responses = () => outcomes.filter((o) => o.kind === 'response').length;
      while (responses() < 200) await new Promise((resolve) => setTimeout(resolve, 20));
      sigtermAt = performance.now();
      service.kill('SIGTERM');
      await Promise.all(loops);
      const exit = await service.exited;

      // The process drained and stopped in time, on its own.
      expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
      expect(exit.at - sigtermAt).toBeLessThan(SHUTDOWN_TIMEOUT_SECONDS * 1000);
      const messages = service.lines.map((l) => l.msg);
      expect(messages).toContain('shutting down');
      expect(messages).toContain('stopped');
      expect(messages).not.toContain('shutdown deadline reached: closing the connections still open');

      // Every response a client got was a token.
      const answered = outcomes.filter((o) => o.kind === 'response');
      expect(answered.filter((o) => o.status !== 200)).toEqual([]);
      // Some requests were under way when SIGTERM arrived, and still got their token.
      expect(answered.filter((o) => o.startedAt < sigtermAt && o.endedAt > sigtermAt).length).toBeGreaterThan(0);

      // A request the service accepted (it logged it) was answered; a request that failed on the wire
      // (refused, or reset by a closing listener or idle connection) was never accepted.
      const logged = new Map(service.lines.filter((l) => l.msg === 'request' && l.route === '/oauth/token').map((l) => [l.req_id, l.status]));
      const byId = new Map(outcomes.map((o) => [o.id, o]));
      for (const [id, status] of logged) {
        const outcome = byId.get(id);
        if (outcome === undefined) continue; // the admin's token request
        expect({ id, status, outcome: outcome.kind }).toEqual({ id, status: 200, outcome: 'response' });
      }
      const failed = outcomes.filter((o) => o.kind === 'failed');
      expect(failed.filter((o) => logged.has(o.id))).toEqual([]);
      console.info(
        `graceful shutdown (${kind}): ${answered.length} answered (${answered.filter((o) => o.startedAt < sigtermAt).length} sent before SIGTERM), ` +
          `${outcomes.filter((o) => o.kind === 'refused').length} refused, ${failed.length} not accepted (reset), ` +
          `exit ${Math.round(exit.at - sigtermAt)} ms after SIGTERM`,
        [...new Set(failed.map((o) => o.error))],
      );

      // The buffered audit events were flushed at shutdown: one per token issued, at least.
      const handle: DatabaseHandle = database ? database.handle : await connectDatabase({ dataDir: dataDir! });
      try {
        const [row] = await handle.db
          .select({ n: count() })
          .from(auditEvents)
          .where(and(eq(auditEvents.action, 'token.issued'), eq(auditEvents.clientId, account.client_id)));
        expect(row!.n).toBeGreaterThanOrEqual(answered.length);
      } finally {
        if (!database) await handle.close();
      }
    },
    120_000,
  );
});

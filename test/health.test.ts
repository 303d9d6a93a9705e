import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase, type DatabaseHandle } from '../src/db/connect';
import { ServiceHealth } from '../src/http/health';
import { DATABASE_KINDS } from './support/database';
import { startTestService, type TestService } from './support/service';

describe.each(DATABASE_KINDS)('health endpoints (%s)', (kind) => {
  let h: TestService;

  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(async () => {
    // the database was closed under the service on purpose: closing it again may complain
    await h?.close().catch(() => {});
  });

  it('answers /healthz and /readyz with 200 on a running service', async () => {
    const live = await h.fetch('/healthz');
    expect({ status: live.status, body: live.body }).toEqual({ status: 200, body: { status: 'ok' } });
    const ready = await h.fetch('/readyz');
    expect({ status: ready.status, body: ready.body }).toEqual({
      status: 200,
      body: { status: 'ok', checks: { database: 'ok', migrations: 'ok', signing_keys: 'ok' } },
    });
    expect(ready.headers.get('cache-control')).toBe('no-store');
    expect((await h.fetch('/readyz', { method: 'HEAD' })).status).toBe(200);
  });

  it('answers /readyz with 503 naming the database once it is gone, without hanging; /healthz stays 200', async () => {
    await h.service.database.close();
    const started = performance.now();
    const ready = await h.fetch('/readyz');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(ready.status).toBe(503);
    expect(ready.body).toMatchObject({ status: 'unavailable', failing: ['database', 'migrations'], checks: { database: 'error', signing_keys: 'ok' } });
    expect((await h.fetch('/healthz')).status).toBe(200);
  });

  it('answers /readyz with 503 once shutdown has begun, and asks clients to close their connections', async () => {
    h.service.health.startDraining();
    const ready = await h.fetch('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.failing).toContain('accepting');
    expect(ready.body.checks.accepting).toBe('shutting_down');
    expect((await h.fetch('/healthz')).headers.get('connection')).toBe('close');
  });
});

describe('readiness checks', () => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService('pglite');
  });
  afterAll(() => h?.close());

  it('fails while migrations are not applied', async () => {
    const empty = await connectDatabase({ dataDir: 'memory://' });
    try {
      const health = await ServiceHealth.create({ database: empty, keys: h.service.keys });
      expect(await health.readiness()).toEqual({
        status: 'unavailable',
        checks: { database: 'ok', migrations: 'pending', signing_keys: 'ok' },
        failing: ['migrations'],
      });
      await empty.migrate();
      expect((await health.readiness()).status).toBe('ok');
    } finally {
      await empty.close();
    }
  });

  it('gives up on a database that does not answer, within its timeout', async () => {
    const hanging = { kind: 'postgres', db: { execute: () => new Promise(() => {}) } } as unknown as DatabaseHandle;
    const health = await ServiceHealth.create({ database: hanging, keys: h.service.keys }, 100);
    const started = performance.now();
    const [first, second] = await Promise.all([health.readiness(), health.readiness()]);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(first).toEqual({
      status: 'unavailable',
      checks: { database: 'timeout', migrations: 'unknown', signing_keys: 'ok' },
      failing: ['database', 'migrations'],
    });
    expect(second).toBe(first); // probes arriving together share one check
  });
});

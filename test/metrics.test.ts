import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';
import { openService } from '../src/service';
import { DATABASE_KINDS, freshDatabase } from './support/database';
import { startTestService, type TestService } from './support/service';

/** Prometheus text format → series (`name{a="1",b="2"}`, labels sorted) → value. */
function parseMetrics(text: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`unparsable metrics line: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => `${k}="${v}"`).sort();
    series.set(labels.length ? `${match[1]}{${labels.join(',')}}` : match[1]!, Number(match[3]));
  }
  return series;
}

describe.each(DATABASE_KINDS)('metrics (%s)', (kind) => {
  let h: TestService;
  let creds: { id: string; secret: string };

  beforeAll(async () => {
    h = await startTestService(kind);
    const account = await h.createAccount();
    creds = { id: account.client_id, secret: account.secret.secret };
  });
  afterAll(() => h?.close());

  async function scrape(): Promise<Map<string, number>> {
    const res = await h.fetch('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parseMetrics(res.text);
  }
  const value = (m: Map<string, number>, series: string) => m.get(series) ?? 0;

  const ISSUED = 'token_service_tokens_issued_total{grant_type="client_credentials"}';
  const BAD_SECRET = 'token_service_tokens_denied_total{error="invalid_client",reason="bad_secret"}';
  const UNSUPPORTED = 'token_service_tokens_denied_total{error="unsupported_grant_type",reason="unsupported_grant_type"}';
  const LATENCY_COUNT = 'token_service_token_request_duration_seconds_count';
  const HITS = 'token_service_credential_cache_hits_total';
  const MISSES = 'token_service_credential_cache_misses_total';

  it('counts issued and denied tokens by label, and times every token request', async () => {
    const before = await scrape();
    expect((await h.token({ grant_type: 'client_credentials' }, creds)).status).toBe(200);
    const wrong = { id: creds.id, secret: `${creds.secret.slice(0, -4)}${creds.secret.endsWith('AAAA') ? 'BBBB' : 'AAAA'}` };
    expect((await h.token({ grant_type: 'client_credentials' }, wrong)).status).toBe(401);
    expect((await h.token({ grant_type: 'password' }, creds)).status).toBe(400);
    const after = await scrape();

    expect(value(after, ISSUED) - value(before, ISSUED)).toBe(1);
    expect(value(after, BAD_SECRET) - value(before, BAD_SECRET)).toBe(1);
    expect(value(after, UNSUPPORTED) - value(before, UNSUPPORTED)).toBe(1);
    expect(value(after, LATENCY_COUNT) - value(before, LATENCY_COUNT)).toBe(3);
    expect(value(after, 'token_service_token_request_duration_seconds_sum')).toBeGreaterThan(0);
    expect(value(after, 'token_service_token_request_duration_seconds_bucket{le="+Inf"}')).toBe(value(after, LATENCY_COUNT));
  });

  it('shows credential cache hits growing on a repeated request', async () => {
    expect((await h.token({ grant_type: 'client_credentials' }, creds)).status).toBe(200);
    const before = await scrape();
    expect((await h.token({ grant_type: 'client_credentials' }, creds)).status).toBe(200);
    const after = await scrape();
    expect(value(after, HITS) - value(before, HITS)).toBe(1);
    expect(value(after, MISSES) - value(before, MISSES)).toBe(0);
    expect(value(after, 'token_service_credential_cache_entries')).toBeGreaterThanOrEqual(1);
  });

  it('reports the argon2 queue, the buffers, the pool and the process', async () => {
    const m = await scrape();
    expect(m.get('token_service_argon2_queue_depth')).toBe(0);
    expect(m.get('token_service_argon2_running')).toBe(0);
    // token events wait for the next flush (FLUSH_INTERVAL_MS); nothing flushed them since the last request
    expect(m.get('token_service_audit_buffer_events')).toEqual(expect.any(Number));
    expect(m.get('token_service_last_used_buffer_entries')).toEqual(expect.any(Number));
    expect(m.get('token_service_database_pool_max_connections')).toBe(kind === 'pglite' ? 1 : 5);
    expect(m.get('process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(m.has('nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('counts what is buffered for the audit trail until it is flushed', async () => {
    await h.service.flush();
    expect(value(await scrape(), 'token_service_audit_buffer_events')).toBe(0);
    expect((await h.token({ grant_type: 'client_credentials' }, creds)).status).toBe(200);
    expect(value(await scrape(), 'token_service_audit_buffer_events')).toBe(1);
  });
});

describe('metrics with METRICS_TOKEN', () => {
  const token = randomBytes(24).toString('base64url');
  let h: TestService;

  beforeAll(async () => {
    h = await startTestService('pglite', { METRICS_TOKEN: token });
  });
  afterAll(() => h?.close());

  it('answers only with the bearer token', async () => {
    expect((await h.fetch('/metrics')).status).toBe(401);
    expect((await h.fetch('/metrics', { headers: { authorization: `Bearer ${token}x` } })).status).toBe(401);
    expect((await h.fetch('/metrics', { headers: { authorization: `Basic ${token}` } })).status).toBe(401);
    const res = await h.fetch('/metrics', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.text).toContain('token_service_tokens_issued_total');
  });

  it('keeps a registry per service: a second service in this process has its own counts', async () => {
    const own = parseMetrics((await h.fetch('/metrics', { headers: { authorization: `Bearer ${token}` } })).text);
    // this service issued just its bootstrap admin's tokens, none of the other suite's
    expect(own.get('token_service_tokens_issued_total{grant_type="client_credentials"}') ?? 0).toBeLessThanOrEqual(1);
  });
});

describe.skipIf(!DATABASE_KINDS.includes('postgres'))('the PostgreSQL pool (needs TEST_DATABASE_URL)', () => {
  it('has DATABASE_POOL_SIZE connections at most, as /metrics reports', async () => {
    const database = await freshDatabase('postgres');
    const keysDir = await mkdtemp(join(tmpdir(), 'pool-keys-'));
    const service = await openService(
      loadConfig({ DATABASE_URL: database.url!, DATABASE_POOL_SIZE: '3', KEYS_DIR: keysDir, LOG_LEVEL: 'silent' }),
    );
    try {
      const url = await service.listen(0, '127.0.0.1');
      const res = await fetch(`${url}/metrics`);
      expect(res.status).toBe(200);
      expect(parseMetrics(await res.text()).get('token_service_database_pool_max_connections')).toBe(3);
    } finally {
      await service.close();
      await database.destroy();
      await rm(keysDir, { recursive: true, force: true });
    }
  });
});

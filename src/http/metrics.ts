import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CredentialCache } from '../accounts/credential-cache';
import type { LastUsedTracker } from '../accounts/last-used';
import type { PasswordHasher } from '../accounts/password-hasher';
import type { AuditLog } from '../audit/audit-log';
import type { DatabaseHandle } from '../db/connect';
import type { TokenOutcomes } from '../oauth/token-endpoint';

/** What the gauges read when scraped: nothing is sampled between scrapes. */
export interface MetricSources {
  hasher: PasswordHasher;
  credentials: CredentialCache;
  audit: AuditLog;
  lastUsed: LastUsedTracker;
  database: DatabaseHandle;
}

const PREFIX = 'token_service_';
/** From a cache hit (about a millisecond) to argon2 waiting in line (hundreds). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The service's Prometheus metrics, on a registry of its own (never prom-client's global one: tests run
 * several services in one process). Counting on the hot path is O(1) with label children bound once;
 * gauges are read from their sources when /metrics is scraped.
 */
export class ServiceMetrics implements TokenOutcomes {
  readonly registry = new Registry();
  private readonly issuedTotal: Counter<'grant_type'>;
  private readonly deniedTotal: Counter<'error' | 'reason'>;
  private readonly tokenLatency: Histogram;
  /** Label children by value: `labels()` hashes its arguments, so each combination is bound once. */
  private readonly issuedBy = new Map<string, Counter.Internal>();
  private readonly deniedBy = new Map<string, Counter.Internal>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });

    this.issuedTotal = new Counter({
      name: `${PREFIX}tokens_issued_total`,
      help: 'Access tokens issued, by grant type.',
      labelNames: ['grant_type'],
      registers,
    });
    this.deniedTotal = new Counter({
      name: `${PREFIX}tokens_denied_total`,
      help: 'Token requests refused, by the OAuth error the client saw and the real reason (as in the audit trail).',
      labelNames: ['error', 'reason'],
      registers,
    });
    this.tokenLatency = new Histogram({
      name: `${PREFIX}token_request_duration_seconds`,
      help: 'Time to answer POST /oauth/token, whatever the outcome.',
      buckets: LATENCY_BUCKETS,
      registers,
    });

    const { hasher, credentials, audit, lastUsed, database } = sources;
    gauge(registers, 'argon2_queue_depth', 'argon2 computations waiting for a slot (ARGON2_MAX_CONCURRENCY).', () => hasher.queued);
    gauge(registers, 'argon2_running', 'argon2 computations running now.', () => hasher.running);
    mirroredCounter(registers, 'credential_cache_hits_total', 'Client authentications answered from the verified-credential cache.', () => credentials.hits);
    mirroredCounter(registers, 'credential_cache_misses_total', 'Client authentications the verified-credential cache could not answer.', () => credentials.misses);
    gauge(registers, 'credential_cache_entries', 'Verified credentials held by this process.', () => credentials.size);
    gauge(registers, 'audit_buffer_events', 'Audit events waiting to be written (FLUSH_INTERVAL_MS).', () => audit.pending);
    gauge(registers, 'last_used_buffer_entries', 'Last-used times waiting to be written.', () => lastUsed.size);
    // postgres.js publishes no pool statistics: its configured size is what we can report honestly.
    const poolMax = database.kind === 'pglite' ? 1 : poolSizeOf(database);
    if (poolMax !== undefined) {
      gauge(registers, 'database_pool_max_connections', 'Connections the database pool may open (PGlite: 1, in process).', () => poolMax);
    }
  }

  issued(grantType: string): void {
    let child = this.issuedBy.get(grantType);
    if (!child) this.issuedBy.set(grantType, (child = this.issuedTotal.labels(grantType)));
    child.inc();
  }

  denied(error: string, reason: string | undefined): void {
    const key = `${error} ${reason ?? ''}`;
    let child = this.deniedBy.get(key);
    if (!child) this.deniedBy.set(key, (child = this.deniedTotal.labels(error, reason ?? 'unspecified')));
    child.inc();
  }

  /** Middleware timing POST /oauth/token, from the first byte we see to the response. */
  readonly timeTokenRequests: MiddlewareHandler = async (c, next) => {
    if (c.req.method !== 'POST') return next();
    const started = performance.now();
    await next();
    this.tokenLatency.observe((performance.now() - started) / 1000);
  };
}

/**
 * GET /metrics in the Prometheus text format. With `token` (METRICS_TOKEN), only for
 * `Authorization: Bearer <token>`, compared in constant time; without, open to whoever reaches the port.
 */
export function metricsRoutes(metrics: ServiceMetrics, token: string | undefined): Hono {
  const app = new Hono();
  const expected = token === undefined ? undefined : digest(token);
  app.get('/metrics', async (c) => {
    if (expected && !bearerMatches(c.req.header('authorization'), expected)) {
      return c.json({ error: 'unauthorized' }, 401, { 'WWW-Authenticate': 'Bearer realm="metrics"', 'Cache-Control': 'no-store' });
    }
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
  });
  return app;
}

function bearerMatches(header: string | undefined, expected: Buffer): boolean {
  const match = header === undefined ? null : /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

const digest = (value: string) => createHash('sha256').update(value).digest();

function gauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name: `${PREFIX}${name}`,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/** A counter kept by its source (a plain number that only grows), copied at scrape time. */
function mirroredCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  new Counter({
    name: `${PREFIX}${name}`,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

function poolSizeOf(database: DatabaseHandle): number | undefined {
  const client = (database.db as { $client?: { options?: { max?: unknown } } }).$client;
  const max = client?.options?.max;
  return typeof max === 'number' ? max : undefined;
}

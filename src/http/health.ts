import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { Hono, type MiddlewareHandler } from 'hono';
import { MIGRATIONS_FOLDER, type DatabaseHandle } from '../db/connect';
import type { KeyStore } from '../tokens/key-store';
import { setResponseHeader } from './response-header';

export type CheckName = 'accepting' | 'database' | 'migrations' | 'signing_keys';

export interface Readiness {
  status: 'ok' | 'unavailable';
  /** Each check and its result: `ok`, or a short word for what is wrong (never an error's text). */
  checks: Partial<Record<CheckName, string>>;
  /** The checks that failed; absent when ready. */
  failing?: CheckName[];
}

export interface HealthSources {
  database: DatabaseHandle;
  keys: KeyStore;
}

/** A readiness probe must answer before the prober's own timeout (one second by default on Kubernetes). */
const DATABASE_TIMEOUT_MS = 800;
const NO_STORE = { 'Cache-Control': 'no-store' } as const;

/**
 * Whether this process can serve tokens: the database answers `select 1` quickly, every migration this
 * build ships is applied, a signing key is loaded, and we are not shutting down. Probes arriving together
 * share one check, so a flood of /readyz costs one query at a time.
 */
export class ServiceHealth {
  private migrationsApplied = false;
  private isDraining = false;
  private inFlight: Promise<Readiness> | undefined;

  private constructor(
    private readonly sources: HealthSources,
    private readonly expectedMigrations: number,
    private readonly timeoutMs: number,
  ) {}

  /** Reads how many migrations this build ships (drizzle/meta/_journal.json). */
  static async create(sources: HealthSources, timeoutMs = DATABASE_TIMEOUT_MS): Promise<ServiceHealth> {
    const journal = JSON.parse(await readFile(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8')) as {
      entries: unknown[];
    };
    return new ServiceHealth(sources, journal.entries.length, timeoutMs);
  }

  /** Shutdown has begun: readiness fails, and every response asks the client to close its connection. */
  startDraining(): void {
    this.isDraining = true;
  }

  get draining(): boolean {
    return this.isDraining;
  }

  readiness(): Promise<Readiness> {
    this.inFlight ??= this.check().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async check(): Promise<Readiness> {
    const checks: Readiness['checks'] = {};
    if (this.draining) checks.accepting = 'shutting_down';
    checks.signing_keys = this.hasSigningKey() ? 'ok' : 'missing';
    checks.database = await this.databaseAnswers();
    if (checks.database !== 'ok') checks.migrations = 'unknown';
    else checks.migrations = (await this.migrationsAreApplied()) ? 'ok' : 'pending';
    const failing = (Object.keys(checks) as CheckName[]).filter((name) => checks[name] !== 'ok');
    return failing.length === 0 ? { status: 'ok', checks } : { status: 'unavailable', checks, failing };
  }

  private hasSigningKey(): boolean {
    try {
      this.sources.keys.signingKey();
      return true;
    } catch {
      return false;
    }
  }

  private async databaseAnswers(): Promise<'ok' | 'timeout' | 'error'> {
    return this.withinTimeout(this.sources.database.db.execute(sql`select 1`)).then(
      (outcome) => (outcome === 'timeout' ? 'timeout' : 'ok'),
      () => 'error',
    );
  }

  /** As many rows in drizzle's migrations table as this build ships (or more: a newer build ran). Once true, stays true. */
  private async migrationsAreApplied(): Promise<boolean> {
    if (this.migrationsApplied) return true;
    try {
      const rows = await this.withinTimeout(
        this.sources.database.db
          .select({ applied: sql<number>`count(*)::int` })
          .from(sql`drizzle.__drizzle_migrations`),
      );
      this.migrationsApplied = rows !== 'timeout' && (rows[0]?.applied ?? 0) >= this.expectedMigrations;
    } catch {
      // no migrations table at all: nothing is applied
    }
    return this.migrationsApplied;
  }

  private withinTimeout<T>(work: Promise<T>): Promise<T | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    work.catch(() => {}); // if it loses the race, its late failure must not become an unhandled rejection
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }
}

/**
 * GET /healthz: the process is alive and its event loop turns (no I/O). GET /readyz: 200 when ready to
 * serve tokens, else 503 naming the failing checks.
 */
export function healthRoutes(health: ServiceHealth): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200, NO_STORE));
  app.get('/readyz', async (c) => {
    const readiness = await health.readiness();
    return c.json(readiness, readiness.status === 'ok' ? 200 : 503, NO_STORE);
  });
  return app;
}

/**
 * While draining, every response carries `Connection: close`, so a keep-alive client opens its next
 * connection elsewhere instead of feeding this process requests until the shutdown deadline.
 */
export function closeConnectionsWhileDraining(health: ServiceHealth): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (health.draining) setResponseHeader(c, 'Connection', 'close');
  };
}

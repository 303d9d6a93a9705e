import net, { type AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import { bootstrapAdmin } from './accounts/bootstrap-admin';
import type { AccountsContext } from './accounts/context';
import { CredentialCache } from './accounts/credential-cache';
import { LastUsedTracker } from './accounts/last-used';
import { PasswordHasher } from './accounts/password-hasher';
import { RoleDirectory } from './accounts/role-directory';
import { createApp } from './app';
import { purgeAuditEvents } from './audit/audit-events';
import { AuditLog } from './audit/audit-log';
import type { Config } from './config';
import { DatabaseCircuit } from './db/availability';
import { connectDatabase, type DatabaseHandle } from './db/connect';
import { ServiceHealth } from './http/health';
import { ServiceMetrics } from './http/metrics';
import { AccountRateLimiter } from './limits/account-rate-limit';
import { BruteForceGuard } from './limits/brute-force';
import { purgeExpiredCounters } from './limits/counters';
import { createLogger, loggableError } from './logger';
import { JtiReplayGuard } from './oauth/jti-replay';
import { watchKeyFolder } from './tokens/key-folder-watch';
import { KeyStore } from './tokens/key-store';

export interface ServiceOptions {
  clock?: () => Date;
  logger?: Logger;
  /** An already connected database (tests pass a fresh one); by default, connect from config. */
  database?: DatabaseHandle;
}

export interface Service {
  app: Hono;
  accounts: AccountsContext;
  keys: KeyStore;
  database: DatabaseHandle;
  logger: Logger;
  audit: AuditLog;
  lastUsed: LastUsedTracker;
  metrics: ServiceMetrics;
  health: ServiceHealth;
  /** Starts listening; resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Writes buffered audit events and last-used times now (a timer does it every FLUSH_INTERVAL_MS). */
  flush(): Promise<void>;
  /** Deletes audit events older than AUDIT_RETENTION_DAYS and expired rate-limit counters (hourly on a timer). */
  purgeExpired(): Promise<{ auditEvents: number }>;
  /**
   * Stops accepting and watching KEYS_DIR; lets in-flight requests finish (their connections then close)
   * and closes idle keep-alive connections after `idleGraceMs` (default 1000), cutting whatever is still
   * open after `timeoutMs` (default SHUTDOWN_TIMEOUT_SECONDS); flushes the buffers, then closes the
   * database (unless passed in).
   */
  close(options?: { timeoutMs?: number; idleGraceMs?: number }): Promise<void>;
}

const PURGE_INTERVAL_MS = 3_600_000;

/**
 * config -> database (migrated) -> signing keys -> bootstrap admin -> app; buffers flushed on a timer; the
 * keys folder watched.
 */
export async function openService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const clock = options.clock ?? (() => new Date());
  const database =
    options.database ??
    (await connectDatabase({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      maxConnections: config.databasePoolSize,
    }));
  await database.migrate();
  await database.refreshStatistics();
  const keys = await KeyStore.open({
    dir: config.keysDir,
    alg: config.signingAlg,
    maxTokenTtlSeconds: config.maxTokenTtlSeconds,
    envKey: config.signingKey,
    clock,
    onProblem: (file, problem) => logger.warn({ keys_dir: config.keysDir, file, problem }, 'key file ignored'),
  });
  keys.onChange(() =>
    logger.info({ kid: keys.signingKid, published: keys.publicKeys.map((k) => k.kid) }, 'signing keys changed'),
  );
  const credentials = new CredentialCache(config.credentialCache, logger);
  await credentials.attach(database);
  // PostgreSQL may go away or go silent: bound the hot path's reads (PGlite is in-process).
  const hotReads = database.kind === 'postgres' ? new DatabaseCircuit() : undefined;
  const accounts: AccountsContext = {
    db: database.db,
    clock,
    hasher: new PasswordHasher(config.argon2),
    credentials,
    ...(hotReads ? { hotReads } : {}),
    // Custom roles in memory, kept current by the notifications `credentials` listens to.
    roles: new RoleDirectory(
      { db: database.db, credentials, ...(hotReads ? { hotReads } : {}) },
      { unreachableGraceMs: config.credentialCache.ttlMs },
    ),
    settings: {
      secretTtlDays: config.secretTtlDays,
      maxActiveSecrets: config.maxActiveSecrets,
      expiringSoonDays: config.expiringSoonDays,
    },
  };
  if (config.bootstrapAdmin) {
    const result = await bootstrapAdmin(accounts, {
      adminAudience: config.adminAudience,
      clientId: config.bootstrapAdmin.clientId,
      clientSecret: config.bootstrapAdmin.clientSecret,
    });
    logger.info({ client_id: result.clientId, created: result.created }, 'bootstrap admin');
  }
  const audit = new AuditLog(database.db, logger, database.copyFrom ? { copyFrom: database.copyFrom } : {});
  const lastUsed = new LastUsedTracker(database.db, logger);
  const rateLimiter = new AccountRateLimiter(config.rateLimitStore, database.db, clock);
  const bruteForce = new BruteForceGuard(config.rateLimitStore, database.db, clock, config.bruteForce);
  const replay = new JtiReplayGuard(database.db);
  const metrics = new ServiceMetrics({ hasher: accounts.hasher, credentials, audit, lastUsed, database });
  const health = await ServiceHealth.create({ database, keys });
  const app = createApp({
    config,
    accounts,
    keys,
    logger,
    audit,
    lastUsed,
    rateLimiter,
    bruteForce,
    replay,
    metrics,
    health,
  });

  const flush = async () => {
    await Promise.all([audit.flush(), lastUsed.flush()]);
  };
  const purgeExpired = async () => {
    const now = clock();
    const auditEvents = await purgeAuditEvents(database.db, new Date(now.getTime() - config.auditRetentionDays * 86_400_000));
    // Real time, not the service clock: rate-limiter-flexible stamps a counter's expiry with Date.now().
    if (config.rateLimitStore === 'database') await purgeExpiredCounters(database.db, new Date());
    await replay.purge(now);
    await database.refreshStatistics();
    return { auditEvents };
  };
  const logFailure = (what: string) => (error: unknown) =>
    logger.warn({ err: loggableError(error) }, `${what} failed`);
  const flushTimer = setInterval(() => void flush().catch(logFailure('flush')), config.flushIntervalMs);
  const purgeTimer = setInterval(() => void purgeExpired().catch(logFailure('purge')), PURGE_INTERVAL_MS);
  flushTimer.unref();
  purgeTimer.unref();
  // Rotations by the CLI (or anything writing KEYS_DIR) reach this instance without a restart.
  const keyWatch = watchKeyFolder(config.keysDir, () => void keys.reload().catch(logFailure('key reload')), {
    onError: (error) => logger.warn({ err: { message: error.message } }, 'cannot watch the keys folder; polling it'),
  });
  void purgeExpired().catch(logFailure('purge'));

  let server: ServerType | undefined;
  let closed = false;

  return {
    app,
    accounts,
    keys,
    database,
    logger,
    audit,
    lastUsed,
    metrics,
    health,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
          const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
          resolve(`http://${shownHost}:${info.port}`);
        });
        server.once('error', reject);
      });
    },
    flush,
    purgeExpired,
    async close({ timeoutMs = config.shutdownTimeoutSeconds * 1000, idleGraceMs = IDLE_GRACE_MS } = {}) {
      if (closed) return;
      closed = true;
      clearInterval(flushTimer);
      clearInterval(purgeTimer);
      keyWatch.close();
      health.startDraining();
      if (server) await drain(server, { timeoutMs, idleGraceMs }, logger);
      audit.stopPacing();
      await flush().catch(logFailure('final flush'));
      await credentials.detach().catch(logFailure('unlisten'));
      if (!options.database) await database.close();
    },
  };
}

/**
 * Once draining, idle keep-alive connections are closed only after this long, so that a client between two
 * requests has sent its next one (answered with `Connection: close`) by then; then every IDLE_SWEEP_MS.
 */
const IDLE_GRACE_MS = 1000;
const IDLE_SWEEP_MS = 250;

/**
 * Stops accepting connections and waits for in-flight requests; every response now carries `Connection:
 * close` (see http/health.ts), so a busy connection closes after its response. Idle keep-alive connections
 * are closed a second later, not at once: a request its client just sent may still be unread in the socket,
 * or about to be sent, and closing the connection then resets that request (http.Server's close() closes
 * them at once, so only the listener is closed here). At `timeoutMs`, whatever is still open is cut.
 */
async function drain(
  server: ServerType,
  { timeoutMs, idleGraceMs }: { timeoutMs: number; idleGraceMs: number },
  logger: Logger,
): Promise<void> {
  const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
  if (!('closeIdleConnections' in server)) return closed; // HTTP/2: sessions end with the listener
  const http1 = server;
  // From the check phase, i.e. once the poll phase of this loop turn has read whatever requests arrived.
  const sweepIdle = () => setImmediate(() => http1.closeIdleConnections());
  let sweep: NodeJS.Timeout | undefined;
  const firstSweep = setTimeout(() => {
    sweepIdle();
    sweep = setInterval(sweepIdle, IDLE_SWEEP_MS);
  }, idleGraceMs);
  let deadline: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    deadline = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    if ((await Promise.race([closed, timedOut])) === 'timeout') {
      logger.warn({ timeout_ms: timeoutMs }, 'shutdown deadline reached: closing the connections still open');
      http1.closeAllConnections();
      await closed;
    }
  } finally {
    clearTimeout(firstSweep);
    clearInterval(sweep);
    clearTimeout(deadline);
  }
}

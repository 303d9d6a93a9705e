import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import pino, { type Logger } from 'pino';
import { bootstrapAdmin } from './accounts/bootstrap-admin';
import type { AccountsContext } from './accounts/context';
import { CredentialCache } from './accounts/credential-cache';
import { LastUsedTracker } from './accounts/last-used';
import { PasswordHasher } from './accounts/password-hasher';
import { createApp } from './app';
import { purgeAuditEvents } from './audit/audit-events';
import { AuditLog } from './audit/audit-log';
import type { Config } from './config';
import { connectDatabase, type DatabaseHandle } from './db/connect';
import { AccountRateLimiter } from './limits/account-rate-limit';
import { BruteForceGuard } from './limits/brute-force';
import { purgeExpiredCounters } from './limits/counters';
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
  /** Starts listening; resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Writes buffered audit events and last-used times now (a timer does it every FLUSH_INTERVAL_MS). */
  flush(): Promise<void>;
  /** Deletes audit events older than AUDIT_RETENTION_DAYS and expired rate-limit counters (hourly on a timer). */
  purgeExpired(): Promise<{ auditEvents: number }>;
  /** Stops accepting and watching KEYS_DIR, flushes the buffers, then closes the database (unless passed in). */
  close(): Promise<void>;
}

const PURGE_INTERVAL_MS = 3_600_000;

/**
 * config -> database (migrated) -> signing keys -> bootstrap admin -> app; buffers flushed on a timer; the
 * keys folder watched.
 */
export async function openService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const clock = options.clock ?? (() => new Date());
  const database =
    options.database ?? (await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
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
  const accounts: AccountsContext = {
    db: database.db,
    clock,
    hasher: new PasswordHasher(config.argon2),
    credentials,
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
  const audit = new AuditLog(database.db, logger);
  const lastUsed = new LastUsedTracker(database.db, logger);
  const rateLimiter = new AccountRateLimiter(config.rateLimitStore, database.db, clock);
  const bruteForce = new BruteForceGuard(config.rateLimitStore, database.db, clock, config.bruteForce);
  const replay = new JtiReplayGuard(database.db);
  const app = createApp({ config, accounts, keys, logger, audit, lastUsed, rateLimiter, bruteForce, replay });

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
    logger.warn({ err: { message: (error as Error).message } }, `${what} failed`);
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
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(flushTimer);
      clearInterval(purgeTimer);
      keyWatch.close();
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => s.close(() => resolve()));
        if ('closeAllConnections' in s) s.closeAllConnections();
      }
      await flush().catch(logFailure('final flush'));
      await credentials.detach().catch(logFailure('unlisten'));
      if (!options.database) await database.close();
    },
  };
}

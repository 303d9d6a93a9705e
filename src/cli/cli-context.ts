import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import pino from 'pino';
import type { AccountsContext } from '../accounts/context';
import { CredentialCache } from '../accounts/credential-cache';
import { PasswordHasher } from '../accounts/password-hasher';
import { AuditLog, type AuditEvent } from '../audit/audit-log';
import { ConfigError, type Config } from '../config';
import { connectDatabase, DataDirInUseError, type DatabaseHandle } from '../db/connect';
import { errorMessage, withProgress } from './output';

/** What a change made through the CLI records, as the admin API records its own changes. */
export type CliChange = Pick<AuditEvent, 'action' | 'accountId' | 'clientId' | 'secretId' | 'details'>;

/** What the database commands work with: the same account domain and audit trail as the admin API. */
export interface CliContext {
  config: Config;
  database: DatabaseHandle;
  accounts: AccountsContext;
  /**
   * Writes a change to the audit trail now, as the admin API does, with actor `cli:<OS user>`. Throws when
   * it cannot be written (the change itself is made by then: the message says so).
   */
  audit(change: CliChange): Promise<void>;
  close(): Promise<void>;
}

/** Who acted, in the audit trail: the CLI and the operating-system user running it. */
function cliActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/**
 * Opens the service's database as the service does (PGlite in DATA_DIR, or DATABASE_URL; migrations
 * applied) and builds the account domain's context on it. The context LISTENs for account changes like an
 * instance, so a change returns once PostgreSQL has dispatched its NOTIFY to every instance (whose caches
 * then drop the account): see changeAccount. Nothing is cached here (TTL 0), and KEYS_DIR is not touched.
 *
 * `create`: whether a missing PGlite folder may be created (bootstrap-admin, before the first start). Every
 * other command refuses, so that a CLI run from the wrong directory does not silently show an empty database.
 */
export async function openCliContext(config: Config, options: { create?: boolean } = {}): Promise<CliContext> {
  if (!config.databaseUrl && !config.dataDir.includes('://') && !options.create) {
    if (!existsSync(join(config.dataDir, 'PG_VERSION'))) {
      throw new ConfigError(
        `no database in DATA_DIR=${config.dataDir}${isAbsolute(config.dataDir) ? '' : ` (${resolve(config.dataDir)})`}: ` +
          "run the CLI with the service's " +
          'environment (DATA_DIR, or DATABASE_URL) and from its directory, since relative paths are resolved from here',
      );
    }
  }
  let database: DatabaseHandle;
  try {
    database = await withProgress('opening the database', () =>
      connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, maxConnections: 2 }),
    );
  } catch (error) {
    if (!(error instanceof DataDirInUseError)) throw error;
    throw new DataDirInUseError(
      `${error.message}.\nOn PGlite the running service owns its data folder: make this change through the admin API ` +
        '(/admin/v1) while it runs, or stop the service, run the command, and start it again.',
    );
  }
  const credentials = new CredentialCache({ ttlMs: 0, maxEntries: 1 });
  try {
    // The first round trip: an unreachable PostgreSQL shows here (postgres.js never puts the URL's password
    // in its messages).
    await withProgress('migrating the database', () => database.migrate());
    await credentials.attach(database);
  } catch (error) {
    await database.close().catch(() => {});
    throw new Error(`cannot use the database${config.databaseUrl ? ' (DATABASE_URL)' : ''}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  const accounts: AccountsContext = {
    db: database.db,
    clock: () => new Date(),
    hasher: new PasswordHasher(config.argon2),
    credentials,
    settings: {
      secretTtlDays: config.secretTtlDays,
      maxActiveSecrets: config.maxActiveSecrets,
      expiringSoonDays: config.expiringSoonDays,
    },
  };
  // Failed writes are reported by `audit` itself (pending events), not logged.
  const trail = new AuditLog(database.db, pino({ level: 'silent' }));
  const actor = cliActor();
  const userAgent = `cc-token-service-cli (${hostname()})`;
  let closed = false;

  return {
    config,
    database,
    accounts,
    async audit(change) {
      trail.record({ occurredAt: accounts.clock(), outcome: 'success', actor, userAgent, ...change });
      await trail.flush();
      if (trail.pending > 0) {
        throw new Error(`the change was made, but its audit event (${change.action}) could not be written`);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await credentials.detach().catch(() => {});
      await database.close();
    },
  };
}

/** Opens the context, runs `work` with it, and closes it whatever happens. */
export async function withCliContext<T>(
  config: Config,
  work: (cli: CliContext) => Promise<T>,
  options: { create?: boolean } = {},
): Promise<T> {
  const cli = await openCliContext(config, options);
  try {
    return await work(cli);
  } finally {
    await cli.close();
  }
}

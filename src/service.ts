import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import pino, { type Logger } from 'pino';
import { bootstrapAdmin } from './accounts/bootstrap-admin';
import type { AccountsContext } from './accounts/context';
import { PasswordHasher } from './accounts/password-hasher';
import { createApp } from './app';
import type { Config } from './config';
import { connectDatabase, type DatabaseHandle } from './db/connect';
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
  /** Starts listening; resolves with the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, then closes the database (unless it was passed in). */
  close(): Promise<void>;
}

/** config -> database (migrated) -> signing keys -> bootstrap admin -> app. */
export async function openService(config: Config, options: ServiceOptions = {}): Promise<Service> {
  const logger = options.logger ?? pino({ level: config.logLevel });
  const clock = options.clock ?? (() => new Date());
  const database =
    options.database ?? (await connectDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  await database.migrate();
  const keys = await KeyStore.open(config.keysDir, config.signingAlg, clock);
  const accounts: AccountsContext = {
    db: database.db,
    clock,
    hasher: new PasswordHasher(config.argon2),
    settings: { secretTtlDays: config.secretTtlDays, maxActiveSecrets: config.maxActiveSecrets },
  };
  if (config.bootstrapAdmin) {
    const result = await bootstrapAdmin(accounts, {
      adminAudience: config.adminAudience,
      clientId: config.bootstrapAdmin.clientId,
      clientSecret: config.bootstrapAdmin.clientSecret,
    });
    logger.info({ client_id: result.clientId, created: result.created }, 'bootstrap admin');
  }
  const app = createApp({ config, accounts, keys, logger });
  let server: ServerType | undefined;

  return {
    app,
    accounts,
    keys,
    database,
    logger,
    listen(port = config.port, host = config.host) {
      return new Promise((resolve, reject) => {
        server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
          const shownHost = info.family === 'IPv6' ? `[${info.address}]` : info.address;
          resolve(`http://${shownHost}:${info.port}`);
        });
        server.once('error', reject);
      });
    },
    async close() {
      if (server) {
        const s = server;
        await new Promise<void>((resolve) => s.close(() => resolve()));
        if ('closeAllConnections' in s) s.closeAllConnections();
      }
      if (!options.database) await database.close();
    },
  };
}

import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { reconnectBackoff } from './availability';
import { listenPostgres, type ListenCallbacks } from './postgres-listener';
import * as schema from './schema';

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  kind: 'pglite' | 'postgres';
  /**
   * Applies the committed drizzle/ migrations not yet applied; safe when several instances start at once.
   * `folder`: another migrations folder (tests pass an older set to build a database as it was).
   */
  migrate(folder?: string): Promise<void>;
  /**
   * LISTEN on a channel (NOTIFY is sent with pg_notify inside the transaction it announces). `onListen` runs
   * whenever the listening connection is (re)established, `onLost` when it drops: notifications sent in
   * between are lost, and the caller must assume anything changed. Resolves with a function that stops
   * listening.
   */
  listen(channel: string, callbacks: ListenCallbacks): Promise<() => Promise<void>>;
  /**
   * Refreshes the planner's statistics. PostgreSQL's autovacuum does it by itself; PGlite has no autovacuum,
   * so without this its planner never learns the tables' sizes and picks sequential scans (the service calls
   * it at start and hourly).
   */
  refreshStatistics(): Promise<void>;
  /**
   * PGlite only: runs `COPY … FROM '/dev/blob'` with `csv` as the data. Bulk inserts through COPY cost our
   * thread about 20% less than an INSERT … SELECT over a JSON parameter (measured: ~40 against ~50 µs per
   * audit row), and on PGlite every row inserted is our own thread's time. (On PostgreSQL that time is the
   * server's; there is no need.)
   */
  copyFrom?(copySql: string, csv: string): Promise<void>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** postgres://… ; when absent, embedded PGlite is used. */
  databaseUrl?: string | undefined;
  /** PGlite data folder, or `memory://` for a throw-away database. */
  dataDir?: string;
  /** Pool size for PostgreSQL. */
  maxConnections?: number;
}

/**
 * The committed drizzle/ folder: the nearest one above this module, whether it runs from src/db/ (tsx) or
 * from the dist/ bundle (`npm run build`).
 */
export const MIGRATIONS_FOLDER = findMigrationsFolder(dirname(fileURLToPath(import.meta.url)));

function findMigrationsFolder(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'drizzle');
    if (existsSync(join(candidate, 'meta', '_journal.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`no drizzle/ migrations folder above ${from}`);
  }
}

/**
 * PGlite runs inside our process, so its buffers are our memory. PostgreSQL's default shared_buffers (128 MB)
 * would be most of the service's RSS; our working set (accounts, secrets, the newest audit rows) is far
 * smaller, and the operating system caches the data folder's files anyway.
 */
const PGLITE_SETTINGS = ['shared_buffers=16MB'];

/** Arbitrary constant: the advisory lock that serialises migrations across instances. */
const MIGRATION_LOCK_ID = 727_011_2026;

export async function connectDatabase(options: ConnectOptions): Promise<DatabaseHandle> {
  if (options.databaseUrl) return connectPostgres(options.databaseUrl, options.maxConnections ?? 10);
  return connectPglite(options.dataDir ?? './data');
}

async function connectPglite(dataDir: string): Promise<DatabaseHandle> {
  const release = dataDir.includes('://') ? () => {} : lockDataDir(dataDir);
  // Loaded only when used: PGlite's module alone is ~45 MB of RSS that a PostgreSQL instance does not need.
  const [{ PGlite }, { pg_trgm }, { drizzle: drizzlePglite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('@electric-sql/pglite/contrib/pg_trgm'),
    import('drizzle-orm/pglite'),
  ]);
  let client: PGlite;
  try {
    client = await PGlite.create(dataDir, { extensions: { pg_trgm }, postgresqlconf: PGLITE_SETTINGS });
  } catch (error) {
    release();
    throw error;
  }
  const db = drizzlePglite({ client, schema }) as unknown as Database;
  return {
    db,
    kind: 'pglite',
    async migrate(folder = MIGRATIONS_FOLDER) {
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      await migrate(db as never, { migrationsFolder: folder });
    },
    async listen(channel, callbacks) {
      // In-process: the listener never loses its connection.
      const stop = await client.listen(channel, callbacks.onMessage);
      callbacks.onListen();
      return () => stop();
    },
    async refreshStatistics() {
      await client.exec('analyze');
    },
    async copyFrom(copySql, csv) {
      await client.query(copySql, [], { blob: new Blob([csv]) });
    },
    async close() {
      try {
        await client.close();
      } finally {
        release();
      }
    },
  };
}

async function connectPostgres(url: string, max: number): Promise<DatabaseHandle> {
  const [{ default: postgres }, { drizzle: drizzlePostgres }] = await Promise.all([
    import('postgres'),
    import('drizzle-orm/postgres-js'),
  ]);
  const client = postgres(url, { max, onnotice: () => {}, connect_timeout: 10, backoff: reconnectBackoff });
  const db = drizzlePostgres({ client, schema }) as unknown as Database;
  return {
    db,
    kind: 'postgres',
    async migrate(folder = MIGRATIONS_FOLDER) {
      // One connection, holding a session advisory lock while drizzle migrates through it,
      // so instances started together apply each migration exactly once.
      const single = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
      try {
        await single`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
        const { migrate } = await import('drizzle-orm/postgres-js/migrator');
        await migrate(drizzlePostgres({ client: single }), { migrationsFolder: folder });
        await single`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
      } finally {
        await single.end({ timeout: 5 });
      }
    },
    listen: (channel, callbacks) => listenPostgres(url, channel, callbacks),
    // autovacuum analyses tables as they change.
    refreshStatistics: async () => {},
    async close() {
      await client.end({ timeout: 5 });
    },
  };
}

export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

/**
 * PGlite runs inside one process and must be the only one to open its folder: two would corrupt it. A lock
 * file holding our pid guards it; a lock left by a process that no longer exists is taken over.
 */
function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockFile = join(dataDir, 'token-service.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number(readFileSync(lockFile, 'utf8').trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DataDirInUseError(
          `the PGlite data folder ${dataDir} is in use by process ${owner}; stop it first, or use DATABASE_URL to share a PostgreSQL database`,
        );
      }
      rmSync(lockFile, { force: true });
    }
  }
  throw new DataDirInUseError(`could not lock the PGlite data folder ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

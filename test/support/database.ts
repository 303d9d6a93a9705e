import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { connectDatabase, type DatabaseHandle } from '../../src/db/connect';

export type DatabaseKind = 'pglite' | 'postgres';

/** Every integration suite runs on PGlite, and again on PostgreSQL when TEST_DATABASE_URL is set (CI). */
export const DATABASE_KINDS: DatabaseKind[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export interface TestDatabase {
  handle: DatabaseHandle;
  /** The connection URL of the fresh PostgreSQL database; undefined on PGlite. */
  url: string | undefined;
  /** Closes the handle and drops the database. */
  destroy(): Promise<void>;
}

/**
 * A fresh, empty, migrated database: in-memory PGlite, or a new database on the test PostgreSQL server.
 * `migrate: false` leaves it without any table, for a test that migrates it itself.
 */
export async function freshDatabase(kind: DatabaseKind, options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const migrate = options.migrate ?? true;
  if (kind === 'pglite') {
    const handle = await connectDatabase({ dataDir: 'memory://' });
    if (migrate) await handle.migrate();
    return { handle, url: undefined, destroy: () => handle.close() };
  }
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const handle = await connectDatabase({ databaseUrl: url.toString(), maxConnections: 5 });
  if (migrate) await handle.migrate();
  return {
    handle,
    url: url.toString(),
    async destroy() {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/**
 * A second instance's own connection to `database`: a new pool (and LISTEN connection) on PostgreSQL, as a
 * second process would have; on PGlite the same handle, since one process owns an embedded database.
 * `destroy` closes that connection only.
 */
export async function secondConnection(database: TestDatabase): Promise<TestDatabase> {
  if (!database.url) return { ...database, destroy: async () => {} };
  const handle = await connectDatabase({ databaseUrl: database.url, maxConnections: 5 });
  return { handle, url: database.url, destroy: () => handle.close() };
}

import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '../src/db/connect';
import { DATABASE_KINDS, freshDatabase, type TestDatabase } from './support/database';

/** A copy of drizzle/ with only the migrations before `tag`: what a database of that time was migrated with. */
async function migrationsBefore(tag: string): Promise<string> {
  const journal = JSON.parse(await readFile(join(MIGRATIONS_FOLDER, 'meta', '_journal.json'), 'utf8'));
  const cut = journal.entries.findIndex((entry: { tag: string }) => entry.tag === tag);
  if (cut < 0) throw new Error(`no migration ${tag}`);
  const entries: Array<{ tag: string }> = journal.entries.slice(0, cut);
  const dir = await mkdtemp(join(tmpdir(), 'migrations-'));
  await mkdir(join(dir, 'meta'));
  await writeFile(join(dir, 'meta', '_journal.json'), JSON.stringify({ ...journal, entries }));
  for (const { tag: name } of entries) await cp(join(MIGRATIONS_FOLDER, `${name}.sql`), join(dir, `${name}.sql`));
  return dir;
}

const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, unknown>>;

describe.each(DATABASE_KINDS)('upgrading a database (%s)', (kind) => {
  let database: TestDatabase;
  let before0006: string;

  beforeAll(async () => {
    database = await freshDatabase(kind, { migrate: false });
    before0006 = await migrationsBefore('0006_scope_usage');
  });
  afterAll(async () => {
    await database?.destroy();
    if (before0006) await rm(before0006, { recursive: true, force: true });
  });

  it('counts the scopes of accounts created before scope_usage existed, and keeps counting after', async () => {
    const { db } = database.handle;
    await database.handle.migrate(before0006);
    const account = (n: number, scopes: string[]) =>
      db.execute(sql`insert into service_accounts (id, client_id, name, scopes, created_at, updated_at)
        values (gen_random_uuid(), ${`sa_upgrade_${n}`}, ${`upgrade-${n}`}, ${`{${scopes.join(',')}}`}::text[], now(), now())`);
    await account(1, ['orders:read', 'orders:write']);
    await account(2, ['orders:read']);
    await account(3, []);
    const usage = async () => rowsOf(await db.execute(sql`select scope, accounts from scope_usage order by scope`));

    await database.handle.migrate(); // 0006 onwards: the table, its triggers, and the backfill
    expect(await usage()).toEqual([
      { scope: 'orders:read', accounts: 2 },
      { scope: 'orders:write', accounts: 1 },
    ]);

    await db.execute(sql`update service_accounts set scopes = '{orders:write}' where client_id = 'sa_upgrade_2'`);
    // What a flush of last-used times does to every account used: no count may move.
    await db.execute(sql`update service_accounts set last_used_at = now(), last_used_ip = '192.0.2.1'`);
    expect(await usage()).toEqual([
      { scope: 'orders:read', accounts: 1 },
      { scope: 'orders:write', accounts: 2 },
    ]);
    await db.execute(sql`delete from service_accounts where client_id in ('sa_upgrade_1', 'sa_upgrade_3')`);
    expect(await usage()).toEqual([{ scope: 'orders:write', accounts: 1 }]);
  });
});

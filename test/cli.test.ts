import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, freshDatabase, type TestDatabase } from './support/database';
import { startTestService } from './support/service';
import { connectDatabase } from '../src/db/connect';

const run = promisify(execFile);
const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');

function cli(args: string[], env: Record<string, string>) {
  return run(TSX, ['src/cli/main.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 60_000,
  });
}

describe.each(DATABASE_KINDS)('npm run cli -- bootstrap-admin (%s)', (kind) => {
  let dir: string;
  let database: TestDatabase | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-'));
    env = { KEYS_DIR: join(dir, 'keys'), DATA_DIR: join(dir, 'data') };
    if (kind === 'postgres') {
      database = await freshDatabase(kind);
      env.DATABASE_URL = database.url!;
    }
  });
  afterAll(async () => {
    await database?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a new admin client as JSON, and that client can administer the service', async () => {
    const { stdout } = await cli(['bootstrap-admin', '--name', 'ops'], env);
    const created = JSON.parse(stdout) as { client_id: string; client_secret: string };
    expect(created.client_id).toMatch(/^sa_/);
    expect(created.client_secret).toMatch(/^ccs_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);

    // The service started on the same data then accepts those credentials on the admin API.
    const h = await startTestService(kind, { ...env, ISSUER: 'http://127.0.0.1:1' }, {
      keysDir: env.KEYS_DIR,
      ...(database ? { database } : { database: await pgliteAt(env.DATA_DIR!) }),
    });
    try {
      const token = await h.token(
        { grant_type: 'client_credentials' },
        { id: created.client_id, secret: created.client_secret },
      );
      expect(token.status).toBe(200);
      expect(token.body.scope.split(' ').sort()).toEqual([
        'service-account:create',
        'service-account:delete',
        'service-account:read',
        'service-account:update',
      ]);
      const list = await h.admin('GET', '/service-accounts', undefined, token.body.access_token);
      expect(list.status).toBe(200);
      expect(list.body.items.map((a: any) => a.name)).toContain('ops');
    } finally {
      await h.close();
      if (!database) await h.database.destroy();
    }
  });

  it('refuses a second admin with the same name without printing a secret', async () => {
    const failed = await cli(['bootstrap-admin', '--name', 'ops'], env).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toBe('');
    expect(failed?.stderr).toContain('name is already in use');
  });
});

describe('PGlite data folder', () => {
  it('cannot be opened by the CLI while a service holds it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-lock-'));
    const held = await connectDatabase({ dataDir: join(dir, 'data') });
    try {
      const failed = await cli(['bootstrap-admin'], { DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') }).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toMatch(/in use by process \d+/);
    } finally {
      await held.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function pgliteAt(dataDir: string): Promise<TestDatabase> {
  const handle = await connectDatabase({ dataDir });
  return { handle, url: undefined, destroy: () => handle.close() };
}

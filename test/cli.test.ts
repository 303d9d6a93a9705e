import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, freshDatabase, type TestDatabase } from './support/database';
import { buildCli, type CliBundle } from './support/cli-process';
import { startTestService } from './support/service';
import { connectDatabase } from '../src/db/connect';

const run = promisify(execFile);

// The CLI bundled once for this file and run with node: a real process, without tsx transpiling it each time.
let bundle: CliBundle;
beforeAll(async () => {
  bundle = await buildCli();
});
afterAll(() => bundle?.dispose());

function cli(args: string[], env: Record<string, string>, command: string[] = bundle.command, cwd?: string) {
  const [file, ...pre] = command as [string, ...string[]];
  return run(file, [...pre, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    timeout: 60_000,
    ...(cwd ? { cwd } : {}),
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

  // The PGlite data folder bootstrap-admin made above (opening an existing one: a fresh folder would cost an
  // initdb in this process, several seconds, for a test that never gets past the lock).
  if (kind === 'pglite') {
    it('PGlite data folder: cannot be opened by the CLI while a service holds it', async () => {
      const held = await connectDatabase({ dataDir: env.DATA_DIR! });
      try {
        const failed = await cli(['bootstrap-admin'], env).then(
          () => undefined,
          (error: { code: number; stderr: string }) => error,
        );
        expect(failed?.code).toBe(1);
        expect(failed?.stderr).toMatch(/in use by process \d+/);
        expect(failed?.stderr).toContain('admin API');
      } finally {
        await held.close();
      }
    });
  }
});

/** A CLI run that may fail: its exit status and both streams. */
function runCli(args: string[], env: Record<string, string>, command: string[] = bundle.command, cwd?: string) {
  return cli(args, env, command, cwd).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
  );
}

describe('a mistyped command line', () => {
  // None of these reaches the database: the data folder named here does not even exist.
  const env = { DATA_DIR: join(tmpdir(), 'cli-nowhere', 'data'), KEYS_DIR: join(tmpdir(), 'cli-nowhere', 'keys') };

  it('is refused with exit status 2 and the command\'s usage on stderr, nothing on stdout', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['accounts', 'list', '--bogus'], /Unknown option '--bogus'[\s\S]*usage: accounts list/],
      [['accounts', 'list', '--limit', 'lots'], /--limit must be a whole number[\s\S]*usage: accounts list/],
      [['accounts', 'create'], /--name is required[\s\S]*usage: accounts create/],
      [['accounts', 'create', '--name', 'x', '--rate-limit', 'many'], /--rate-limit: [\s\S]*usage: accounts create/],
      [['accounts', 'create', '--name', 'x', '--allowed-ip', '10.0.0.300'], /--allowed-ip \(value 1\): "10\.0\.0\.300" is not/],
      [['accounts', 'show'], /expected one ID\|CLIENT_ID[\s\S]*usage: accounts show/],
      [['accounts', 'frobnicate'], /unknown accounts command: frobnicate/],
      [['secrets', 'revoke', 'sa_x', 'ccs_0123456789abcdef0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'], /that is a client secret, not its id/],
      [['secrets', 'create', 'sa_x', '--expires-at', 'tomorrow'], /--expires-at: must be an RFC 3339 date-time/],
      [['audit', 'tail', '--outcome', 'maybe'], /--outcome must be one of success, failure/],
      [['nonsense'], /unknown command: nonsense/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(args, env);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stdout, args.join(' ')).toBe('');
      expect(result.stderr, args.join(' ')).toMatch(message);
      // A secret typed by mistake is not repeated.
      expect(result.stderr).not.toContain('AAAAAAAAAAAAAAAAAAAA');
    }
  }, 180_000);

  it('asks for help, and gets it on stdout with exit status 0', async () => {
    for (const args of [['--help'], ['accounts', '--help'], ['accounts', 'create', '--help'], ['secrets', 'list', '-h'], ['audit', 'tail', '--help']]) {
      const result = await runCli(args, env);
      expect(result.code, args.join(' ')).toBe(0);
      expect(result.stdout, args.join(' ')).toMatch(/^usage: /);
    }
  }, 120_000);

  it('names the missing database when run away from the service\'s data folder (exit status 2)', async () => {
    const result = await runCli(['accounts', 'list'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`no database in DATA_DIR=${env.DATA_DIR}`);
  });
});

describe('the installed command (package.json "bin")', () => {
  it('runs the CLI from any directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cli-bin-'));
    try {
      const bin = join(process.cwd(), 'bin', 'cc-token-service.js');
      const help = await runCli(['--help'], {}, [process.execPath, bin], dir);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('accounts create --name NAME');
      // Relative paths of the environment are the caller's, as for the service.
      const missing = await runCli(['accounts', 'list'], { DATA_DIR: 'data' }, [process.execPath, bin], dir);
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain(`(${join(dir, 'data')})`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

async function pgliteAt(dataDir: string): Promise<TestDatabase> {
  const handle = await connectDatabase({ dataDir });
  return { handle, url: undefined, destroy: () => handle.close() };
}

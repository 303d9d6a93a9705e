import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDatabase } from '../src/db/connect';
import { buildCli, runProcess, spawnProcess, type CliBundle, type CliResult } from './support/cli-process';
import { DATABASE_KINDS, freshDatabase, type TestDatabase } from './support/database';
import { startTestService, TestClock, type TestService } from './support/service';

// The operator's stories of `npm run cli -- accounts|secrets|audit …`: the CLI runs as a real process on the
// service's database. On PostgreSQL the service runs beside it the whole time (its caches must hear of every
// change by NOTIFY); on PGlite one process owns the data folder, so the service is started on it only between
// CLI runs, and what is proven there is what the CLI wrote, not cache invalidation.

const STORY_TIMEOUT = 180_000;

// The CLI bundled once for this file and run with node: a real process, without tsx transpiling it each time.
let bundle: CliBundle;
beforeAll(async () => {
  bundle = await buildCli();
});
afterAll(() => bundle?.dispose());

function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runProcess(bundle.command, args, env, { timeout: 90_000 });
}

/** Runs the CLI, expecting success; returns stdout parsed as the one JSON document it must be. */
async function cliJson(args: string[], env: Record<string, string>): Promise<any> {
  const result = await runCli([...args, '--json'], env);
  expect(result.stderr.includes('error'), result.stderr).toBe(false);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout);
}

interface Created {
  id: string;
  client_id: string;
  secret: { id: string; prefix: string; secret: string };
}

/** The 43 random characters after `ccs_<32 hex>_` (base64url: they may themselves contain '_'). */
const randomPart = (secret: string) => {
  const part = /^ccs_[0-9a-f]{32}_([A-Za-z0-9_-]{43})$/.exec(secret)?.[1];
  if (part === undefined) throw new Error('not a generated secret');
  return part;
};

describe.each(DATABASE_KINDS)('CLI: accounts, secrets and the audit trail (%s)', (kind) => {
  let dir: string;
  let env: Record<string, string>;
  let database: TestDatabase | undefined;
  let running: TestService | undefined;
  const clock = new TestClock(new Date());

  /**
   * `use` against the service on the CLI's database: on PostgreSQL the instance running throughout; on
   * PGlite one started now on the data folder and stopped afterwards, so the next CLI run can open it.
   */
  async function withService<T>(use: (h: TestService) => Promise<T>): Promise<T> {
    if (running) return use(running);
    const handle = await connectDatabase({ dataDir: env.DATA_DIR! });
    const h = await startTestService(kind, {}, {
      keysDir: env.KEYS_DIR!,
      clock,
      database: { handle, url: undefined, destroy: () => handle.close() },
    });
    try {
      return await use(h);
    } finally {
      await h.close();
      await handle.close();
    }
  }

  const token = (h: TestService, client: { id: string; secret: string }, scope?: string) =>
    h.token({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }, client);

  const create = async (name: string, ...flags: string[]): Promise<Created> => {
    const result = await runCli(['accounts', 'create', '--name', name, ...flags, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cli-accounts-'));
    env = { KEYS_DIR: join(dir, 'keys'), DATA_DIR: join(dir, 'data') };
    if (kind === 'postgres') {
      database = await freshDatabase(kind);
      env.DATABASE_URL = database.url!;
      running = await startTestService(kind, {}, { database, keysDir: env.KEYS_DIR, clock });
    } else {
      // The service has run here before: the data folder exists (the CLI does not create one).
      await withService(async () => {});
    }
  }, 60_000);
  afterAll(async () => {
    await running?.close();
    await database?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'creates an account whose printed secret gets a token, and never prints that secret again',
    async () => {
      const result = await runCli(
        ['accounts', 'create', '--name', 'billing-worker', '--scope', 'invoices:read invoices:write',
          '--audience', 'https://api.example.com', '--rate-limit', '120', '--json'],
        env,
      );
      expect(result.code).toBe(0);
      const created = JSON.parse(result.stdout) as Created & Record<string, any>; // nothing else on stdout
      expect(created.client_id).toMatch(/^sa_/);
      expect(created.scopes).toEqual(['invoices:read', 'invoices:write']);
      expect(created.rate_limit_per_minute).toBe(120);
      expect(created.secret.secret).toMatch(/^ccs_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$/);
      expect(result.stderr).toContain('shown this once');
      expect(result.stderr).not.toContain(randomPart(created.secret.secret));

      await withService(async (h) => {
        const granted = await token(h, { id: created.client_id, secret: created.secret.secret }, 'invoices:read');
        expect(granted.status).toBe(200);
        expect(granted.body.scope).toBe('invoices:read');
      });

      const reads = [
        ['accounts', 'list'],
        ['accounts', 'list', '--json'],
        ['accounts', 'show', created.client_id],
        ['accounts', 'show', created.id, '--json'],
        ['secrets', 'list', created.client_id, '--json'],
      ];
      const outputs: CliResult[] = [];
      // One after the other: on PGlite, one process at a time may open the data folder.
      for (const args of reads) outputs.push(await runCli(args, env));
      for (const [i, out] of outputs.entries()) {
        expect(out.code, `${reads[i]!.join(' ')}: ${out.stderr}`).toBe(0);
        expect(out.stdout + out.stderr).not.toContain(randomPart(created.secret.secret));
      }
      const [table, list, shown, showJson, secrets] = outputs as [CliResult, CliResult, CliResult, CliResult, CliResult];
      expect(table.stdout).toMatch(/^ID\s+CLIENT_ID\s+NAME\s+STATUS/);
      expect(table.stdout).toContain(created.client_id);
      expect(JSON.parse(list.stdout).map((a: any) => a.client_id)).toContain(created.client_id);
      expect(shown.stdout).toMatch(new RegExp(`status\\s+active`));
      expect(shown.stdout).toContain(created.secret.prefix);
      expect(JSON.parse(showJson.stdout).secrets).toEqual([expect.objectContaining({ id: created.secret.id, status: 'active' })]);
      expect(JSON.parse(secrets.stdout)).toEqual([expect.not.objectContaining({ secret: expect.anything() })]);
    },
    STORY_TIMEOUT,
  );

  it(
    kind === 'postgres'
      ? 'disabling an account stops its tokens at once on the running instance, whose cache held it'
      : 'a disabled account gets no token; enabled again, it does',
    async () => {
      const created = await create('nightly-export', '--scope', 'exports:write');
      const client = { id: created.client_id, secret: created.secret.secret };
      // On PostgreSQL this request puts the credential in the running instance's cache.
      await withService(async (h) => expect((await token(h, client)).status).toBe(200));

      const disabled = await runCli(['accounts', 'disable', created.client_id], env);
      expect(disabled.code, disabled.stderr).toBe(0);
      expect(disabled.stdout).toContain('disabled service account nightly-export');
      await withService(async (h) => {
        const refused = await token(h, client);
        expect(refused.status).toBe(401);
        expect(refused.body.error).toBe('invalid_client');
      });

      expect((await cliJson(['accounts', 'enable', created.id], env)).status).toBe('active');
      await withService(async (h) => expect((await token(h, client)).status).toBe(200));
    },
    STORY_TIMEOUT,
  );

  it(
    'rotates a secret: the new one is printed once, the revoked old one gets no token',
    async () => {
      const created = await create('ledger-sync');
      const old = { id: created.client_id, secret: created.secret.secret };
      await withService(async (h) => expect((await token(h, old)).status).toBe(200));

      const added = await runCli(['secrets', 'create', created.client_id, '--expires-at', '2099-01-01T00:00:00Z', '--json'], env);
      expect(added.code, added.stderr).toBe(0);
      const secret = JSON.parse(added.stdout);
      expect(secret).toMatchObject({ status: 'active', expires_at: '2099-01-01T00:00:00.000Z' });
      expect(added.stderr).toContain('shown this once');

      const listed = await cliJson(['secrets', 'list', created.id], env);
      expect(listed.map((s: any) => s.id).sort()).toEqual([created.secret.id, secret.id].sort());
      expect(JSON.stringify(listed)).not.toContain(randomPart(secret.secret));

      const revoked = await runCli(['secrets', 'revoke', created.client_id, created.secret.id], env);
      expect(revoked.code, revoked.stderr).toBe(0);
      await withService(async (h) => {
        expect((await token(h, old)).status).toBe(401);
        expect((await token(h, { id: created.client_id, secret: secret.secret })).status).toBe(200);
      });
    },
    STORY_TIMEOUT,
  );

  it(
    "revokes and deletes an account, and the audit trail shows each change as the CLI's",
    async () => {
      const created = await create('old-reporting');
      expect((await cliJson(['accounts', 'revoke', created.client_id], env)).status).toBe('revoked');
      await withService(async (h) => {
        expect((await token(h, { id: created.client_id, secret: created.secret.secret })).status).toBe(401);
      });
      // Re-enabling a revoked account is refused: revocation is permanent.
      const refused = await runCli(['accounts', 'enable', created.client_id], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('revoked');

      const unconfirmed = await runCli(['accounts', 'delete', created.client_id], env);
      expect(unconfirmed.code).toBe(2);
      expect(unconfirmed.stderr).toContain('--yes');
      const deleted = await runCli(['accounts', 'delete', created.client_id, '--yes'], env);
      expect(deleted.code, deleted.stderr).toBe(0);
      const gone = await runCli(['accounts', 'show', created.client_id], env);
      expect(gone.code).toBe(1);
      expect(gone.stdout).toBe('');
      expect(gone.stderr).toContain('not found');

      // The trail outlives the account: asked for by its id.
      const events = await cliJson(['audit', 'tail', '--account', created.id], env);
      const changes = events.filter((e: any) => e.actor?.startsWith('cli'));
      expect(changes.map((e: any) => e.action)).toEqual([
        'service_account.created',
        'service_account.revoked',
        'service_account.deleted',
      ]);
      for (const event of changes) expect(event.client_id).toBe(created.client_id);
      expect(changes[0].details).toMatchObject({ name: 'old-reporting', secret_prefix: created.secret.prefix });
      // The service's own event is there too: the refused token request.
      expect(events.filter((e: any) => !changes.includes(e))).toEqual([
        expect.objectContaining({ action: 'token.denied', reason: 'account_revoked', actor: created.client_id }),
      ]);
      expect(JSON.stringify(events)).not.toContain(randomPart(created.secret.secret));

      const table = await runCli(['audit', 'tail', '--account', created.id, '--action', 'service_account.deleted'], env);
      expect(table.code).toBe(0);
      const lines = table.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^TIME\s+ACTION\s+OUTCOME\s+ACTOR/);
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^\S+ \S+\s+service_account\.deleted\s+success\s+cli\S*\s+client=sa_\w+ \{"name":"old-reporting"\}$/);
    },
    STORY_TIMEOUT,
  );

  it(
    'answers an unknown account or secret with exit status 1 and a message, nothing on stdout',
    async () => {
      const created = await create('probe');
      const cases = [
        ['accounts', 'show', '00000000-0000-4000-8000-000000000000', '--json'],
        ['accounts', 'disable', 'sa_000000000000000000000000'],
        ['secrets', 'revoke', created.client_id, '00000000-0000-4000-8000-000000000000'],
      ];
      for (const args of cases) {
        const result = await runCli(args, env);
        expect(result.code, args.join(' ')).toBe(1);
        expect(result.stdout).toBe('');
        expect(result.stderr).toMatch(/^error: .*not found$/m);
      }
    },
    STORY_TIMEOUT,
  );

  it(
    kind === 'postgres'
      ? 'audit tail --follow prints the changes other processes make, until interrupted'
      : 'audit tail --follow prints the newest events and stops on Ctrl-C',
    async () => {
      const created = await create('followed');
      const follower = spawnProcess(bundle.command, ['audit', 'tail', '--account', created.id, '--follow', '--json'], env);
      let stdout = '';
      follower.stdout.on('data', (chunk) => (stdout += chunk));
      const exited = new Promise<number | null>((resolve) => follower.on('exit', (code) => resolve(code)));
      const lines = () => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      try {
        await until(() => lines().length >= 1);
        expect(lines()[0].action).toBe('service_account.created');
        if (kind === 'postgres') {
          // Another process changes the account while the follower runs.
          expect((await runCli(['accounts', 'disable', created.id], env)).code).toBe(0);
          await until(() => lines().length >= 2);
          expect(lines()[1]).toMatchObject({ action: 'service_account.disabled', service_account_id: created.id });
        }
      } finally {
        follower.kill('SIGINT');
      }
      expect(await exited).toBe(0);
    },
    STORY_TIMEOUT,
  );
});

async function until(condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

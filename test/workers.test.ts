import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS, freshDatabase, type TestDatabase } from './support/database';
import { basicAuth, freePort } from './support/service';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const run = promisify(execFile);
const baseEnv = () => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn' });

describe('WORKERS on embedded PGlite', () => {
  it('refuses to start more than one worker without DATABASE_URL, saying why', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'workers-'));
    try {
      const failure = await run(TSX, ['src/main.ts'], {
        env: { ...baseEnv(), WORKERS: '2', DATA_DIR: join(dir, 'data'), KEYS_DIR: join(dir, 'keys') },
        timeout: 60_000,
      }).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code).toBe(2);
      expect(failure?.stderr).toMatch(/WORKERS: more than one worker needs DATABASE_URL/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(DATABASE_KINDS.includes('postgres'))('WORKERS=2 on PostgreSQL (a real process)', () => {
  let database: TestDatabase;
  let dir: string;
  let child: ChildProcess;
  let base: string;
  const adminSecret = randomBytes(32).toString('base64url');
  let exited: Promise<number | null>;

  beforeAll(async () => {
    database = await freshDatabase('postgres');
    dir = await mkdtemp(join(tmpdir(), 'workers-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    child = spawn(TSX, ['src/main.ts'], {
      env: {
        ...baseEnv(),
        WORKERS: '2',
        PORT: String(port),
        HOST: '127.0.0.1',
        ISSUER: base,
        DATABASE_URL: database.url!,
        KEYS_DIR: join(dir, 'keys'),
        BOOTSTRAP_ADMIN_CLIENT_ID: 'workers-admin',
        BOOTSTRAP_ADMIN_CLIENT_SECRET: adminSecret,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    // Both workers listen on one port; wait until the port answers (bounded).
    for (let i = 0; i < 300; i++) {
      const ok = await fetch(`${base}/.well-known/jwks.json`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await database?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const token = (id: string, secret: string) =>
    fetch(`${base}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(id, secret) },
      body: 'grant_type=client_credentials',
    });

  it('serves tokens from every worker, and a revoke made through one reaches all of them at once', async () => {
    const adminRes = await token('workers-admin', adminSecret);
    expect(adminRes.status).toBe(200);
    const admin = ((await adminRes.json()) as { access_token: string }).access_token;
    const created = await fetch(`${base}/admin/v1/service-accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'worker-client' }),
    });
    expect(created.status).toBe(201);
    const account = (await created.json()) as { id: string; client_id: string; secret: { id: string; secret: string } };

    // Fresh connections each time, so the kernel spreads them over both workers and each caches the secret.
    const before = await Promise.all(Array.from({ length: 12 }, () => token(account.client_id, account.secret.secret)));
    expect(before.map((r) => r.status)).toEqual(Array(12).fill(200));

    const revoked = await fetch(`${base}/admin/v1/service-accounts/${account.id}/secrets/${account.secret.id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(revoked.status).toBe(204);
    const after = await Promise.all(Array.from({ length: 12 }, () => token(account.client_id, account.secret.secret)));
    expect(after.map((r) => r.status)).toEqual(Array(12).fill(401));
  });

  it('stops cleanly on SIGTERM: every worker drains, and the process exits 0', async () => {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

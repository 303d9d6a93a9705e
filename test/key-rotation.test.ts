import { spawn } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JWTVerifyGetKey,
} from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { connectDatabase } from '../src/db/connect';
import { rotateKey } from '../src/tokens/key-rotation';
import { KeyStore } from '../src/tokens/key-store';
import { keyStatuses, nextChangeAfter, signingStatus, type KeyTimes } from '../src/tokens/key-schedule';
import { buildCli, runProcess, type CliBundle, type CliResult } from './support/cli-process';
import { DATABASE_KINDS } from './support/database';
import { freePort, startTestService, TestClock, type TestService } from './support/service';

const ORDERS = 'https://orders.example.com';
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** JWKS max-age 60 s, so KEY_PROPAGATION_SECONDS defaults to 60 + 60; tokens live 300 s at most. */
const ENV = { JWKS_MAX_AGE_SECONDS: '60', TOKEN_TTL_SECONDS: '300', MAX_TOKEN_TTL_SECONDS: '300' };
const PROPAGATION_MS = 120_000;
const TTL_MS = 300_000;
/** A retired key is published for MAX_TOKEN_TTL_SECONDS and a 60 s clock margin after its last signature. */
const LINGER_MS = TTL_MS + 60_000;

/** The JWKS over HTTP, after checking that no key in it carries a private member. */
async function publishedKeys(h: TestService): Promise<Record<string, unknown>[]> {
  const res = await h.fetch('/.well-known/jwks.json');
  expect(res.status).toBe(200);
  for (const key of res.body.keys) {
    expect(key).toMatchObject({ kid: expect.any(String), alg: expect.any(String), use: 'sig' });
    for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
  }
  return res.body.keys;
}
const publishedKids = async (h: TestService) => (await publishedKeys(h)).map((k) => k.kid as string).sort();

interface Client {
  id: string;
  secret: string;
}
async function client(h: TestService): Promise<Client> {
  const account = await h.createAccount({ audiences: [ORDERS] });
  return { id: account.client_id, secret: account.secret.secret };
}
async function tokenOf(h: TestService, c: Client): Promise<string> {
  const res = await h.token({ grant_type: 'client_credentials' }, c);
  if (res.status !== 200) throw new Error(`token: ${res.status} ${res.text}`);
  return res.body.access_token;
}
const kidOf = (token: string) => decodeProtectedHeader(token).kid;

/** A resource API's check of a token, at the test clock's time. */
const verifyWith = (h: TestService, keys: JWTVerifyGetKey, token: string) =>
  jwtVerify(token, keys, {
    issuer: h.config.issuer,
    audience: ORDERS,
    typ: 'at+jwt',
    algorithms: ['RS256', 'ES256', 'EdDSA'],
    currentDate: h.clock.now(),
  });

/** `keys rotate`, as the CLI does it, at the test clock's time; then the service re-reads the folder. */
async function rotate(h: TestService, alg: 'RS256' | 'ES256' | 'EdDSA' = 'RS256'): Promise<string> {
  const status = await rotateKey(
    { dir: h.config.keysDir, maxTokenTtlSeconds: h.config.maxTokenTtlSeconds },
    { alg, propagationSeconds: h.config.keyPropagationSeconds, now: h.clock.now() },
  );
  await h.service.keys.reload();
  return status.key.kid;
}

/** Waits for something a file-system event causes (never for time to pass: the clock is the test's). */
async function eventually<T>(probe: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The CLI bundled once (as `npm run build` does), run as `node <bundle>`: tsx would transpile it again per run. */
let bundle: CliBundle | undefined;
beforeAll(async () => {
  bundle = await buildCli();
});
afterAll(() => bundle?.dispose());

/** `npm run cli -- ...` as a process; never throws on a non-zero exit. */
function cli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return runProcess(bundle!.command, args, env, { timeout: 60_000 });
}
const cliEnv = (h: TestService) => ({ KEYS_DIR: h.config.keysDir, ...ENV });
const pkcs8 = (key: KeyObject) => key.export({ format: 'pem', type: 'pkcs8' }).toString();
/** A key made elsewhere (another folder), as the CLI would make it, at `now`. */
const keyMadeIn = (dir: string, alg: 'RS256' | 'ES256' | 'EdDSA', now: Date) =>
  rotateKey({ dir, maxTokenTtlSeconds: 300 }, { alg, propagationSeconds: 0, now });

describe.each(DATABASE_KINDS)('a rotation, step by step (%s)', (kind) => {
  let h: TestService;
  let c: Client;
  let oldKid: string;
  let newKid: string;
  let tokenBefore: string;
  let rotatedAt: number;

  beforeAll(async () => {
    h = await startTestService(kind, ENV);
    c = await client(h);
  });
  afterAll(() => h?.close());

  it('before any rotation: one active key signs, and the JWKS holds only its public members', async () => {
    tokenBefore = await tokenOf(h, c);
    oldKid = kidOf(tokenBefore)!;
    expect(await publishedKids(h)).toEqual([oldKid]);
    const files = await readdir(h.config.keysDir);
    expect(files).toEqual([`${oldKid}.json`]);
    expect((await stat(join(h.config.keysDir, files[0]!))).mode & 0o777).toBe(0o600);
  });

  it('keys rotate publishes the next key at once; tokens stay signed by the active key for KEY_PROPAGATION_SECONDS', async () => {
    expect(h.config.keyPropagationSeconds).toBe(PROPAGATION_MS / 1000);
    const jwksBefore = await h.fetch('/.well-known/jwks.json');
    rotatedAt = h.clock.now().getTime();
    newKid = await rotate(h);

    expect(await publishedKids(h)).toEqual([oldKid, newKid].sort());
    const jwksAfter = await h.fetch('/.well-known/jwks.json', {
      headers: { 'if-none-match': jwksBefore.headers.get('etag')! },
    });
    expect(jwksAfter.status).toBe(200); // a new document, a new ETag
    expect(jwksAfter.headers.get('etag')).not.toBe(jwksBefore.headers.get('etag'));

    expect(kidOf(await tokenOf(h, c))).toBe(oldKid);
    h.clock.advance(PROPAGATION_MS - 1000);
    expect(kidOf(await tokenOf(h, c))).toBe(oldKid);
    expect(await publishedKids(h)).toEqual([oldKid, newKid].sort());
  });

  it('then new tokens carry the new kid, and a token signed before the rotation verifies until it expires', async () => {
    h.clock.current = new Date(rotatedAt + PROPAGATION_MS);
    const tokenAfter = await tokenOf(h, c);
    expect(decodeProtectedHeader(tokenAfter)).toMatchObject({ kid: newKid, alg: 'RS256' });

    const jwks = createLocalJWKSet({ keys: (await publishedKeys(h)) as any });
    await expect(verifyWith(h, jwks, tokenAfter)).resolves.toBeDefined();
    await expect(verifyWith(h, jwks, tokenBefore)).resolves.toBeDefined();
    // Our own admin API verifies with the published keys too.
    expect((await h.admin('GET', '/service-accounts?limit=1')).status).toBe(200);

    h.clock.current = new Date(decodeJwt(tokenBefore).exp! * 1000 - 1000);
    const jwksNow = createLocalJWKSet({ keys: (await publishedKeys(h)) as any });
    await expect(verifyWith(h, jwksNow, tokenBefore)).resolves.toBeDefined();
    h.clock.advance(1000);
    await expect(verifyWith(h, jwks, tokenBefore)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
  });

  it('the replaced key leaves the JWKS only after every token it signed has expired, by time alone', async () => {
    const lastOldToken = rotatedAt + PROPAGATION_MS; // the old key signed until the new one became active
    h.clock.current = new Date(lastOldToken + LINGER_MS - 1000);
    const stillThere = await h.fetch('/.well-known/jwks.json');
    expect(stillThere.body.keys.map((k: any) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect(h.service.keys.statuses().find((s) => s.key.kid === oldKid)?.state).toBe('retired');
    await publishedKeys(h); // retired yet published: public members only, as in every other state

    h.clock.current = new Date(lastOldToken + LINGER_MS);
    // No reload, no file change: the clock alone retires it, and the ETag changes with the document.
    const gone = await h.fetch('/.well-known/jwks.json', { headers: { 'if-none-match': stillThere.headers.get('etag')! } });
    expect(gone.status).toBe(200);
    expect(gone.body.keys.map((k: any) => k.kid)).toEqual([newKid]);
    expect(kidOf(await tokenOf(h, c))).toBe(newKid);
  });

  it('a key of another algorithm is published and listed in the metadata, but the instance signs with SIGNING_ALG', async () => {
    const metadataBefore = await h.fetch('/.well-known/oauth-authorization-server');
    expect(metadataBefore.body.access_token_signing_alg_values_supported).toEqual(['RS256']);
    const esKid = await rotate(h, 'ES256');
    const metadataAfter = await h.fetch('/.well-known/oauth-authorization-server', {
      headers: { 'if-none-match': metadataBefore.headers.get('etag')! },
    });
    expect(metadataAfter.status).toBe(200);
    expect(metadataAfter.body.access_token_signing_alg_values_supported.sort()).toEqual(['ES256', 'RS256']);
    expect(await publishedKids(h)).toEqual([newKid, esKid].sort());
    h.clock.advance(PROPAGATION_MS);
    expect(h.service.keys.statuses().find((s) => s.key.kid === esKid)?.state).toBe('active');
    expect(decodeProtectedHeader(await tokenOf(h, c))).toMatchObject({ kid: newKid, alg: 'RS256' });
  });
});

describe.each(DATABASE_KINDS)('verification across a whole rotation (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, ENV);
  });
  afterAll(() => h?.close());

  it('never fails, for a resource API that caches the JWKS as long as max-age allows and never refetches early', async () => {
    const c = await client(h);
    const jwksUrl = new URL(`${h.url}/.well-known/jwks.json`);
    const cacheControl = (await h.fetch('/.well-known/jwks.json')).headers.get('cache-control')!;
    const maxAgeMs = Number(/max-age=(\d+)/.exec(cacheControl)![1]) * 1000;
    // jose's remote JWKS set, cached until we say (on the test clock), and no refetch on an unknown kid: the
    // strictest cache HTTP allows. A second verifier reads the JWKS afresh at every step.
    const cached = createRemoteJWKSet(jwksUrl, { cacheMaxAge: Infinity, cooldownDuration: Infinity });
    let fetchedAt = -Infinity;
    const refetchIfStale = async () => {
      if (h.clock.now().getTime() >= fetchedAt + maxAgeMs) {
        await cached.reload();
        fetchedAt = h.clock.now().getTime();
      }
    };

    const failures: string[] = [];
    const issued: { token: string; exp: number }[] = [];
    const kidsUsed: string[] = [];
    const step = async () => {
      await refetchIfStale();
      const token = await tokenOf(h, c);
      issued.push({ token, exp: decodeJwt(token).exp! * 1000 });
      if (kidsUsed.at(-1) !== kidOf(token)) kidsUsed.push(kidOf(token)!);
      const fresh = createLocalJWKSet({ keys: (await publishedKeys(h)) as any });
      const now = h.clock.now().getTime();
      for (const { token: t, exp } of issued.filter((i) => i.exp > now)) {
        for (const [name, keys] of [['cached', cached], ['fresh', fresh]] as const) {
          await verifyWith(h, keys, t).catch((e: Error & { code?: string }) =>
            failures.push(`${new Date(now).toISOString()} ${name} JWKS, token of ${kidOf(t)}: ${e.code ?? e.message}`),
          );
        }
      }
      h.clock.advance(10_000);
    };

    for (let i = 0; i < 6; i++) await step();
    // Worst case: the resource API filled its cache just before the rotation reached the JWKS.
    await cached.reload();
    fetchedAt = h.clock.now().getTime();
    const rotatedAt = h.clock.now().getTime();
    const oldKid = h.service.keys.signingKey().kid;
    const newKid = await rotate(h);
    // Until the old key has left the JWKS and every cache has been refreshed since.
    while (h.clock.now().getTime() < rotatedAt + PROPAGATION_MS + LINGER_MS + 2 * maxAgeMs) await step();

    expect(failures).toEqual([]);
    expect(kidsUsed).toEqual([oldKid, newKid]);
    expect(await publishedKids(h)).toEqual([newKid]);
    expect(issued.length).toBeGreaterThan(50);
  });
});

describe.each(DATABASE_KINDS)('a running service picks up key changes without a restart (%s)', (kind) => {
  let h: TestService;
  let c: Client;
  beforeAll(async () => {
    // The CLI runs on the real clock: so does this service's clock, until a test moves it.
    h = await startTestService(kind, ENV, { clock: new TestClock(new Date()) });
    c = await client(h);
  });
  afterAll(() => h?.close());

  it('a rotation by the CLI: published within moments, signing after KEY_PROPAGATION_SECONDS', async () => {
    const oldKid = kidOf(await tokenOf(h, c))!;
    const rotated = await cli(['keys', 'rotate', '--json'], cliEnv(h));
    expect(rotated.code).toBe(0);
    const row = JSON.parse(rotated.stdout);
    expect(row).toMatchObject({ alg: 'RS256', state: 'next', in_jwks: true });
    for (const member of PRIVATE_MEMBERS) expect(row).not.toHaveProperty(member);
    expect(Date.parse(row.activates_at) - Date.parse(row.created_at)).toBe(PROPAGATION_MS);

    await eventually(async () => (await publishedKids(h)).includes(row.kid), 'the JWKS holds the new key');
    expect(kidOf(await tokenOf(h, c))).toBe(oldKid);
    h.clock.current = new Date(Date.parse(row.activates_at));
    expect(kidOf(await tokenOf(h, c))).toBe(row.kid);
    expect(await publishedKids(h)).toEqual([oldKid, row.kid].sort());
  });

  it('a key file written into the folder by hand, and its removal', async () => {
    const before = kidOf(await tokenOf(h, c))!;
    const elsewhere = await mkdtemp(join(tmpdir(), 'keys-elsewhere-'));
    try {
      const made = await keyMadeIn(elsewhere, 'EdDSA', h.clock.now());
      const file = join(h.config.keysDir, `${made.key.kid}.json`);
      // Not atomic on purpose: a plain copy, as an operator would make.
      await copyFile(join(elsewhere, `${made.key.kid}.json`), file);
      await eventually(async () => (await publishedKids(h)).includes(made.key.kid), 'the JWKS holds the copied key');
      // It is active (activates_at has passed) and the newest: instances configured for EdDSA sign with it.
      expect(h.service.keys.statuses().find((s) => s.key.kid === made.key.kid)?.state).toBe('active');
      expect(kidOf(await tokenOf(h, c))).toBe(before); // this instance signs RS256

      await unlink(file);
      await eventually(async () => !(await publishedKids(h)).includes(made.key.kid), 'the deleted key left the JWKS');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('keys retire of a next key: it leaves the JWKS at once, and never signs', async () => {
    const signing = kidOf(await tokenOf(h, c))!;
    const rotated = JSON.parse((await cli(['keys', 'rotate', '--json'], cliEnv(h))).stdout);
    await eventually(async () => (await publishedKids(h)).includes(rotated.kid), 'the JWKS holds the next key');

    const retired = await cli(['keys', 'retire', rotated.kid], cliEnv(h));
    expect(retired.code).toBe(0);
    expect(retired.stdout).toContain('never signed');
    await eventually(async () => !(await publishedKids(h)).includes(rotated.kid), 'the retired key left the JWKS');
    h.clock.current = new Date(Date.parse(rotated.activates_at) + 1000);
    expect(kidOf(await tokenOf(h, c))).toBe(signing);
  });
});

describe('keys retire refusals and the CLI', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keys-cli-'));
    env = { KEYS_DIR: join(dir, 'keys'), DATA_DIR: join(dir, 'data'), ...ENV };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('answers --help with 0, and bad usage with 2 and a hint', async () => {
    for (const args of [['--help'], ['keys', '--help'], ['keys', 'help']]) {
      const res = await cli(args, env);
      expect(res.code, args.join(' ')).toBe(0);
      expect(res.stdout).toContain('keys rotate');
    }
    const misuses = [
      ['keys'],
      ['keys', 'spin'],
      ['keys', 'rotate', '--alg', 'HS256'],
      ['keys', 'retire'],
      ['keys', 'list', '--colour'],
      ['keys', 'list', 'extra'],
      ['frobnicate'],
    ];
    for (const args of misuses) {
      const res = await cli(args, env);
      expect(res.code, args.join(' ')).toBe(2);
      expect(res.stdout).toBe('');
      expect(res.stderr.length).toBeGreaterThan(0);
    }
    const badConfig = await cli(['keys', 'list'], { ...env, MAX_TOKEN_TTL_SECONDS: 'long' });
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toContain('MAX_TOKEN_TTL_SECONDS');
  });

  it('rotates, lists and retires, never printing a private member, and refuses to retire the only active key', async () => {
    const first = await cli(['keys', 'rotate'], env);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/active now/); // an empty folder has nothing to wait for
    const listed = JSON.parse((await cli(['keys', 'list', '--json'], env)).stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ state: 'active', signing: true, source: 'file', retired_at: null, in_jwks: true });
    for (const member of PRIVATE_MEMBERS) expect(listed[0]).not.toHaveProperty(member);
    const activeKid = listed[0].kid;

    const refused = await cli(['keys', 'retire', activeKid], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('only active key');
    const unknown = await cli(['keys', 'retire', 'no-such-kid'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no key with kid no-such-kid');

    const second = await cli(['keys', 'rotate', '--alg', 'EdDSA'], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/signing from .* \(in 120 s\)/);
    const table = (await cli(['keys', 'list'], env)).stdout;
    expect(table.split('\n')[0]).toMatch(/^KID\s+ALG\s+STATE/);
    expect(table).toMatch(/EdDSA\s+next/);
    expect(table).not.toMatch(/"d"/);
    // Another active key of another algorithm can take over: retiring the first is allowed then.
    const edKid = JSON.parse((await cli(['keys', 'list', '--json'], env)).stdout).find((r: any) => r.alg === 'EdDSA').kid;
    const edFile = join(env.KEYS_DIR!, `${edKid}.json`);
    const ed = JSON.parse(await readFile(edFile, 'utf8'));
    await writeFile(edFile, JSON.stringify({ ...ed, activates_at: ed.created_at }), { mode: 0o600 });
    const retired = await cli(['keys', 'retire', activeKid], env);
    expect(retired.code).toBe(0);
    expect(retired.stdout).toMatch(/signs no more; in the JWKS until/);
    const again = await cli(['keys', 'retire', activeKid], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already retired');
    for (const file of await readdir(env.KEYS_DIR!)) {
      expect((await stat(join(env.KEYS_DIR!, file))).mode & 0o777).toBe(0o600);
    }
  });

  it('works while the service holds its PGlite data folder: key commands never open the database', async () => {
    const held = await connectDatabase({ dataDir: env.DATA_DIR! });
    try {
      const res = await cli(['keys', 'list', '--json'], env);
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout).length).toBeGreaterThan(0);
    } finally {
      await held.close();
    }
  });
});

describe.each(DATABASE_KINDS)('a signing key from the environment (%s)', (kind) => {
  const services: TestService[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('SIGNING_KEY (PEM) signs every token under SIGNING_KEY_ID; keys already in KEYS_DIR stay published', async () => {
    const keysDir = await mkdtemp(join(tmpdir(), 'keys-env-'));
    dirs.push(keysDir);
    const clock = new TestClock();
    const folderKey = await keyMadeIn(keysDir, 'RS256', clock.now());
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // A single-line variable with \n escapes, as many platforms store it.
    const oneLine = pkcs8(privateKey).replace(/\n/g, '\\n');
    const env = { ...ENV, SIGNING_KEY: oneLine, SIGNING_KEY_ID: 'platform-key-1' };
    const h = await startTestService(kind, env, { keysDir, clock });
    services.push(h);

    const token = await tokenOf(h, await client(h));
    expect(decodeProtectedHeader(token)).toMatchObject({ kid: 'platform-key-1', alg: 'RS256' });
    expect(await publishedKids(h)).toEqual(['platform-key-1', folderKey.key.kid].sort());
    await expect(verifyWith(h, createRemoteJWKSet(new URL(`${h.url}/.well-known/jwks.json`)), token)).resolves.toBeDefined();
    expect(await readdir(keysDir)).toEqual([`${folderKey.key.kid}.json`]);
  });

  it('SIGNING_KEY (JWK) needs no KEYS_DIR at all; its kid is its own or its RFC 7638 thumbprint', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'keys-env-'));
    dirs.push(parent);
    const keysDir = join(parent, 'absent');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = privateKey.export({ format: 'jwk' });
    const h = await startTestService(kind, { ...ENV, SIGNING_KEY: JSON.stringify(jwk) }, { keysDir });
    services.push(h);

    const token = await tokenOf(h, await client(h));
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'ES256', kid: await calculateJwkThumbprint(jwk as any) });
    expect(await publishedKids(h)).toEqual([kidOf(token)]);
    await expect(stat(keysDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(loadConfig({ SIGNING_KEY: JSON.stringify({ ...jwk, kid: 'mine' }) }).signingKey?.kid).toBe('mine');
  });

  it('a bad SIGNING_KEY stops the start with a message naming it, never quoting it', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const secretish = 'not-a-key-but-maybe-a-secret';
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ SIGNING_KEY: secretish }, 'SIGNING_KEY', /neither a private JWK/],
      [
        { SIGNING_KEY: `{"kty":"RSA","n":"${secretish}","e":"AQAB","d":"${secretish}"}` },
        'SIGNING_KEY',
        /not a valid private key/,
      ],
      [{ SIGNING_KEY: `{"kty":"EC","d":"${secretish}` }, 'SIGNING_KEY', /not valid JSON/],
      [{ SIGNING_KEY: publicKey.export({ format: 'pem', type: 'spki' }).toString() }, 'SIGNING_KEY', /public key/],
      [{ SIGNING_KEY: pkcs8(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey) }, 'SIGNING_KEY', /2048/],
      [{ SIGNING_KEY: pkcs8(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey) }, 'SIGNING_KEY', /cannot sign/],
      [{ SIGNING_KEY: pkcs8(privateKey), SIGNING_ALG: 'ES256' }, 'SIGNING_ALG', /RS256 key/],
      [{ SIGNING_KEY_ID: 'k1' }, 'SIGNING_KEY_ID', /SIGNING_KEY/],
    ];
    for (const [env, variable, reason] of cases) {
      let error: unknown;
      try {
        loadConfig(env);
      } catch (e) {
        error = e;
      }
      expect(error, variable).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain(`${variable}:`);
      expect(message).toMatch(reason);
      expect(message).not.toContain(secretish);
      expect(message).not.toContain('PRIVATE KEY');
    }
  });
});

describe('SIGHUP', () => {
  it('makes a running service re-read the keys folder, and does not stop it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-hup-'));
    const port = await freePort();
    // One process, as in the Docker image (the tsx wrapper of `npm start` would not pass SIGHUP on).
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: String(port),
        HOST: '127.0.0.1',
        KEYS_DIR: join(dir, 'keys'),
        DATA_DIR: join(dir, 'data'),
        ...ENV,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    try {
      await eventually(async () => output.includes('token service listening'), 'the service listens', 60_000);
      child.kill('SIGHUP');
      await eventually(async () => output.includes('re-reading the keys folder'), 'the service logs the re-read');
      const res = await fetch(`http://127.0.0.1:${port}/.well-known/jwks.json`);
      expect(res.status).toBe(200);
      expect(child.exitCode).toBeNull();
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('KEY_PROPAGATION_SECONDS', () => {
  it('defaults to the JWKS max-age plus a minute, and may be set', () => {
    expect(loadConfig({}).keyPropagationSeconds).toBe(360);
    expect(loadConfig({ JWKS_MAX_AGE_SECONDS: '600' }).keyPropagationSeconds).toBe(660);
    expect(loadConfig({ KEY_PROPAGATION_SECONDS: '0' }).keyPropagationSeconds).toBe(0);
    expect(() => loadConfig({ KEY_PROPAGATION_SECONDS: '-1' })).toThrow(/KEY_PROPAGATION_SECONDS/);
  });
});

describe('key files written before rotation existed', () => {
  it('keep signing as before (the oldest of its algorithm), stay published, and retire at the first rotation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keys-legacy-'));
    try {
      const clock = new TestClock();
      const folder = { dir, maxTokenTtlSeconds: 300 };
      // Two keys of one algorithm, as two instances starting together could leave them: no activates_at.
      const kids: string[] = [];
      for (const minutesAgo of [60, 30]) {
        const made = await keyMadeIn(dir, 'RS256', new Date(clock.now().getTime() - minutesAgo * 60_000));
        const file = join(dir, `${made.key.kid}.json`);
        const { activates_at: _, ...legacy } = JSON.parse(await readFile(file, 'utf8'));
        await writeFile(file, JSON.stringify(legacy), { mode: 0o600 });
        kids.push(made.key.kid);
      }
      const store = await KeyStore.open({ dir, alg: 'RS256', maxTokenTtlSeconds: 300, clock: clock.now });
      expect(store.signingKey().kid).toBe(kids[0]);
      expect(store.publicKeys.map((k) => k.kid).sort()).toEqual([...kids].sort());

      const rotated = await rotateKey(folder, { alg: 'RS256', propagationSeconds: 120, now: clock.now() });
      await store.reload();
      expect(store.signingKey().kid).toBe(kids[0]);
      clock.advance(120_000);
      expect(store.signingKey().kid).toBe(rotated.key.kid);
      clock.advance(LINGER_MS - 1);
      expect(store.publicKeys).toHaveLength(3);
      clock.advance(1);
      expect(store.publicKeys.map((k) => k.kid)).toEqual([rotated.key.kid]);
      expect(await readdir(dir)).toHaveLength(3); // files stay: `keys list` shows them as retired
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('key states, derived from timestamps (property)', () => {
  const SECOND = 1000;
  const keysArb = fc
    .array(
      fc.record({
        alg: fc.constantFrom('RS256', 'ES256'),
        created: fc.integer({ min: 0, max: 600 }),
        wait: fc.integer({ min: 0, max: 300 }),
        retired: fc.option(fc.integer({ min: 0, max: 1200 }), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 6 },
    )
    .map((specs) =>
      specs.map(
        (s, i): KeyTimes => ({
          kid: `k${i}`,
          alg: s.alg,
          createdAt: s.created * SECOND,
          activatesAt: (s.created + s.wait) * SECOND,
          retiredAt: s.retired === undefined ? undefined : s.retired * SECOND,
        }),
      ),
    );
  const ttlArb = fc.integer({ min: 1, max: 300 });
  const grid = Array.from({ length: 400 }, (_, i) => i * 5 * SECOND);
  const rank = { next: 0, active: 1, retired: 2 } as const;

  it('one active key per algorithm at most; the signing key is published; never back to an earlier state', () => {
    fc.assert(
      fc.property(keysArb, ttlArb, (keys, ttl) => {
        const previous = new Map<string, { state: keyof typeof rank; published: boolean }>();
        for (const t of grid) {
          const statuses = keyStatuses(keys, t, { maxTokenTtlSeconds: ttl });
          for (const alg of ['RS256', 'ES256']) {
            expect(statuses.filter((s) => s.key.alg === alg && s.state === 'active').length).toBeLessThanOrEqual(1);
            const signing = signingStatus(statuses, alg);
            if (signing) expect(signing.published).toBe(true);
          }
          for (const s of statuses) {
            const before = previous.get(s.key.kid);
            if (before) {
              expect(rank[s.state]).toBeGreaterThanOrEqual(rank[before.state]);
              if (!before.published) expect(s.published).toBe(false);
            }
            previous.set(s.key.kid, { state: s.state, published: s.published });
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('a key that signed at some moment stays published for MAX_TOKEN_TTL_SECONDS after it', () => {
    fc.assert(
      fc.property(keysArb, ttlArb, fc.constantFrom('RS256', 'ES256'), (keys, ttl, alg) => {
        for (const t of grid) {
          const signing = signingStatus(keyStatuses(keys, t, { maxTokenTtlSeconds: ttl }), alg);
          if (!signing) continue;
          for (const later of [t, t + (ttl * SECOND) / 2, t + ttl * SECOND]) {
            const status = keyStatuses(keys, later, { maxTokenTtlSeconds: ttl }).find((s) => s.key === signing.key)!;
            expect(status.published).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('nothing changes before the moment nextChangeAfter names', () => {
    fc.assert(
      fc.property(keysArb, ttlArb, fc.integer({ min: 0, max: 2000 }), (keys, ttl, at) => {
        const now = at * SECOND;
        const settings = { maxTokenTtlSeconds: ttl };
        const statuses = keyStatuses(keys, now, settings);
        const next = nextChangeAfter(statuses, now);
        const summary = (t: number) => keyStatuses(keys, t, settings).map((s) => `${s.state}/${s.published}`).join(' ');
        for (const t of [now + 1, (now + Math.min(next, now + 5000)) / 2, Math.min(next, now + 5000) - 1]) {
          if (t > now && t < next) expect(summary(t)).toBe(summary(now));
        }
      }),
      { numRuns: 300 },
    );
  });
});

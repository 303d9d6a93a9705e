import { generateKeyPairSync } from 'node:crypto';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger';
import { DATABASE_KINDS } from './support/database';
import { basicAuth, startTestService, uniqueName, type HttpResult, type TestService } from './support/service';

// Privilege: a token never carries more than its account was granted; an admin token does only what its
// scopes allow, on every admin operation the OpenAPI document lists; and a client secret, once shown at its
// creation, appears nowhere again: not in a response, a log line or a database row.

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const ZERO_ID = '00000000-0000-4000-8000-000000000000';

/** Everything the service logs, as written. */
class CapturedLog {
  readonly chunks: string[] = [];
  write(chunk: string): void {
    this.chunks.push(chunk);
  }
  get text(): string {
    return this.chunks.join('');
  }
}

// ---- A token's scope and audience: never wider than the grant ----

const GRANTED_SCOPES = ['orders:read', 'orders:write', 'invoices:read', 'admin'];
const GRANTED_AUDIENCES = ['https://orders.example.com', 'https://invoices.example.com', 'urn:example:reports'];
/** Near misses: case, prefixes, wildcards, other services' scopes. */
const OTHER_SCOPES = ['orders:READ', 'orders', 'orders:*', '*', 'orders:read:all', 'invoices:write', 'service-account:create', 'token:introspect', 'Admin', 'admin2'];
const OTHER_AUDIENCES = [
  'https://orders.example.com/', 'https://ORDERS.example.com', 'https://orders.example.com#x', 'https://evil.example',
  'urn:example:REPORTS', 'urn:token-service:admin', 'orders.example.com', 'https://orders.example.com.evil.example',
];

interface Requested {
  scope: string | undefined;
  audience: string | undefined;
  resources: string[];
}

/** What the grant allows for a request: the scope and audience of the token, or the error. An independent model. */
function expectedGrant(r: Requested, defaultAudience: string): { error: string } | { scope: string[]; aud: string[] } {
  let scope = GRANTED_SCOPES;
  if (r.scope !== undefined && r.scope !== '') {
    const tokens = r.scope.split(' ').filter((t) => t !== '');
    if (tokens.length === 0 || tokens.some((t) => !GRANTED_SCOPES.includes(t))) return { error: 'invalid_scope' };
    scope = [...new Set(tokens)];
  }
  const audience = r.audience === '' ? undefined : r.audience;
  const resources = r.resources.filter((x) => x !== '');
  if (audience !== undefined && resources.length > 0) return { error: 'invalid_request' };
  if (resources.some((x) => x.includes('#') || !/^[a-z][a-z0-9+.-]*:/i.test(x))) return { error: 'invalid_target' };
  const wanted = audience !== undefined ? [audience] : [...new Set(resources)];
  if (wanted.some((a) => !GRANTED_AUDIENCES.includes(a))) return { error: 'invalid_target' };
  return { scope, aud: wanted.length > 0 ? wanted : [GRANTED_AUDIENCES[0] ?? defaultAudience] };
}

describe.each(DATABASE_KINDS)('privilege (%s)', (kind) => {
  let h: TestService;
  let log: CapturedLog;
  let doc: any;
  let client: { id: string; secret: string };
  /** Every plaintext secret this suite has seen: none may appear again after its creation response. */
  const secrets: string[] = [];

  beforeAll(async () => {
    log = new CapturedLog();
    h = await startTestService(kind, { RATE_LIMIT_PER_MINUTE: '1000000' }, { logger: createLogger('trace', log) });
    doc = (await h.fetch('/openapi.json')).body;
    const account = await h.createAccount({ scopes: GRANTED_SCOPES, audiences: GRANTED_AUDIENCES });
    client = { id: account.client_id, secret: account.secret.secret };
    secrets.push(account.secret.secret, h.adminSecret);
  });
  afterAll(() => h?.close());

  it('issues a token only within the grant: scope ⊆ granted, aud ∈ allowed; anything wider is refused', async () => {
    const scopeToken = fc.constantFrom(...GRANTED_SCOPES, ...OTHER_SCOPES);
    const audience = fc.constantFrom(...GRANTED_AUDIENCES, ...OTHER_AUDIENCES, '');
    const requested: fc.Arbitrary<Requested> = fc.record<Requested>({
      scope: fc.option(
        fc.oneof(
          fc.array(scopeToken, { maxLength: 5 }).map((t) => t.join(' ')),
          fc.array(scopeToken, { minLength: 1, maxLength: 4 }).map((t) => `  ${t.join('   ')} `),
          fc.constantFrom('', ' ', 'orders:read\torders:write', 'orders:read,orders:write', 'orders:read+orders:write'),
        ),
        { nil: undefined },
      ),
      audience: fc.option(audience, { nil: undefined, freq: 2 }),
      resources: fc.oneof(fc.constant<string[]>([]), fc.array(audience, { maxLength: 3 })),
    });
    await fc.assert(
      fc.asyncProperty(requested, fc.boolean(), async (r, asJson) => {
        const form: Array<[string, string]> = [['grant_type', 'client_credentials']];
        if (r.scope !== undefined) form.push(['scope', r.scope]);
        if (r.audience !== undefined) form.push(['audience', r.audience]);
        for (const resource of r.resources) form.push(['resource', resource]);
        const res = await h.fetch('/oauth/token', {
          method: 'POST',
          headers: {
            authorization: basicAuth(client.id, client.secret),
            'content-type': asJson ? 'application/json' : 'application/x-www-form-urlencoded',
          },
          body: asJson
            ? JSON.stringify({
                ...Object.fromEntries(form.filter(([k]) => k !== 'resource')),
                ...(r.resources.length > 0 ? { resource: r.resources } : {}),
              })
            : new URLSearchParams(form).toString(),
        });
        const expected = expectedGrant(r, h.config.defaultAudience);
        const context = `${JSON.stringify(r)} (${asJson ? 'JSON' : 'form'}): ${res.status} ${res.text}`;
        if (res.status === 200) {
          const claims = decodeJwt(res.body.access_token);
          const scope = String(claims.scope ?? '').split(' ').filter(Boolean);
          const aud = [claims.aud].flat();
          // The invariant, whatever the model says...
          for (const s of scope) expect(GRANTED_SCOPES, context).toContain(s);
          for (const a of aud) expect(GRANTED_AUDIENCES, context).toContain(a);
          expect(claims.client_id, context).toBe(client.id);
          // ...and exactly what was asked for.
          expect(expected, context).toEqual({ scope: expect.any(Array), aud: expect.any(Array) });
          const want = expected as { scope: string[]; aud: string[] };
          expect(scope.sort(), context).toEqual([...want.scope].sort());
          expect(aud.sort(), context).toEqual([...want.aud].sort());
          expect((res.body.scope ?? '').split(' ').filter(Boolean).sort(), context).toEqual([...want.scope].sort());
        } else {
          expect(res.status, context).toBe(400);
          expect(res.headers.get('cache-control'), context).toContain('no-store');
          expect(res.body.error, context).toBe((expected as { error: string }).error);
        }
      }),
      { numRuns: 150 },
    );
  });

  /** Every admin operation, with the scope its security requirement names. */
  const adminOperations = () =>
    Object.entries<any>(doc.paths)
      .filter(([path]) => path.startsWith('/admin/'))
      .flatMap(([path, item]) =>
        METHODS.filter((m) => item[m]).map((m) => {
          const scopes = new Set<string>((item[m].security ?? []).flatMap((req: Record<string, string[]>) => Object.values(req).flat()));
          return { method: m.toUpperCase(), path, operationId: item[m].operationId as string, scopes: [...scopes] };
        }),
      );

  it('lets an admin token do only what its scopes allow, on every admin operation: 403 insufficient_scope and no effect otherwise', async () => {
    const ops = adminOperations();
    expect(ops.length).toBeGreaterThanOrEqual(17);
    for (const op of ops) expect(op.scopes, `${op.method} ${op.path} documents the one scope it needs`).toHaveLength(1);
    const adminScopes = [...new Set(ops.flatMap((o) => o.scopes))].sort();
    expect(adminScopes).toEqual(['service-account:create', 'service-account:delete', 'service-account:read', 'service-account:update']);

    // One administrator holding every admin scope (and one that is not), asking for tokens with fewer.
    const admin = await h.createAccount({ scopes: [...adminScopes, 'unrelated:scope'], audiences: [h.config.adminAudience] });
    secrets.push(admin.secret.secret);
    const tokenWith = async (scopes: string[]) => {
      const res = await h.token({ grant_type: 'client_credentials', scope: scopes.join(' ') }, { id: admin.client_id, secret: admin.secret.secret });
      expect(res.status, res.text).toBe(200);
      return res.body.access_token as string;
    };

    // What each operation would change if the guard let it: a real target and a valid body.
    const target = await h.createAccount({ scopes: ['orders:read'] });
    secrets.push(target.secret.secret);
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = await h.admin('POST', `/service-accounts/${target.id}/keys`, { jwk: publicKey.export({ format: 'jwk' }) });
    expect(key.status, key.text).toBe(201);
    const ids: Record<string, string> = { id: target.id, secretId: target.secret.id, keyId: key.body.id };
    const createdName = uniqueName('never-created');
    const validBody: Record<string, unknown> = {
      createServiceAccount: { name: createdName },
      updateServiceAccount: { description: 'changed by a token that may not' },
      createSecret: {},
      updateSecret: { status: 'disabled' },
      createClientKey: { jwk: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) },
      updateClientKey: { status: 'disabled' },
    };
    const snapshot = async () => {
      const [account, secretsList, keys, all] = await Promise.all([
        h.admin('GET', `/service-accounts/${target.id}`),
        h.admin('GET', `/service-accounts/${target.id}/secrets`),
        h.admin('GET', `/service-accounts/${target.id}/keys`),
        h.admin('GET', '/service-accounts?limit=100'),
      ]);
      return JSON.stringify([account.body, secretsList.body, keys.body, all.body.items.map((a: any) => a.id).sort()]);
    };
    const before = await snapshot();

    /** With `real`: the target's ids and a valid body. Without: unknown ids and an empty body (changing nothing). */
    const call = (op: { method: string; path: string; operationId: string }, token: string, real: boolean) => {
      const path = op.path.replace('/admin/v1', '').replace(/\{([^}]+)\}/g, (_, p: string) => (real ? ids[p] : undefined) ?? ZERO_ID);
      const body = op.method === 'GET' || op.method === 'DELETE' ? undefined : real ? (validBody[op.operationId] ?? {}) : {};
      return h.admin(op.method, path, body, token);
    };
    const expectForbidden = (res: HttpResult, scope: string, what: string) => {
      expect(res.status, `${what}: ${res.text}`).toBe(403);
      expect(res.headers.get('content-type') ?? '', what).toMatch(/^application\/problem\+json/);
      expect(res.body, what).toMatchObject({ status: 403, title: expect.any(String) });
      const challenge = res.headers.get('www-authenticate') ?? '';
      expect(challenge, what).toMatch(/^Bearer\b/);
      expect(challenge, what).toContain('error="insufficient_scope"');
      expect(challenge, what).toContain(`scope="${scope}"`);
    };

    // Tokens with no admin scope, one admin scope, and every admin scope but one.
    const subsets = [['unrelated:scope'], ...adminScopes.map((s) => [s]), ...adminScopes.map((s) => adminScopes.filter((x) => x !== s))];
    for (const subset of subsets) {
      const token = await tokenWith(subset);
      for (const op of ops) {
        const needed = op.scopes[0]!;
        const what = `${op.method} ${op.path} with [${subset.join(' ')}]`;
        if (!subset.includes(needed)) {
          // With a real target and a valid body: only the guard stands between the token and the change.
          expectForbidden(await call(op, token, true), needed, what);
        } else {
          // Past the guard (on an unknown id, so that nothing changes): a 2xx, or the operation's own 4xx.
          const res = await call(op, token, false);
          expect([200, 201, 204, 400, 404, 409], `${what}: ${res.text}`).toContain(res.status);
        }
      }
    }
    // Nothing the forbidden calls asked for happened.
    expect(await snapshot()).toBe(before);
    expect((await h.admin('GET', `/service-accounts?q=${createdName}`)).body.items).toEqual([]);
  });

  it('never shows a secret again after its creation: not in a response, a log line or a database row', async () => {
    const responses: string[] = [];
    const keep = (res: HttpResult) => {
      responses.push(res.text, JSON.stringify([...res.headers]));
      return res;
    };
    // Several accounts and secrets; the only responses allowed to hold a plaintext are their creations.
    const accounts = [];
    for (let i = 0; i < 3; i++) {
      const account = await h.createAccount({ scopes: ['orders:read', 'token:introspect'], audiences: ['https://orders.example.com'] });
      const extra = await h.admin('POST', `/service-accounts/${account.id}/secrets`, { description: `extra ${i}` });
      expect(extra.status, extra.text).toBe(201);
      secrets.push(account.secret.secret, extra.body.secret);
      accounts.push({ account, secrets: [account.secret.secret, extra.body.secret as string] });
    }
    const [first, second, third] = accounts as [(typeof accounts)[0], (typeof accounts)[0], (typeof accounts)[0]];

    // Token requests: Basic and post; wrong secrets; another account's secret; id and secret swapped.
    const tokens: string[] = [];
    for (const { account, secrets: own } of accounts) {
      const basic = keep(await h.token({ grant_type: 'client_credentials' }, { id: account.client_id, secret: own[0]! }));
      expect(basic.status, basic.text).toBe(200);
      tokens.push(basic.body.access_token);
      const post = keep(await h.token({ grant_type: 'client_credentials', client_id: account.client_id, client_secret: own[1]! }));
      expect(post.status, post.text).toBe(200);
      tokens.push(post.body.access_token);
    }
    const refused = [
      await h.token({ grant_type: 'client_credentials' }, { id: first.account.client_id, secret: second.secrets[0]! }),
      await h.token({ grant_type: 'client_credentials' }, { id: first.account.client_id, secret: `${first.secrets[0]!.slice(0, -1)}x` }),
      await h.token({ grant_type: 'client_credentials' }, { id: third.secrets[0]!, secret: third.account.client_id }),
      await h.token({ grant_type: 'client_credentials', client_id: third.secrets[1]!, client_secret: third.account.client_id }),
      await h.token({ grant_type: 'client_credentials', client_id: 'sa_nobody', client_secret: second.secrets[1]! }),
    ];
    for (const res of refused) expect(keep(res).status, res.text).toBe(401);
    // Introspection of a token, by an account that may introspect.
    const introspected = keep(
      await h.fetch('/oauth/introspect', {
        method: 'POST',
        headers: { authorization: basicAuth(second.account.client_id, second.secrets[0]!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: tokens[0]! }).toString(),
      }),
    );
    expect(introspected.body.active, introspected.text).toBe(true);
    // A secret disabled, one revoked: their changes are audited too.
    expect(keep(await h.admin('PATCH', `/service-accounts/${third.account.id}/secrets/${third.account.secret.id}`, { status: 'disabled' })).status).toBe(200);
    expect(keep(await h.admin('DELETE', `/service-accounts/${second.account.id}/secrets/${second.account.secret.id}`)).status).toBe(204);

    // Every admin read there is.
    for (const { account } of accounts) {
      for (const path of [`/service-accounts/${account.id}`, `/service-accounts/${account.id}/secrets`, `/service-accounts/${account.id}/keys`, `/service-accounts/${account.id}/audit-events`]) {
        expect(keep(await h.admin('GET', path)).status, path).toBe(200);
      }
    }
    for (const path of ['/service-accounts?limit=100', '/secrets?limit=100', '/audit-events?limit=100', '/audit-events?action=token.denied', '/audit-events?action=service_account.created']) {
      expect(keep(await h.admin('GET', path)).status, path).toBe(200);
    }
    for (const path of ['/metrics', '/.well-known/oauth-authorization-server', '/.well-known/jwks.json']) keep(await h.fetch(path));

    // Written down: the audit buffer and last-used times flushed, then every table of every schema of ours.
    await h.service.flush();
    const tables = rowsOf(
      await h.database.handle.db.execute(
        sql`select table_schema, table_name from information_schema.tables
            where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE'`,
      ),
    );
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['service_accounts', 'client_secrets', 'audit_events']));
    const dump: string[] = [];
    for (const { table_schema, table_name } of tables) {
      const rows = rowsOf(await h.database.handle.db.execute(sql.raw(`select t::text as row from "${table_schema}"."${table_name}" t`)));
      dump.push(...rows.map((r) => `${table_schema}.${table_name}: ${r.row}`));
    }
    expect(dump.some((row) => row.startsWith('public.audit_events: '))).toBe(true);

    const places: Array<[string, string]> = [
      ['a response', responses.join('\n')],
      ['the log', log.text],
      ['the database', dump.join('\n')],
    ];
    for (const secret of secrets) {
      // The secret, and its random part alone (ccs_<id>_<random>): the id is public (the prefix shows it), the rest never.
      const needles = [secret, secret.split('_').slice(2).join('_')].filter((n) => n.length >= 20);
      for (const needle of needles) {
        for (const [where, haystack] of places) {
          expect(haystack.includes(needle), `a secret in ${where}: …${around(haystack, needle)}…`).toBe(false);
          expect(haystack.includes(encodeURIComponent(needle)), `a URL-encoded secret in ${where}`).toBe(false);
          expect(haystack.includes(Buffer.from(needle).toString('base64').slice(0, 40)), `a base64 secret in ${where}`).toBe(false);
        }
      }
    }
    // Nor is an access token logged or stored.
    for (const token of tokens) {
      expect(log.text.includes(token.split('.')[2]!), 'an access token in the log').toBe(false);
      expect(dump.join('\n').includes(token.split('.')[2]!), 'an access token in the database').toBe(false);
    }
  });
});

/** What surrounds `needle` in `haystack`, the needle itself masked: enough to find the leak, without repeating it. */
function around(haystack: string, needle: string): string {
  const at = haystack.indexOf(needle);
  return `${haystack.slice(Math.max(0, at - 150), at)}<SECRET>${haystack.slice(at + needle.length, at + needle.length + 100)}`;
}

/** Rows of `db.execute`, whichever driver: PGlite answers `{rows}`, postgres.js an array. */
function rowsOf(result: unknown): Array<Record<string, any>> {
  return (Array.isArray(result) ? result : (result as { rows: Array<Record<string, any>> }).rows) as Array<Record<string, any>>;
}

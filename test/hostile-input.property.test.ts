import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import {
  describeAttempt,
  expectWellFormed,
  operationsOf,
  send,
  sendRaw,
  sendStreamed,
  type Attempt,
  type Operation,
  type Surface,
} from './support/http-probe';
import { basicAuth, startTestService, type TestService } from './support/service';

// Strangers' input against the real service over HTTP: the token endpoint, introspection and every admin
// operation the OpenAPI document lists (so a new route is covered as soon as it is documented). Whatever
// arrives, the answer is a well-formed 4xx in the surface's own format (RFC 6749 §5.2 on /oauth/*, RFC 9457
// on /admin/*), never a 5xx, and it arrives within ANSWER_WITHIN_MS (a hang check, not a performance test).

/** Runs per operation and property: every admin route gets its share; the file stays under ~20 s per database. */
const RUNS_PER_OPERATION = 40;
const RUNS_PER_OAUTH_ENDPOINT = 150;
const ORDERS = 'https://orders.example.com';
/** Real ids are substituted only where a lucky request cannot destroy the fixture the other runs need. */
const DESTRUCTIVE = (op: Operation) => op.method === 'DELETE' || op.path.endsWith('/revoke');

// ---- Arbitraries of hostile input ----

/** Byte sequences that are not UTF-8: a lone continuation byte, an overlong form, a truncated sequence, a surrogate. */
const INVALID_UTF8 = [[0xff], [0xfe, 0xff], [0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80]];
const PERCENT_JUNK = ['%', '%%', '%F', '%FF', '%FE%FF', '%C0%AF', '%ED%A0%80', '%00', '%0A', '%2F', '%25', '%E0%A4%A', '%u0041', '+', '&&', '=', '=='];

/** Text a stranger may put in any field: U+0000 (which PostgreSQL text cannot hold), lone surrogates, and worse. */
const NASTY = ['\u0000', 'a\u0000b', '\ud800', "'; drop table service_accounts; --", '%_\\', '', 'x'.repeat(5000)];
const nastyText = fc.oneof(
  fc.constantFrom(...NASTY),
  fc.constantFrom('x\udfff', '\uffff', '\ufeff', '\u202e', '\r\n', '\t', ' ', '\\', '"', '${jndi:ldap://x}', '../../etc/passwd', '00000000-0000-0000-0000-000000000000', '-1', '1e309'),
  fc.string({ maxLength: 40, unit: 'binary' }),
  fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 })).map(([a, b]) => `${a}\u0000${b}`),
);

const FIELD_NAMES = [
  'grant_type', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'scope', 'audience',
  'resource', 'token', 'token_type_hint', 'name', 'description', 'scopes', 'audiences', 'status', 'jwk',
  'expires_at', 'token_ttl_seconds', 'rate_limit_per_minute', 'allowed_ips', 'token_endpoint_auth_methods',
  'require_dpop', '__proto__', 'constructor', 'prototype', 'toString', '',
];
const fieldName = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...FIELD_NAMES) }, fc.string({ maxLength: 20 }));
const hostileString = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ maxLength: 30, unit: 'binary' }),
  fc.constantFrom('client_credentials', '\u0000', 'a\u0000b', '\ud800', '\uffff', ' ', 'x'.repeat(5000), '-1', '1e309', 'NaN', 'null', '{}', 'active', 'disabled', ORDERS, `${ORDERS}#frag`, 'token:introspect'),
);
const jsonish = fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileString);

/** Every byte of the UTF-8 form percent-encoded (a lone surrogate becomes U+FFFD, where encodeURIComponent throws). */
const percentEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const encoder = new TextEncoder();
const bytesOf = (s: string) => encoder.encode(s);
const concatBytes = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

const body: fc.Arbitrary<Uint8Array | string | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.constant(''),
  fc.uint8Array({ maxLength: 300 }),
  // Text with bytes that are not UTF-8 spliced in.
  fc
    .tuple(fc.string({ maxLength: 40 }), fc.constantFrom(...INVALID_UTF8), fc.string({ maxLength: 40 }))
    .map(([a, bad, b]) => concatBytes(bytesOf(a), Uint8Array.from(bad), bytesOf(b))),
  fc.json({ maxDepth: 4 }),
  // Objects whose members are the ones our endpoints read, with values of any type.
  fc.dictionary(fieldName, jsonish, { maxKeys: 6 }).map((o) => JSON.stringify(o)),
  // Duplicated JSON members: the parser keeps one, the service must not care which.
  fc
    .tuple(fc.constantFrom(...FIELD_NAMES), jsonish, jsonish)
    .map(([k, a, b]) => `{${JSON.stringify(k)}:${JSON.stringify(a ?? null)},${JSON.stringify(k)}:${JSON.stringify(b ?? null)}}`),
  // Forms, with repeated names and raw percent junk.
  fc.array(fc.tuple(fieldName, hostileString), { maxLength: 6 }).map((pairs) => new URLSearchParams(pairs).toString()),
  fc
    .array(fc.oneof(fc.constantFrom(...PERCENT_JUNK), fc.constantFrom('grant_type=client_credentials', 'scope=a', 'scope=b', 'resource=x')), { maxLength: 8 })
    .map((parts) => parts.join('&')),
);

const contentType = fc.oneof(
  fc.constantFrom(
    undefined,
    'application/json',
    'application/x-www-form-urlencoded',
    'APPLICATION/JSON; charset=utf-8',
    'application/x-www-form-urlencoded; charset=iso-8859-1',
    'application/json;;;charset="',
    'application/jsonx',
    'application/problem+json',
    'text/plain',
    'multipart/form-data; boundary=xyz',
    '*/*',
    ';',
    '',
  ),
  fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
);

/** Other headers the service reads: a DPoP proof, X-Forwarded-For (TRUST_PROXY is loopback here), a request id. */
const jwtish = fc
  .tuple(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 20 }))
  .map(([header, payload, signature]) => [header, payload].map((part) => Buffer.from(JSON.stringify(part) ?? 'null').toString('base64url')).concat(Buffer.from(signature).toString('base64url')).join('.'));
const headerText = fc.string({ maxLength: 60 }).filter((v) => /^[\x20-\x7e]*$/.test(v) && v.trim() === v);
const extraHeaders = fc.dictionary(
  fc.constantFrom('dpop', 'x-forwarded-for', 'x-request-id', 'user-agent', 'accept', 'content-encoding'),
  fc.oneof(headerText, jwtish, fc.constantFrom('x.y.z', '1.2.3.4, 5.6.7.8', ' , ,', '::ffff:1.2.3.4', '999.999.999.999', '[::1]:80', 'gzip', 'x'.repeat(4000))),
  { maxKeys: 2 },
);

const query = fc.oneof(
  fc.constant(''),
  fc
    .array(
      fc.oneof(
        fc
          .tuple(
            fc.constantFrom('limit', 'cursor', 'status', 'q', 'expiration', 'service_account_id', 'action', 'outcome', 'from', 'to', 'grant_type', 'scope'),
            hostileString,
          )
          .map(([k, v]) => `${k}=${percentEncode(v)}`),
        fc.tuple(fc.constantFrom('limit', 'q', 'cursor', 'from', 'status'), fc.constantFrom(...PERCENT_JUNK)).map(([k, v]) => `${k}=${v}`),
        fc.constantFrom(...PERCENT_JUNK),
        fc.constantFrom('limit=0', 'limit=101', 'limit=1.5', 'limit=1e3', 'limit=-0', 'limit=0x10', 'limit=', 'cursor=eyJ9', 'from=2026-13-45T99:00:00Z', 'q=%25%5F%5C'),
      ),
      { maxLength: 5 },
    )
    .map((parts) => `?${parts.join('&')}`),
);

// ---- The suite ----

describe.each(DATABASE_KINDS)('hostile input over HTTP (%s)', (kind) => {
  let h: TestService;
  let ops: Operation[];
  let adminToken: string;
  /** A client that may introspect: the valid credentials of the OAuth endpoints. */
  let client: { id: string; secret: string };
  const real: Record<string, string> = {};

  beforeAll(async () => {
    // Strangers fail authentication by the hundred here: the brute-force guard must not block 127.0.0.1.
    h = await startTestService(kind, {
      BRUTE_FORCE_MAX_FAILURES: '10000',
      BRUTE_FORCE_MAX_FAILURES_PER_IP: '1000000',
      RATE_LIMIT_PER_MINUTE: '1000000',
      TRUST_PROXY: '127.0.0.1',
    });
    ops = operationsOf((await h.fetch('/openapi.json')).body);
    adminToken = await h.adminToken();
    const own = await h.createAccount({ scopes: ['token:introspect', 'orders:read'], audiences: [ORDERS] });
    client = { id: own.client_id, secret: own.secret.secret };
    // The admin requests' real ids are another account's: whatever they change, the client above stays as it is.
    const account = await h.createAccount({ scopes: ['orders:read'], audiences: [ORDERS] });
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = await h.admin('POST', `/service-accounts/${account.id}/keys`, { jwk: publicKey.export({ format: 'jwk' }) });
    expect(key.status, key.text).toBe(201);
    const role = await h.admin('POST', '/roles', { name: 'hostile-input-role', scopes: ['orders:read'] });
    expect(role.status, role.text).toBe(201);
    const permission = await h.admin('POST', `/service-accounts/${account.id}/permissions`, { resource_type: 'report', resource_key: 'r1', action: 'read' });
    expect(permission.status, permission.text).toBe(201);
    Object.assign(real, { id: account.id, secretId: account.secret.id, keyId: key.body.id, name: role.body.name, permissionId: permission.body.id });
  });
  afterAll(() => h?.close());

  it('finds the token endpoint, introspection and the admin operations in /openapi.json', () => {
    expect(ops.filter((o) => o.surface === 'oauth').map((o) => `${o.method} ${o.path}`).sort()).toEqual([
      'POST /oauth/introspect',
      'POST /oauth/token',
    ]);
    expect(ops.filter((o) => o.surface === 'admin').length).toBeGreaterThanOrEqual(17);
    for (const param of ops.flatMap((o) => o.params)) expect(real, `a real value for {${param}}`).toHaveProperty(param);
  });

  const junkId = fc.oneof(
    fc.uuid().map(String),
    fc.string({ minLength: 1, maxLength: 40 }).map(percentEncode),
    fc.constantFrom(...PERCENT_JUNK.filter((j) => j.startsWith('%'))),
    fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'x'.repeat(5000), '%20', 'null', '-1', '..%2F..', '%2e%2e'),
  );

  /** The path with each parameter a real id (upper-cased, suffixed, or as is) or junk. */
  const pathOf = (op: Operation) =>
    fc
      .tuple(
        ...op.params.map((p) =>
          DESTRUCTIVE(op)
            ? junkId
            : fc.oneof(
                { weight: 2, arbitrary: fc.constant(real[p]!) },
                fc.constantFrom(real[p]!.toUpperCase(), `${real[p]}%00`, `${real[p]}%FF`, ` ${real[p]}`),
                junkId,
              ),
        ),
      )
      .map((values) => op.params.reduce((path, p, i) => path.replace(`{${p}}`, values[i]!), op.path));

  /** Authorization as a stranger might send it; `valid` is the endpoint's good credentials. */
  const authorization = (surface: Surface) =>
    fc.oneof(
      { weight: 3, arbitrary: fc.constant('valid') },
      fc.constantFrom(
        undefined,
        'Basic !!!not-base64!!!',
        `Basic ${Buffer.from('no-colon-here').toString('base64')}`,
        `Basic ${Buffer.from(':').toString('base64')}`,
        `Basic ${Buffer.from('%ZZ:%E0%A4%A').toString('base64')}`,
        `Basic ${Buffer.from([0xff, 0x3a, 0xfe]).toString('base64')}`,
        'Basic',
        'Basic ',
        'Bearer',
        'Bearer a b',
        'Bearer ...',
        'Digest username="admin", realm="x"',
        'Negotiate YII=',
        'DPoP x.y.z',
        `Bearer ${'A'.repeat(12_000)}`,
        `Basic ${'QUFB'.repeat(3_000)}`,
      ),
      fc.string({ maxLength: 80 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
      fc.string({ maxLength: 80 }).map((s) => `${surface === 'oauth' ? 'Basic' : 'Bearer'} ${Buffer.from(s).toString('base64')}`),
    );

  const headersOf = (surface: Surface, auth: string | undefined, type: string | undefined) => {
    const headers: Record<string, string> = {};
    if (auth === 'valid') headers.authorization = surface === 'oauth' ? basicAuth(client.id, client.secret) : `Bearer ${adminToken}`;
    else if (auth !== undefined) headers.authorization = auth;
    if (type !== undefined) headers['content-type'] = type;
    return headers;
  };

  it('answers random and malformed requests to the token endpoint and introspection with a well-formed 4xx, in time', async () => {
    for (const op of ops.filter((o) => o.surface === 'oauth')) {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 5, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE')),
          query,
          authorization('oauth'),
          contentType,
          fc.oneof(body, shapedBody(op)),
          extraHeaders,
          async (method, q, auth, type, payload, extra) => {
            const attempt: Attempt = {
              op,
              method,
              url: `${h.url}${op.path}${q}`,
              headers: { ...extra, ...headersOf('oauth', auth, type) },
              body: method === 'GET' ? undefined : payload,
            };
            const answer = await send(attempt);
            expectWellFormed('oauth', answer, describeAttempt(attempt), { success: auth === 'valid' && method === 'POST' });
          },
        ),
        { numRuns: RUNS_PER_OAUTH_ENDPOINT },
      );
    }
  });

  it('answers random and malformed requests to every admin operation with a well-formed 4xx problem, in time', async () => {
    for (const op of ops.filter((o) => o.surface === 'admin')) {
      await fc.assert(
        fc.asyncProperty(pathOf(op), fc.oneof(query, shapedQuery(op)), authorization('admin'), contentType, fc.oneof(body, shapedBody(op)), extraHeaders, async (path, q, auth, type, payload, extra) => {
          const attempt: Attempt = {
            op,
            method: op.method,
            url: `${h.url}${path}${q}`,
            headers: { ...extra, ...headersOf('admin', auth, type) },
            body: op.method === 'GET' ? undefined : payload,
          };
          const answer = await send(attempt);
          expectWellFormed('admin', answer, describeAttempt(attempt), { success: auth === 'valid' });
        }),
        { numRuns: RUNS_PER_OPERATION },
      );
    }
  });

  /** One request per operation with a body (token, introspection, every admin POST/PATCH/PUT), with good credentials. */
  const withBody = () => ops.filter((o) => o.hasBody || ['POST', 'PATCH', 'PUT'].includes(o.method));
  /** Real ids, but for a destructive operation an unknown one: the fixture must outlive the test. */
  const realPath = (op: Operation) =>
    op.params.reduce((path, p) => path.replace(`{${p}}`, DESTRUCTIVE(op) ? '00000000-0000-4000-8000-000000000000' : real[p]!), op.path);
  const goodHeaders = (op: Operation, type = 'application/json') => headersOf(op.surface, 'valid', type);

  /** A body of the operation's own documented members, with nasty values, as JSON or a form. */
  const shapedBody = (op: Operation) =>
    fc
      .tuple(
        fc.subarray(op.fields.length > 0 ? op.fields : [{ name: 'x', array: false }], { maxLength: Math.min(3, Math.max(1, op.fields.length)) }),
        fc.array(fc.oneof(nastyText, jsonish), { minLength: 3, maxLength: 3 }),
        fc.boolean(),
      )
      .map(([fields, values, asForm]) => {
        const entries = fields.map((f, i): [string, unknown] => [f.name, f.array ? [values[i]] : values[i]]);
        // A form value is text: a non-string value is sent as its JSON (String() throws on an object whose
        // toString is not a function, e.g. {"toString": 1}, which the generator can make).
        const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v) ?? '');
        return asForm ? new URLSearchParams(entries.map(([k, v]): [string, string] => [k, asText(v)])).toString() : JSON.stringify(Object.fromEntries(entries));
      });
  const shapedQuery = (op: Operation) =>
    fc
      .array(fc.tuple(fc.constantFrom(...(op.query.length > 0 ? op.query : ['x'])), nastyText), { maxLength: 3 })
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${percentEncode(v)}`).join('&')}`);

  /**
   * What one field may receive, alone in an otherwise valid request: the real fixture's ids, valid
   * credentials, and for account creation no secret (so no argon2 hash per request).
   */
  const validBase = (op: Operation): Record<string, unknown> =>
    op.surface === 'oauth'
      ? { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret, token: adminToken }
      : op.method === 'POST' && op.path === '/admin/v1/service-accounts'
        ? { name: `sweep-${Math.random().toString(36).slice(2)}`, token_endpoint_auth_methods: ['private_key_jwt'] }
        : {};

  it('takes nasty text in every documented body member, query parameter and path parameter, one at a time, without a 5xx', async () => {
    const sweep = async (op: Operation, where: 'body' | 'query' | 'path', name: string, value: string, array = false) => {
      let url = `${h.url}${realPath(op)}`;
      let payload: string | undefined;
      const base = validBase(op);
      if (where === 'path') url = `${h.url}${op.params.reduce((path, p) => path.replace(`{${p}}`, p === name ? percentEncode(value) : real[p]!), op.path)}`;
      if (where === 'query') url += `?${name}=${percentEncode(value)}`;
      if (where === 'body') base[name] = array ? [value] : value;
      const form = op.surface === 'oauth' && !op.mediaTypes.includes('application/json');
      if (op.hasBody) payload = form ? new URLSearchParams(Object.entries(base).map(([k, v]): [string, string] => [k, String(v)])).toString() : JSON.stringify(base);
      const headers = op.surface === 'oauth' ? { 'content-type': 'application/json' } : goodHeaders(op);
      const attempt: Attempt = { op, method: op.method, url, headers, body: payload };
      expectWellFormed(op.surface, await send(attempt), describeAttempt(attempt), { success: true });
    };
    const targets = ops.flatMap((op) => [
      ...op.fields.map((f) => ({ op, where: 'body' as const, name: f.name, array: f.array })),
      ...op.query.map((name) => ({ op, where: 'query' as const, name, array: false })),
      ...(DESTRUCTIVE(op) ? [] : op.params.map((name) => ({ op, where: 'path' as const, name, array: false }))),
    ]);
    expect(targets.length).toBeGreaterThan(50);
    for (const t of targets) for (const value of NASTY) await sweep(t.op, t.where, t.name, value, t.array);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), nastyText, (t, value) => sweep(t.op, t.where, t.name, value, t.array)),
      { numRuns: 150 },
    );
  });


  it('refuses a body over BODY_LIMIT_BYTES on every POST, PATCH and PUT with 413 in the right format, and takes one at the limit', async () => {
    const limit = h.config.bodyLimitBytes;
    expect(limit).toBe(16_384);
    // A JSON object (or form) of exactly n bytes: too long a description, an unknown parameter.
    const sized = (op: Operation, n: number) =>
      op.surface === 'oauth' ? `grant_type=client_credentials&padding=${'a'.repeat(n - 38)}` : `{"description":"${'a'.repeat(n - 18)}"}`;
    for (const op of withBody()) {
      const type = op.surface === 'oauth' ? 'application/x-www-form-urlencoded' : 'application/json';
      const url = `${h.url}${realPath(op)}`;
      for (const auth of ['valid', undefined] as const) {
        const headers = headersOf(op.surface, auth, type);
        const under = sized(op, limit);
        expect(Buffer.byteLength(under)).toBe(limit);
        const at = { op, method: op.method, url, headers, body: under };
        const atLimit = await send(at);
        expect(atLimit.status, describeAttempt(at)).not.toBe(413);
        expectWellFormed(op.surface, atLimit, describeAttempt(at), { success: auth === 'valid' });

        const over = { ...at, body: sized(op, limit + 1) };
        const overLimit = await send(over);
        expect(overLimit.status, describeAttempt(over)).toBe(413);
        expectWellFormed(op.surface, overLimit, describeAttempt(over));

        // Without Content-Length (chunked): the size is counted as the body streams in.
        const chunked = await sendStreamed(url, op.method, headers, [bytesOf('{"a":"'), new Uint8Array(limit).fill(0x61), bytesOf('"}')]);
        expect(chunked.status, `chunked ${op.method} ${op.path}`).toBe(413);
        expectWellFormed(op.surface, chunked, `chunked ${op.method} ${op.path}`);
        const smallChunked = await sendStreamed(url, op.method, headers, [bytesOf('{"a":'), bytesOf('1}')]);
        expect(smallChunked.status, `small chunked ${op.method} ${op.path}`).not.toBe(413);
        expectWellFormed(op.surface, smallChunked, `small chunked ${op.method} ${op.path}`);
      }
    }
  });

  it('answers deeply nested JSON (thousands of levels) on every operation with a body without a 5xx', async () => {
    const limit = h.config.bodyLimitBytes;
    const arrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    const objects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const bodies = [
      arrays(Math.floor(limit / 2) - 10), // ~8,000 levels, valid JSON, under the limit
      '['.repeat(limit - 10), // ~16,000 levels, never closed
      objects(Math.floor((limit - 20) / 6)),
      `{"jwk":${arrays(5_000)}}`,
      `{"jwk":{"kty":"EC","crv":${arrays(5_000)}}}`,
      `{"name":"deep","scopes":${arrays(5_000)}}`,
      `{"status":${objects(2_000)}}`,
      `{"grant_type":"client_credentials","resource":${arrays(5_000)}}`,
      arrays(10_000), // 10,000 levels: over the default limit, so 413
    ];
    for (const op of withBody()) {
      for (const payload of bodies) {
        const attempt: Attempt = { op, method: op.method, url: `${h.url}${realPath(op)}`, headers: goodHeaders(op), body: payload };
        const answer = await send(attempt);
        expectWellFormed(op.surface, answer, describeAttempt(attempt));
        if (payload.length > limit) expect(answer.status).toBe(413);
      }
    }
  });

  it('answers odd Authorization headers, up to megabytes long, with a 4xx, and goes on serving', async () => {
    const odd = [
      'Basic', 'Basic ', 'Basic =', 'Basic ====', 'Basic !!!', 'Basic Og==', // ':'
      `Basic ${Buffer.from('id-without-colon').toString('base64')}`,
      `Basic ${Buffer.from(`${client.id}:`).toString('base64')}`,
      `Basic ${Buffer.from(`:${client.secret}`).toString('base64')}`,
      `Basic  ${Buffer.from('a:b').toString('base64')}  trailing`,
      `bAsIc ${Buffer.from('%:%').toString('base64')}`,
      'Bearer', 'Bearer ', 'Bearer ===', `Bearer ${adminToken}x`, `Bearer ${adminToken}.extra`, `bearer  ${adminToken.split('.').slice(0, 2).join('.')}`,
      `DPoP ${adminToken}`, 'DPoP', 'Token abc', 'OAuth oauth_token="x"', 'AWS4-HMAC-SHA256 Credential=x', ',', '"', '\t',
      `Bearer ${'x'.repeat(14_000)}`, // just under node's 16 KB header limit
    ];
    for (const op of ops) {
      const url = `${h.url}${realPath(op)}`;
      for (const authorization of odd) {
        const attempt: Attempt = {
          op,
          method: op.method,
          url,
          headers: { authorization, 'content-type': op.surface === 'oauth' ? 'application/x-www-form-urlencoded' : 'application/json' },
          body: op.method === 'GET' || op.method === 'DELETE' ? undefined : op.surface === 'oauth' ? 'grant_type=client_credentials&token=x' : '{}',
        };
        const answer = await send(attempt);
        expect(answer.status, describeAttempt(attempt)).toBeGreaterThanOrEqual(400);
        expectWellFormed(op.surface, answer, describeAttempt(attempt));
      }
    }
    // Megabytes: node refuses the header itself (431) before the app sees it; the service lives on.
    for (const path of ['/oauth/token', '/oauth/introspect', '/admin/v1/service-accounts']) {
      const huge = `POST ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Basic ${'A'.repeat(2_000_000)}\r\nContent-Length: 0\r\n\r\n`;
      const answer = await sendRaw(h.url, Buffer.from(huge, 'latin1'));
      expect(answer.status).toBe(431);
      expectWellFormed(path.startsWith('/admin/') ? 'admin' : 'oauth', answer, `megabyte header on ${path}`, { nodeMayAnswer: true });
    }
    expect((await h.token({ grant_type: 'client_credentials' }, client)).status).toBe(200);
  });

  it('answers bytes that are not UTF-8 in the request line, a header or the body with a 4xx', async () => {
    for (const op of ops) {
      const path = realPath(op);
      // Four of the sequences are enough here (a lone byte, an overlong form, a surrogate, a truncated one).
      for (const bad of [INVALID_UTF8[0]!, INVALID_UTF8[3]!, INVALID_UTF8[6]!, INVALID_UTF8[5]!]) {
        const raw = (target: Buffer, extraHeader: Buffer, payload: Buffer, withType = true) =>
          Buffer.concat([
            Buffer.from(`${op.method} `),
            target,
            Buffer.from(` HTTP/1.1\r\nHost: x\r\nConnection: close\r\n`),
            Buffer.from(`Authorization: ${op.surface === 'oauth' ? basicAuth(client.id, client.secret) : `Bearer ${adminToken}`}\r\n`),
            Buffer.from(withType ? `Content-Type: ${op.surface === 'oauth' ? 'application/x-www-form-urlencoded' : 'application/json'}\r\n` : ''),
            extraHeader,
            Buffer.from(`Content-Length: ${payload.length}\r\n\r\n`),
            payload,
          ]);
        const bytes = Buffer.from(bad);
        const none = Buffer.alloc(0);
        const payload =
          op.surface === 'oauth'
            ? Buffer.concat([Buffer.from('grant_type=client_credentials&scope='), bytes, Buffer.from('&token='), bytes])
            : Buffer.concat([Buffer.from('{"name":"'), bytes, Buffer.from('","description":"'), bytes, Buffer.from('","status":"'), bytes, Buffer.from('"}')]);
        // [what, request, whether node's parser may refuse it before the app (bytes beyond ASCII in the request line)]
        const cases: Array<[string, Buffer, boolean]> = [
          ['raw bytes in the query', raw(Buffer.concat([Buffer.from(`${path}?q=`), bytes, Buffer.from('&scope=')]), none, none), true],
          ['raw bytes in the path', raw(Buffer.concat([Buffer.from(`${path}/`), bytes]), none, none), true],
          ['raw bytes in a header', raw(Buffer.from(path), Buffer.concat([Buffer.from('X-Anything: '), bytes, Buffer.from('\r\nUser-Agent: '), bytes, Buffer.from('\r\n')]), none), false],
          ['raw bytes in the body', raw(Buffer.from(path), none, payload), false],
          ['raw bytes in a body without Content-Type', raw(Buffer.from(path), none, payload, false), false],
        ];
        for (const [what, request, nodeMayAnswer] of cases) {
          const answer = await sendRaw(h.url, request);
          const context = `${what} ${JSON.stringify([...bytes])} on ${op.method} ${op.path}`;
          // A valid token request stays valid whatever its unknown bytes (a scope of U+FFFD is refused, though).
          expectWellFormed(op.surface, answer, context, { success: true, nodeMayAnswer });
        }
      }
    }
  });

  it('still issues a token and serves the admin API after all that', async () => {
    const res = await h.token({ grant_type: 'client_credentials', scope: 'orders:read' }, client);
    expect(res.status, res.text).toBe(200);
    expect((await h.admin('GET', `/service-accounts/${real.id}`)).status).toBe(200);
    expect((await h.fetch('/healthz')).status).toBe(200);
  });
});

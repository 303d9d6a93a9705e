import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_ADMIN_SCOPES } from '../src/accounts/admin-scopes';
import { startTestService, type TestService } from './support/service';

// The API description and the reference page depend on no stored data, so this suite runs on PGlite only:
// another database would exercise the same routes and produce the same document.

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

/** Routes that serve the description itself, not part of the API it describes. */
const DESCRIPTION_ROUTES = new Set(['GET /openapi.json', 'GET /docs', 'GET /docs/scalar.js']);
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

type Json = Record<string, any>;

/** Every operation in the document, as "METHOD /path". */
function documentedOperations(doc: Json): Map<string, Json> {
  const operations = new Map<string, Json>();
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    for (const method of METHODS) {
      if (item[method]) operations.set(`${method.toUpperCase()} ${path}`, item[method]);
    }
  }
  return operations;
}

/** Every `$ref` in `value`. */
function refsIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => refsIn(v, found));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === '$ref' && typeof v === 'string') found.push(v);
      else refsIn(v, found);
    }
  }
  return found;
}

/** Follows a local JSON pointer (`#/components/schemas/Problem`). */
function resolve(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  return ref
    .slice(2)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .reduce<any>((node, part) => node?.[part], doc);
}

const schemaOf = (doc: Json, media: Json | undefined): Json | undefined => {
  const schema = media?.schema;
  return schema?.$ref ? (resolve(doc, schema.$ref) as Json) : schema;
};

describe('OpenAPI description and API reference', () => {
  let h: TestService;
  let doc: Json;
  let operations: Map<string, Json>;

  beforeAll(async () => {
    h = await startTestService('pglite', { METRICS_TOKEN: 'metrics-token-for-the-openapi-test' });
    const res = await h.fetch('/openapi.json');
    expect(res.status).toBe(200);
    doc = res.body;
    operations = documentedOperations(doc);
  });
  afterAll(() => h?.close());

  describe('GET /openapi.json', () => {
    it('is an OpenAPI 3.1 document named for this service, its only server the issuer', async () => {
      const res = await h.fetch('/openapi.json');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(doc.openapi).toBe('3.1.0');
      expect(doc.info).toMatchObject({ title: packageJson.name, version: packageJson.version });
      expect(doc.servers).toEqual([{ url: h.config.issuer }]);
    });

    it('is served from memory with an ETag, and answers If-None-Match with 304', async () => {
      const first = await h.fetch('/openapi.json');
      const etag = first.headers.get('etag');
      expect(etag).toMatch(/^"[\w-]+"$/);
      const again = await h.fetch('/openapi.json', { headers: { 'if-none-match': etag! } });
      expect(again.status).toBe(304);
    });

    it('documents every route the application serves, and nothing it does not serve', async () => {
      const served = new Set<string>();
      for (const route of h.service.app.routes) {
        // ALL: middleware (app.use); HEAD is answered by the GET routes.
        if (route.method === 'ALL' || route.method === 'HEAD') continue;
        // The web console: pages for people, not API (test/console.test.ts covers them).
        if (route.path === '/console' || route.path.startsWith('/console/')) continue;
        served.add(`${route.method} ${route.path.replace(/:(\w+)/g, '{$1}')}`);
      }
      const undocumented: string[] = [];
      for (const route of served) {
        if (DESCRIPTION_ROUTES.has(route) || operations.has(route)) continue;
        // A route that only answers 405 for another method of a documented path describes nothing new.
        const [method, path] = route.split(' ') as [string, string];
        const res = await h.fetch(path, { method });
        const allowed = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim());
        if (res.status === 405 && allowed.length > 0 && allowed.every((m) => operations.has(`${m} ${path}`))) continue;
        undocumented.push(route);
      }
      expect(undocumented).toEqual([]);
      expect([...operations.keys()].filter((op) => !served.has(op))).toEqual([]);
      // The description's own routes are served, and are not described.
      for (const route of DESCRIPTION_ROUTES) {
        expect(served.has(route)).toBe(true);
        expect(operations.has(route)).toBe(false);
      }
    });

    it('describes every admin route, each token endpoint method, discovery, introspection and the probes', () => {
      const expected = [
        'POST /oauth/token',
        'POST /oauth/introspect',
        'GET /.well-known/jwks.json',
        'GET /.well-known/oauth-authorization-server',
        'GET /.well-known/openid-configuration',
        'GET /healthz',
        'GET /readyz',
        'GET /metrics',
        'POST /admin/v1/service-accounts',
        'GET /admin/v1/service-accounts',
        'GET /admin/v1/service-accounts/{id}',
        'PATCH /admin/v1/service-accounts/{id}',
        'POST /admin/v1/service-accounts/{id}/revoke',
        'DELETE /admin/v1/service-accounts/{id}',
        'GET /admin/v1/service-accounts/{id}/audit-events',
        'POST /admin/v1/service-accounts/{id}/secrets',
        'GET /admin/v1/service-accounts/{id}/secrets',
        'PATCH /admin/v1/service-accounts/{id}/secrets/{secretId}',
        'DELETE /admin/v1/service-accounts/{id}/secrets/{secretId}',
        'POST /admin/v1/service-accounts/{id}/keys',
        'GET /admin/v1/service-accounts/{id}/keys',
        'POST /admin/v1/service-accounts/{id}/permissions',
        'GET /admin/v1/service-accounts/{id}/permissions',
        'GET /admin/v1/service-accounts/{id}/permissions/{permissionId}',
        'PATCH /admin/v1/service-accounts/{id}/permissions/{permissionId}',
        'DELETE /admin/v1/service-accounts/{id}/permissions/{permissionId}',
        'PATCH /admin/v1/service-accounts/{id}/keys/{keyId}',
        'DELETE /admin/v1/service-accounts/{id}/keys/{keyId}',
        'GET /admin/v1/secrets',
        'GET /admin/v1/audit-events',
        'POST /admin/v1/roles',
        'GET /admin/v1/roles',
        'GET /admin/v1/roles/{name}',
        'PATCH /admin/v1/roles/{name}',
        'DELETE /admin/v1/roles/{name}',
      ];
      expect([...operations.keys()].sort()).toEqual([...expected].sort());
    });

    it('is well formed: references resolve, path parameters are declared, operation ids are unique, responses described', () => {
      for (const ref of refsIn(doc)) expect(resolve(doc, ref), ref).toBeDefined();
      const ids = [...operations.values()].map((op) => op.operationId);
      expect(ids.every((id) => typeof id === 'string')).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      for (const [name, op] of operations) {
        const path = name.split(' ')[1]!;
        const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        const declared = (op.parameters ?? []).filter((p: Json) => p.in === 'path');
        expect(declared.map((p: Json) => p.name).sort(), name).toEqual([...inPath].sort());
        expect(declared.every((p: Json) => p.required === true), name).toBe(true);
        for (const [status, response] of Object.entries<Json>(op.responses)) {
          expect(status, name).toMatch(/^[1-5]\d\d$/);
          expect(typeof response.description, `${name} ${status}`).toBe('string');
        }
        for (const requirement of op.security ?? []) {
          for (const scheme of Object.keys(requirement)) expect(doc.components.securitySchemes[scheme], scheme).toBeDefined();
        }
      }
    });

    it('gives each OAuth and admin operation its error bodies: RFC 6749 JSON and RFC 9457 problem+json', () => {
      for (const [name, op] of operations) {
        const path = name.split(' ')[1]!;
        const media = path.startsWith('/oauth/') ? 'application/json' : path.startsWith('/admin/') ? 'application/problem+json' : undefined;
        if (!media) continue;
        const clientErrors = Object.entries<Json>(op.responses).filter(([status]) => status.startsWith('4'));
        expect(clientErrors.length, name).toBeGreaterThan(0);
        for (const [status, response] of clientErrors) {
          expect(Object.keys(response.content ?? {}), `${name} ${status}`).toEqual([media]);
        }
      }
      const problem = doc.components.schemas.Problem;
      expect(problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status']));
      expect(problem.properties.errors.items.properties).toMatchObject({ field: { type: 'string' }, message: { type: 'string' } });
      const oauthError = doc.components.schemas.OAuthError;
      expect(oauthError.required).toEqual(expect.arrayContaining(['error', 'error_description']));
    });

    it('documents the token endpoint: form body, every client authentication method, DPoP, token and error bodies', () => {
      const op = operations.get('POST /oauth/token')!;
      const form = schemaOf(doc, op.requestBody.content['application/x-www-form-urlencoded'])!;
      expect(form.required).toContain('grant_type');
      expect(Object.keys(form.properties)).toEqual(
        expect.arrayContaining(['grant_type', 'scope', 'audience', 'resource', 'client_id', 'client_secret', 'client_assertion_type', 'client_assertion']),
      );
      expect(op.requestBody.content['application/json']).toBeDefined();
      expect(op.security).toEqual([{ clientBasic: [] }, {}]);
      expect(doc.components.securitySchemes.clientBasic).toMatchObject({ type: 'http', scheme: 'basic' });
      expect(op.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'DPoP', required: false })]));
      const token = schemaOf(doc, op.responses['200'].content['application/json'])!;
      expect(token.required).toEqual(expect.arrayContaining(['access_token', 'token_type', 'expires_in']));
      expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '413', '429']));
    });

    it('documents each admin operation with the bearer (or DPoP) scheme and the scope it needs', () => {
      expect(doc.components.securitySchemes.adminBearer).toMatchObject({ type: 'http', scheme: 'bearer' });
      for (const [name, op] of operations) {
        if (!name.includes(' /admin/')) continue;
        const scopes = op.security.flatMap((requirement: Json) => Object.values(requirement).flat());
        expect(op.security.map((requirement: Json) => Object.keys(requirement)[0]), name).toContain('adminBearer');
        expect(new Set(scopes).size, name).toBe(1);
        expect(ALL_ADMIN_SCOPES, name).toContain(scopes[0]);
        expect(Object.keys(op.responses), name).toEqual(expect.arrayContaining(['401', '403']));
      }
      expect(operations.get('POST /admin/v1/service-accounts')!.security[0]).toEqual({ adminBearer: ['service-account:create'] });
      expect(operations.get('DELETE /admin/v1/service-accounts/{id}')!.security[0]).toEqual({ adminBearer: ['service-account:delete'] });
    });

    it('describes admin request bodies and query parameters from the schemas that validate them', () => {
      const create = operations.get('POST /admin/v1/service-accounts')!;
      const body = schemaOf(doc, create.requestBody.content['application/json'])!;
      expect(body.required).toEqual(['name']);
      expect(body.additionalProperties).toBe(false);
      // The limit the validation enforces (MAX_TOKEN_TTL_SECONDS) is the one documented.
      expect(body.properties.token_ttl_seconds.maximum).toBe(h.config.maxTokenTtlSeconds);
      const list = operations.get('GET /admin/v1/service-accounts')!;
      const limit = list.parameters.find((p: Json) => p.in === 'query' && p.name === 'limit');
      expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100, default: 20 });
      const created = schemaOf(doc, create.responses['201'].content['application/json'])!;
      expect(created.required).toEqual(expect.arrayContaining(['id', 'client_id', 'secret', 'secrets']));
    });

    it('documents /metrics as guarded by METRICS_TOKEN when one is configured', () => {
      const op = operations.get('GET /metrics')!;
      expect(op.security).toEqual([{ metricsBearer: [] }]);
      expect(Object.keys(op.responses)).toContain('401');
    });
  });

  describe('the admin API, validated through its documented schemas, answers as before', () => {
    it('names a bad query parameter in a problem', async () => {
      const res = await h.admin('GET', '/service-accounts?limit=0&status=gone');
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body.errors.map((e: Json) => e.field).sort()).toEqual(['limit', 'status']);
    });

    it('takes the first of a repeated query parameter', async () => {
      const res = await h.admin('GET', '/service-accounts?limit=1&limit=oops');
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(1);
    });

    it('keeps its own body rules: an empty body may create a secret, whatever its content type says', async () => {
      const account = await h.createAccount();
      const res = await h.fetch(`/admin/v1/service-accounts/${account.id}/secrets`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await h.adminToken()}`, 'content-type': 'application/json' },
      });
      expect(res.status).toBe(201);
    });

    it('answers an unknown id with 404, not a validation error', async () => {
      const res = await h.admin('GET', '/service-accounts/not-a-uuid');
      expect(res.status).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    });
  });

  describe('GET /docs', () => {
    it('is an HTML page whose scripts all come from this service, never a CDN', async () => {
      const page = await h.fetch('/docs');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const pageUrl = new URL('/docs', h.url);
      const sources = [...page.text.matchAll(/<script\b[^>]*\bsrc="([^"]+)"/g)].map((m) => new URL(m[1]!, pageUrl));
      expect(sources.length).toBeGreaterThan(0);
      for (const source of sources) expect(source.origin).toBe(pageUrl.origin);
      expect(page.text).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
      // The page is pointed at our document.
      const documentUrl = /"url":\s*"([^"]+)"/.exec(page.text)?.[1];
      expect(new URL(documentUrl!, pageUrl).pathname).toBe('/openapi.json');

      for (const source of sources) {
        const script = await h.fetch(source.pathname);
        expect(script.status).toBe(200);
        expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
        // The page calls Scalar.createApiReference: the bundle (or its placeholder) provides it.
        expect(script.text).toContain('createApiReference');
        const etag = script.headers.get('etag')!;
        expect((await h.fetch(source.pathname, { headers: { 'if-none-match': etag } })).status).toBe(304);
      }
    });
  });
});

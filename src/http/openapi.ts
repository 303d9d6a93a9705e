import type { OpenAPIHono } from '@hono/zod-openapi';
import { Hono } from 'hono';
import { z } from 'zod';
import packageJson from '../../package.json' with { type: 'json' };
import { CachedDocument } from './cached-document';
import type { Readiness } from './health';

/** Compile-time: both types have the same members with the same types (a documented schema and the code's type). */
export type Agrees<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
/** Compile-time: both types have the same members. */
export type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : never) : never;

export interface ApiDescriptionSettings {
  /** The configured ISSUER: the document's only server. */
  issuer: string;
  /** METRICS_TOKEN is set, so /metrics asks for it. */
  metricsTokenRequired: boolean;
}

const METRICS_BEARER = 'metricsBearer';

const ReadinessSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    checks: z
      .record(z.enum(['accepting', 'database', 'migrations', 'signing_keys']), z.string())
      .meta({ description: 'Each check: `ok`, or a word for what is wrong (e.g. timeout, pending, missing, shutting_down).' }),
    failing: z.array(z.enum(['accepting', 'database', 'migrations', 'signing_keys'])).optional(),
  })
  .meta({ id: 'Readiness' });
true satisfies SameKeys<Readiness, z.infer<typeof ReadinessSchema>>;

/** The operations endpoints (http/health.ts, http/metrics.ts): plain Hono routes, documented here. */
function documentOperationsRoutes(registry: OpenAPIHono['openAPIRegistry'], settings: ApiDescriptionSettings): void {
  const tags = ['Operations'];
  registry.registerPath({
    method: 'get',
    path: '/healthz',
    operationId: 'liveness',
    tags,
    summary: 'Liveness: the process answers (no I/O)',
    responses: { 200: { description: 'Alive.', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    operationId: 'readiness',
    tags,
    summary: 'Readiness: the database answers, migrations are applied, a signing key is loaded, not shutting down',
    responses: {
      200: { description: 'Ready.', content: { 'application/json': { schema: ReadinessSchema } } },
      503: { description: 'Not ready: `failing` names the checks.', content: { 'application/json': { schema: ReadinessSchema } } },
    },
  });
  if (settings.metricsTokenRequired) {
    registry.registerComponent('securitySchemes', METRICS_BEARER, {
      type: 'http',
      scheme: 'bearer',
      description: 'The METRICS_TOKEN value (not an access token).',
    });
  }
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    tags,
    summary: 'Prometheus metrics',
    ...(settings.metricsTokenRequired ? { security: [{ [METRICS_BEARER]: [] }] } : {}),
    responses: {
      200: { description: 'The Prometheus text format.', content: { 'text/plain': { schema: z.string() } } },
      ...(settings.metricsTokenRequired
        ? {
            401: {
              description: 'Without `Authorization: Bearer <METRICS_TOKEN>`.',
              content: { 'application/json': { schema: z.object({ error: z.literal('unauthorized') }) } },
            },
          }
        : {}),
    },
  });
}

/**
 * GET /openapi.json: the OpenAPI 3.1 document of `app`, from the schemas its routes validate with (admin) or
 * are described by (OAuth, operations). Built on the first request, when every route is registered, then
 * served from memory with an ETag.
 */
export function openApiRoutes(
  app: Pick<OpenAPIHono, 'openAPIRegistry' | 'getOpenAPI31Document'>,
  settings: ApiDescriptionSettings,
): Hono {
  documentOperationsRoutes(app.openAPIRegistry, settings);
  const document = new CachedDocument(
    () =>
      app.getOpenAPI31Document({
        openapi: '3.1.0',
        info: {
          title: packageJson.name,
          version: packageJson.version,
          description:
            'An OAuth 2.0 client-credentials token service: services trade a client ID and secret (or a signed ' +
            'assertion) for a short-lived JWT access token; resource APIs verify it against the JWKS; ' +
            'administrators manage service accounts, secrets and keys under /admin/v1.',
        },
        servers: [{ url: settings.issuer }],
        tags: [
          { name: 'OAuth', description: 'Token and introspection endpoints: RFC 6749 errors (application/json).' },
          { name: 'Discovery', description: 'What resource APIs need to verify tokens.' },
          { name: 'Service accounts', description: 'Admin API: RFC 9457 errors (application/problem+json).' },
          { name: 'Secrets' },
          { name: 'Client keys' },
          { name: 'Audit trail' },
          { name: 'Operations', description: 'Probes and metrics.' },
        ],
      }),
    'no-cache',
  );
  const routes = new Hono();
  routes.get('/openapi.json', (c) => document.respond(c.req.header('if-none-match')));
  return routes;
}

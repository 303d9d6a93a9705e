import { OpenAPIHono } from '@hono/zod-openapi';
import type { Hono } from 'hono';
import type { BlankEnv } from 'hono/types';
import type { Logger } from 'pino';
import { setResponseHeader } from './http/response-header';
import type { AccountsContext } from './accounts/context';
import type { LastUsedTracker } from './accounts/last-used';
import type { AuditLog } from './audit/audit-log';
import type { AccountRateLimiter } from './limits/account-rate-limit';
import type { BruteForceGuard } from './limits/brute-force';
import { IpRangeList } from './limits/ip-ranges';
import { problemResponse, Problem, toProblem } from './admin/problems';
import { isDatabaseUnavailable } from './db/availability';
import { DATABASE_UNREACHABLE, TemporarilyUnavailable } from './oauth/errors';
import { adminRoutes } from './admin/routes';
import type { Config } from './config';
import { consoleRoutes } from './console/routes';
import { apiReferenceRoutes } from './http/api-reference';
import { closeConnectionsWhileDraining, healthRoutes, type ServiceHealth } from './http/health';
import { metricsRoutes, type ServiceMetrics } from './http/metrics';
import { openApiRoutes } from './http/openapi';
import { requestLog } from './http/request-log';
import type { JtiReplayGuard } from './oauth/jti-replay';
import { oauthError, oauthRoutes } from './oauth/routes';
import type { KeyStore } from './tokens/key-store';
import { loggableError } from './logger';

export interface AppDeps {
  config: Config;
  accounts: AccountsContext;
  keys: KeyStore;
  logger: Logger;
  audit: AuditLog;
  lastUsed: LastUsedTracker;
  rateLimiter: AccountRateLimiter;
  bruteForce: BruteForceGuard;
  replay: JtiReplayGuard;
  metrics: ServiceMetrics;
  health: ServiceHealth;
}

/** Builds the HTTP application from explicit dependencies. No I/O happens here. */
export function createApp(deps: AppDeps): Hono {
  const { config, accounts, keys, logger, audit, metrics, health } = deps;
  const trustedProxies = IpRangeList.of(config.trustProxy);
  // OpenAPIHono gathers each router's OpenAPI description as it is mounted; routing is Hono's.
  const app = new OpenAPIHono<BlankEnv>();

  app.use('*', requestLog(logger));
  app.use('*', async (c, next) => {
    await next();
    setResponseHeader(c, 'X-Content-Type-Options', 'nosniff');
  });
  app.use('*', closeConnectionsWhileDraining(health));

  // Operations: liveness and readiness probes, Prometheus metrics.
  app.route('/', healthRoutes(health));
  app.route('/', metricsRoutes(metrics, config.metricsToken));

  app.use('/oauth/token', metrics.timeTokenRequests);

  const oauth = {
    accounts,
    keys,
    audit,
    lastUsed: deps.lastUsed,
    rateLimiter: deps.rateLimiter,
    bruteForce: deps.bruteForce,
    replay: deps.replay,
    outcomes: metrics,
    assertion: { issuer: config.issuer, tokenEndpoint: `${config.issuer}/oauth/token` },
    trustedProxies,
    bodyLimitBytes: config.bodyLimitBytes,
    jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
    settings: {
      issuer: config.issuer,
      defaultAudience: config.defaultAudience,
      tokenTtlSeconds: config.tokenTtlSeconds,
      maxTokenTtlSeconds: config.maxTokenTtlSeconds,
      defaultRateLimitPerMinute: config.rateLimitPerMinute,
    },
  };
  app.route('/', oauthRoutes(oauth));

  app.route(
    '/admin/v1',
    adminRoutes({
      accounts,
      keys,
      issuer: config.issuer,
      adminAudience: config.adminAudience,
      replay: deps.replay,
      bodyLimitBytes: config.bodyLimitBytes,
      maxTokenTtlSeconds: config.maxTokenTtlSeconds,
      defaultRateLimitPerMinute: config.rateLimitPerMinute,
      audit,
      trustedProxies,
    }),
  );

  // The web console: pages over the same domain code and permissions as the admin API.
  app.route(
    '/console',
    consoleRoutes({
      accounts,
      keys,
      issuer: config.issuer,
      adminAudience: config.adminAudience,
      replay: deps.replay,
      token: oauth,
      audit,
      logger,
      trustedProxies,
      bodyLimitBytes: config.bodyLimitBytes,
      maxTokenTtlSeconds: config.maxTokenTtlSeconds,
      defaultRateLimitPerMinute: config.rateLimitPerMinute,
      expiringSoonDays: config.expiringSoonDays,
      secureCookies: config.issuer.startsWith('https:'),
      signingKeys: { dir: config.keysDir, alg: config.signingAlg, propagationSeconds: config.keyPropagationSeconds },
    }),
  );

  // The API described: OpenAPI 3.1 (from the schemas the routes validate with) and an interactive reference.
  app.route('/', openApiRoutes(app, { issuer: config.issuer, metricsTokenRequired: config.metricsToken !== undefined }));
  app.route('/', apiReferenceRoutes(logger));

  app.notFound((c) =>
    c.req.path.startsWith('/admin/')
      ? problemResponse(new Problem(404, 'Not found', 'no such route'))
      : c.json({ error: 'not_found' }, 404),
  );

  app.onError((error, c) => {
    if (isDatabaseUnavailable(error)) {
      // Not a bug of ours and it passes: 503 with Retry-After (introspection, discovery, the admin API's auth).
      logger.warn({ err: loggableError(error), path: c.req.path }, 'database unreachable');
      return c.req.path.startsWith('/admin/')
        ? problemResponse(toProblem(error)!)
        : oauthError(new TemporarilyUnavailable(DATABASE_UNREACHABLE));
    }
    logger.error({ err: loggableError(error), path: c.req.path }, 'unhandled error');
    return c.req.path.startsWith('/admin/')
      ? problemResponse(new Problem(500, 'Internal server error'))
      : c.json({ error: 'server_error', error_description: 'internal error' }, 500, { 'Cache-Control': 'no-store' });
  });

  return app;
}

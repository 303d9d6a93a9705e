import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AccountsContext } from './accounts/context';
import type { LastUsedTracker } from './accounts/last-used';
import type { AuditLog } from './audit/audit-log';
import type { AccountRateLimiter } from './limits/account-rate-limit';
import type { BruteForceGuard } from './limits/brute-force';
import { IpRangeList } from './limits/ip-ranges';
import { problemResponse, Problem } from './admin/problems';
import { adminRoutes } from './admin/routes';
import type { Config } from './config';
import type { JtiReplayGuard } from './oauth/jti-replay';
import { oauthRoutes } from './oauth/routes';
import type { KeyStore } from './tokens/key-store';

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
}

/** Builds the HTTP application from explicit dependencies. No I/O happens here. */
export function createApp(deps: AppDeps): Hono {
  const { config, accounts, keys, logger, audit } = deps;
  const trustedProxies = IpRangeList.of(config.trustProxy);
  const app = new Hono();

  app.use('*', async (c, next) => {
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
  });

  app.route(
    '/',
    oauthRoutes({
      accounts,
      keys,
      audit,
      lastUsed: deps.lastUsed,
      rateLimiter: deps.rateLimiter,
      bruteForce: deps.bruteForce,
      replay: deps.replay,
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
    }),
  );

  app.route(
    '/admin/v1',
    adminRoutes({
      accounts,
      keys,
      issuer: config.issuer,
      adminAudience: config.adminAudience,
      bodyLimitBytes: config.bodyLimitBytes,
      maxTokenTtlSeconds: config.maxTokenTtlSeconds,
      defaultRateLimitPerMinute: config.rateLimitPerMinute,
      audit,
      trustedProxies,
      replay: deps.replay,
    }),
  );

  app.notFound((c) =>
    c.req.path.startsWith('/admin/')
      ? problemResponse(new Problem(404, 'Not found', 'no such route'))
      : c.json({ error: 'not_found' }, 404),
  );

  app.onError((error, c) => {
    logger.error({ err: { name: error.name, message: error.message, stack: error.stack }, path: c.req.path }, 'unhandled error');
    return c.req.path.startsWith('/admin/')
      ? problemResponse(new Problem(500, 'Internal server error'))
      : c.json({ error: 'server_error', error_description: 'internal error' }, 500, { 'Cache-Control': 'no-store' });
  });

  return app;
}

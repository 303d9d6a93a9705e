import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { AccountsContext } from './accounts/context';
import { problemResponse, Problem } from './admin/problems';
import { adminRoutes } from './admin/routes';
import type { Config } from './config';
import { oauthRoutes } from './oauth/routes';
import type { KeyStore } from './tokens/key-store';

export interface AppDeps {
  config: Config;
  accounts: AccountsContext;
  keys: KeyStore;
  logger: Logger;
}

/** Builds the HTTP application from explicit dependencies. No I/O happens here. */
export function createApp(deps: AppDeps): Hono {
  const { config, accounts, keys, logger } = deps;
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
      bodyLimitBytes: config.bodyLimitBytes,
      jwksMaxAgeSeconds: config.jwksMaxAgeSeconds,
      settings: {
        issuer: config.issuer,
        defaultAudience: config.defaultAudience,
        tokenTtlSeconds: config.tokenTtlSeconds,
        maxTokenTtlSeconds: config.maxTokenTtlSeconds,
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

import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { sql } from 'drizzle-orm';
import { serviceAccounts } from '../db/schema';
import { authorizationServerMetadata } from './discovery';
import { OAuthError, RequestTooLarge, oauthErrorBody } from './errors';
import { CachedDocument } from '../http/cached-document';
import { requestSource } from '../http/request-source';
import type { IpRangeList } from '../limits/ip-ranges';
import { handleTokenRequest, type TokenEndpointDeps } from './token-endpoint';

export interface OAuthRoutesDeps extends TokenEndpointDeps {
  bodyLimitBytes: number;
  jwksMaxAgeSeconds: number;
  trustedProxies: IpRangeList;
}

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** The OAuth HTTP surface: token endpoint, JWKS, and discovery. Thin: the work is in token-endpoint.ts. */
export function oauthRoutes(deps: OAuthRoutesDeps): Hono {
  const app = new Hono();

  app.post(
    '/oauth/token',
    bodyLimit({
      maxSize: deps.bodyLimitBytes,
      onError: () => oauthError(new RequestTooLarge('the request body is too large')),
    }),
    async (c) => {
      const source = requestSource(c, deps.trustedProxies);
      try {
        const result = await handleTokenRequest(deps, {
          contentType: c.req.header('content-type'),
          body: await c.req.text(),
          authorization: c.req.header('authorization'),
          sourceIp: source.ip,
          userAgent: source.userAgent,
        });
        return c.json(result.body, 200, { ...NO_STORE, ...result.headers });
      } catch (error) {
        if (error instanceof OAuthError) return oauthError(error);
        throw error;
      }
    },
  );

  app.on(['GET', 'PUT', 'DELETE', 'PATCH'], '/oauth/token', () =>
    Response.json({ error: 'invalid_request', error_description: 'use POST' }, { status: 405, headers: { Allow: 'POST' } }),
  );

  const cacheControl = `public, max-age=${deps.jwksMaxAgeSeconds}`;
  const jwks = new CachedDocument(() => deps.keys.jwks(), cacheControl);
  app.get('/.well-known/jwks.json', (c) => jwks.respond(c.req.header('if-none-match')));

  // scopes_supported comes from the accounts: rebuilt after any account change, on every instance.
  const metadata = new CachedDocument(async () => {
    const rows = await deps.accounts.db
      .selectDistinct({ scope: sql<string>`unnest(${serviceAccounts.scopes})` })
      .from(serviceAccounts);
    return authorizationServerMetadata(
      { issuer: deps.settings.issuer, signingAlgs: deps.keys.algorithms },
      rows.map((r) => r.scope),
    );
  }, cacheControl);
  deps.accounts.credentials.onInvalidate(() => metadata.invalidate());
  app.get('/.well-known/oauth-authorization-server', (c) => metadata.respond(c.req.header('if-none-match')));
  app.get('/.well-known/openid-configuration', (c) => metadata.respond(c.req.header('if-none-match')));

  return app;
}

export function oauthError(error: OAuthError): Response {
  return Response.json(oauthErrorBody(error), { status: error.status, headers: { ...NO_STORE, ...error.headers() } });
}

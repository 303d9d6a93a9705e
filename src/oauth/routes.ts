import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from '../http/body-limit';
import { scopeUsage } from '../db/schema';
import { authorizationServerMetadata } from './discovery';
import { OAuthError, RequestTooLarge, oauthErrorBody } from './errors';
import { CachedDocument } from '../http/cached-document';
import { requestSource } from '../http/request-source';
import type { IpRangeList } from '../limits/ip-ranges';
import { handleIntrospection } from './introspection';
import { documentOAuthRoutes } from './operations';
import { handleTokenRequest, type TokenEndpointDeps, type Trail } from './token-endpoint';

export interface OAuthRoutesDeps extends TokenEndpointDeps {
  bodyLimitBytes: number;
  jwksMaxAgeSeconds: number;
  trustedProxies: IpRangeList;
}

const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;

/** The OAuth HTTP surface: token endpoint, JWKS, and discovery. Thin: the work is in token-endpoint.ts. */
export function oauthRoutes(deps: OAuthRoutesDeps): OpenAPIHono {
  // Documented, not validated, by OpenAPIHono: these endpoints keep their own parsing and RFC 6749 errors.
  const app = new OpenAPIHono();
  documentOAuthRoutes(app.openAPIRegistry);
  const limitBody = bodyLimit({
    maxSize: deps.bodyLimitBytes,
    onError: () => oauthError(new RequestTooLarge('the request body is too large')),
  });

  app.post(
    '/oauth/token',
    limitBody,
    async (c) => {
      const source = requestSource(c, deps.trustedProxies);
      const trail: Trail = {};
      try {
        const result = await handleTokenRequest(
          deps,
          {
            contentType: c.req.header('content-type'),
            body: await c.req.text(),
            authorization: c.req.header('authorization'),
            dpop: c.req.header('dpop'),
            sourceIp: source.ip,
            userAgent: source.userAgent,
          },
          trail,
        );
        return c.json(result.body, 200, { ...NO_STORE, ...result.headers });
      } catch (error) {
        if (error instanceof OAuthError) return oauthError(error);
        throw error;
      } finally {
        // For the request log: the client_id once it named an existing account (never free text from a stranger).
        if (trail.accountId !== undefined) c.set('clientId', trail.clientId);
      }
    },
  );

  app.post(
    '/oauth/introspect',
    limitBody,
    async (c) => {
      const source = requestSource(c, deps.trustedProxies);
      try {
        const body = await handleIntrospection(
          { ...deps, issuer: deps.settings.issuer },
          {
            contentType: c.req.header('content-type'),
            body: await c.req.text(),
            authorization: c.req.header('authorization'),
            sourceIp: source.ip,
          },
        );
        return c.json(body, 200, NO_STORE);
      } catch (error) {
        if (error instanceof OAuthError) return oauthError(error);
        throw error;
      }
    },
  );

  for (const path of ['/oauth/token', '/oauth/introspect']) {
    app.on(['GET', 'PUT', 'DELETE', 'PATCH'], path, () =>
      Response.json({ error: 'invalid_request', error_description: 'use POST' }, { status: 405, headers: { ...NO_STORE, Allow: 'POST' } }),
    );
  }

  const cacheControl = `public, max-age=${deps.jwksMaxAgeSeconds}`;
  const jwks = new CachedDocument(() => deps.keys.jwks(), cacheControl);
  app.get('/.well-known/jwks.json', (c) => {
    deps.keys.refresh(); // a key that became due to leave (or arrive) by time alone invalidates the document
    return jwks.respond(c.req.header('if-none-match'));
  });

  // scopes_supported comes from the accounts: rebuilt after any account change, on every instance. It reads
  // scope_usage (one row per scope held, kept by triggers), not every account's scopes: at 100,000 accounts
  // that unnest took ~100 ms, on PGlite of the thread that answers token requests.
  const metadata = new CachedDocument(async () => {
    const rows = await deps.accounts.db.select({ scope: scopeUsage.scope }).from(scopeUsage);
    return authorizationServerMetadata(
      { issuer: deps.settings.issuer, signingAlgs: deps.keys.algorithms },
      rows.map((r) => r.scope),
    );
  }, cacheControl);
  deps.accounts.credentials.onInvalidate(() => metadata.invalidate());
  // A key added, retired or dropped changes the JWKS, and maybe the algorithms the metadata lists.
  deps.keys.onChange(() => {
    jwks.invalidate();
    metadata.invalidate();
  });
  const respondMetadata = (ifNoneMatch: string | undefined) => {
    deps.keys.refresh();
    return metadata.respond(ifNoneMatch);
  };
  app.get('/.well-known/oauth-authorization-server', (c) => respondMetadata(c.req.header('if-none-match')));
  app.get('/.well-known/openid-configuration', (c) => respondMetadata(c.req.header('if-none-match')));

  return app;
}

export function oauthError(error: OAuthError): Response {
  return Response.json(oauthErrorBody(error), { status: error.status, headers: { ...NO_STORE, ...error.headers() } });
}

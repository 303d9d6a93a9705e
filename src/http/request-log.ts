import { randomUUID } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Logger } from 'pino';
import { setResponseHeader } from './response-header';

declare module 'hono' {
  interface ContextVariableMap {
    /** This request's id: the caller's `X-Request-Id` when it is a sane token, else a fresh UUID. */
    requestId: string;
    /** The client the request acted as, once a route knows it (the token endpoint sets it). */
    clientId: string | undefined;
  }
}

/** What we accept as a caller's request id: a short token that cannot break a header or a log line. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._~:+/=-]{1,128}$/;
/** Probes and scrapes answered 200 are logged at debug: they come every few seconds and say nothing new. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
/** Hono registers `app.use` middleware under this method; a route's own handler has a real one. */
const MIDDLEWARE_METHOD = 'ALL';

/**
 * One JSON line per request, written once the response exists: request id (also echoed in `X-Request-Id`),
 * method, route pattern, status, latency and client_id when known. It reads no header but X-Request-Id and
 * never the body, so no credential can reach the log through it.
 */
export function requestLog(logger: Logger): MiddlewareHandler {
  return async (c, next) => {
    const started = performance.now();
    const presented = c.req.header('x-request-id');
    const requestId = presented !== undefined && SANE_REQUEST_ID.test(presented) ? presented : randomUUID();
    c.set('requestId', requestId);
    await next();
    setResponseHeader(c, 'X-Request-Id', requestId);
    const route = routeOf(c);
    const status = c.res.status;
    const level = status === 200 && QUIET_ROUTES.has(route) ? 'debug' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    logger[level](
      {
        req_id: requestId,
        method: c.req.method,
        route,
        status,
        latency_ms: Math.round((performance.now() - started) * 100) / 100,
        client_id: c.get('clientId') ?? adminClientId(c),
      },
      'request',
    );
  };
}

/** The pattern of the route that answers (`/admin/v1/service-accounts/:id`), else the path (e.g. a 404). */
function routeOf(c: Context): string {
  for (const route of matchedRoutes(c)) if (route.method !== MIDDLEWARE_METHOD) return route.path;
  const path = c.req.path;
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

/** The admin API's authenticated caller (admin/admin-auth.ts sets `admin`). */
function adminClientId(c: Context): string | undefined {
  return (c.get('admin' as never) as { clientId?: string } | undefined)?.clientId;
}

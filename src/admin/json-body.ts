import type { OpenAPIHono, RouteConfig } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { AdminEnv } from './admin-auth';
import { refuseNulInBody } from './nul-input';
import { Problem, fromZod } from './problems';

// The admin API's JSON bodies: read by the handler with `jsonBody` (this API's own media-type and empty-body
// rules and problems, which OpenAPIHono's body validator does not share), documented through `ownBody`.

/**
 * An operation whose JSON body the handler reads with `jsonBody`: documented whole, while OpenAPIHono
 * validates only its path and query.
 */
export function ownBody<R extends RouteConfig>(
  app: OpenAPIHono<AdminEnv>,
  route: R,
): Omit<R, 'request'> & { request: Omit<NonNullable<R['request']>, 'body'> } {
  const { middleware: _middleware, hide: _hide, ...documented } = route;
  app.openAPIRegistry.registerPath(documented);
  const { body: _body, ...request } = route.request ?? {};
  return { ...route, request: request as Omit<NonNullable<R['request']>, 'body'>, hide: true };
}

/** The request's JSON body validated by `schema`: 415 unless application/json, 400 problems otherwise. */
export async function jsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  options: { allowEmpty?: boolean } = {},
): Promise<z.infer<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== '' || !options.allowEmpty) {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new Problem(415, 'Unsupported media type', 'send the body as application/json');
    }
    try {
      value = JSON.parse(text);
    } catch {
      throw new Problem(400, 'Invalid request', 'the body is not valid JSON');
    }
    refuseNulInBody(text, value);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

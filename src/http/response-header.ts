import type { Context } from 'hono';

/**
 * Sets a header on the response a handler already produced. hono's `c.header()` after `next()` rebuilds the
 * response around `res.body`, which makes @hono/node-server turn its light response into a full web
 * Response and then pump the body back out of a ReadableStream: measurable on every token request.
 * Setting it on `c.res.headers` keeps the light one.
 */
export function setResponseHeader(c: Context, name: string, value: string): void {
  c.res.headers.set(name, value);
}

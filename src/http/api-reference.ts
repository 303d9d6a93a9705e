import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scalar } from '@scalar/hono-api-reference';
import { Hono } from 'hono';
import type { Logger } from 'pino';

// Both URLs are relative to the page (GET /docs), so they stay on its origin, and under its path prefix
// when a proxy serves the service under one.
const DOCUMENT_URL = 'openapi.json';
const SCRIPT_URL = 'docs/scalar.js';

/**
 * Scalar's browser build: one self-contained file, not among its package's exports, so found by path. The
 * package is a development dependency (its own dependencies are hundreds of packages this file does not
 * need); the Docker image copies just this file to the same path.
 */
const BUNDLE = join('node_modules', '@scalar', 'api-reference', 'dist', 'browser', 'standalone.js');

/**
 * Served in the bundle's place when @scalar/api-reference is not installed: it provides the one call the
 * page makes, and says so on the page, with a link to the document.
 */
const PLACEHOLDER = `window.Scalar = {
  createApiReference(selector, config) {
    const root = document.querySelector(selector);
    const p = document.createElement('p');
    p.append('The interactive reference is not installed on this server (npm package @scalar/api-reference). The API description: ');
    const a = document.createElement('a');
    a.href = config.url;
    a.textContent = config.url;
    p.append(a);
    root.replaceChildren(p);
  },
};
`;

interface Script {
  body: string;
  etag: string;
}

/** Looks for the bundle as Node looks for a package: node_modules in this folder, then in each parent. */
async function findBundle(): Promise<string | undefined> {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, BUNDLE);
    try {
      await access(candidate);
      return candidate;
    } catch {
      if (dirname(dir) === dir) return undefined;
    }
  }
}

async function loadScript(logger: Logger): Promise<Script> {
  const path = await findBundle();
  if (path === undefined) {
    logger.warn({ package: '@scalar/api-reference' }, 'GET /docs shows a placeholder: the API reference bundle is not installed');
  }
  const body = path === undefined ? PLACEHOLDER : await readFile(path, 'utf8');
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/**
 * GET /docs: an interactive reference (Scalar) for GET /openapi.json. Its script is served by this process
 * from the installed package (read once, on first use, and kept in memory), never from a CDN; Scalar's
 * telemetry, web fonts and agent are off, so the page reaches nothing but this service.
 */
export function apiReferenceRoutes(logger: Logger): Hono {
  let script: Promise<Script> | undefined;
  const routes = new Hono();
  routes.get(
    '/docs',
    Scalar({
      url: DOCUMENT_URL,
      cdn: SCRIPT_URL,
      pageTitle: 'cc-token-service API reference',
      telemetry: false,
      withDefaultFonts: false,
      agent: { disabled: true },
      showDeveloperTools: 'never',
    }),
  );
  routes.get(`/${SCRIPT_URL}`, async (c) => {
    script ??= loadScript(logger).catch((error: unknown) => {
      script = undefined; // a failed read is tried again on the next request
      throw error;
    });
    const { body, etag } = await script;
    const headers = { 'Cache-Control': 'public, max-age=3600', ETag: etag };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(body, 200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
  });
  return routes;
}

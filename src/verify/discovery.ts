import { TokenVerificationError } from './errors';

const WELL_KNOWN = '/.well-known/oauth-authorization-server';

/**
 * Where an issuer's RFC 8414 metadata may be: for an issuer with a path, RFC 8414 §3.1 inserts the well-known
 * segment between host and path, and many deployments (this service behind a path-prefix proxy among them)
 * append it instead; both are tried, in that order.
 */
export function metadataUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  if (path === '') return [`${url.origin}${WELL_KNOWN}`];
  return [`${url.origin}${WELL_KNOWN}${path}`, `${url.origin}${path}${WELL_KNOWN}`];
}

export interface DiscoveryOptions {
  timeoutMs: number;
  fetch: typeof globalThis.fetch;
}

/**
 * Fetches the issuer's metadata and returns its `jwks_uri`, after checking that the document names exactly
 * this issuer (RFC 8414 §3.3), so a misconfigured or spoofed document cannot point us at other keys.
 * Throws `jwks_unavailable` when no candidate URL answers a usable document.
 */
export async function discoverJwksUri(issuer: string, options: DiscoveryOptions): Promise<URL> {
  const problems: string[] = [];
  for (const url of metadataUrls(issuer)) {
    try {
      const res = await options.fetch(url, {
        headers: { accept: 'application/json' },
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
      if (res.status !== 200) {
        problems.push(`${url}: HTTP ${res.status}`);
        continue;
      }
      const metadata = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      if (metadata.issuer !== issuer) {
        problems.push(`${url}: names another issuer`);
        continue;
      }
      if (typeof metadata.jwks_uri !== 'string') {
        problems.push(`${url}: has no jwks_uri`);
        continue;
      }
      return new URL(metadata.jwks_uri);
    } catch (e) {
      problems.push(`${url}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // The details name internal URLs: kept in `cause` for logs, out of the description a client sees.
  throw new TokenVerificationError('jwks_unavailable', "the issuer's signing keys are unavailable; try again later", {
    cause: new Error(`no usable authorization server metadata: ${problems.join('; ')}`),
  });
}

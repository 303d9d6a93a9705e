import { createMiddleware } from 'hono/factory';
import type { VerifiedToken } from './claims';
import { errorResponse, TokenVerificationError } from './errors';
import type { Verifier } from './verifier';

/** The variables the middleware sets: `c.get('token')` / `c.var.token`. */
export type TokenVariables = { token: VerifiedToken };

export interface MiddlewareOptions {
  /** Scopes this route needs, besides the verifier's `requiredScopes`. */
  scopes?: string[];
  /**
   * The origin clients call (`https://api.example.com`), when a proxy sits in front: DPoP proofs name the public
   * URL (`htu`), which the server may not see. Default: the origin of the request as received.
   */
  publicOrigin?: string;
  /** `realm` of the WWW-Authenticate challenge. */
  realm?: string;
}

/** The URL a DPoP proof must name: the request's path on the public origin when one is configured. */
export function publicUrl(receivedUrl: string, publicOrigin: string | undefined): string {
  if (publicOrigin === undefined) return receivedUrl;
  const received = new URL(receivedUrl);
  return new URL(`${received.pathname}${received.search}`, publicOrigin).href;
}

/**
 * Hono middleware: verifies the request's access token (and DPoP proof) and the scopes, then sets
 * `c.var.token`; otherwise answers 401/403 (503 when the issuer's keys are unreachable) with
 * `{error, error_description}` and the WWW-Authenticate challenge.
 */
export function verifyHono(verifier: Verifier, options: MiddlewareOptions = {}) {
  const scopes = options.scopes ?? [];
  return createMiddleware<{ Variables: TokenVariables }>(async (c, next) => {
    let token: VerifiedToken;
    try {
      token = await verifier.verifyRequest(
        {
          authorization: c.req.header('authorization'),
          dpop: c.req.header('dpop'),
          method: c.req.method,
          url: publicUrl(c.req.url, options.publicOrigin),
        },
        { scopes },
      );
    } catch (e) {
      if (!(e instanceof TokenVerificationError)) throw e;
      const { status, headers, body } = errorResponse(e, { realm: options.realm, dpopAlgorithms: verifier.dpopAlgorithms });
      return c.json(body, status, headers);
    }
    c.set('token', token);
    await next();
  });
}

// Types only: the runtime never loads express, so the package does not depend on it.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { VerifiedToken } from './claims';
import { errorResponse, TokenVerificationError } from './errors';
import { publicUrl, type MiddlewareOptions } from './hono';
import type { Verifier } from './verifier';

declare global {
  namespace Express {
    interface Request {
      /** The verified access token's claims, set by `verifyExpress`. */
      token?: VerifiedToken;
    }
  }
}

/**
 * Express middleware: verifies the request's access token (and DPoP proof) and the scopes, then sets
 * `req.token`; otherwise answers 401/403 (503 when the issuer's keys are unreachable) with
 * `{error, error_description}` and the WWW-Authenticate challenge. Other errors go to `next(err)`.
 * The received URL is `req.protocol://req.host + req.originalUrl` (mind Express's `trust proxy`), or the
 * path on `publicOrigin` when given.
 */
export function verifyExpress(verifier: Verifier, options: MiddlewareOptions = {}): RequestHandler {
  const scopes = options.scopes ?? [];
  return (req: Request, res: Response, next: NextFunction) => {
    const received = `${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`;
    verifier
      .verifyRequest(
        {
          authorization: req.headers.authorization,
          dpop: req.headers.dpop,
          method: req.method,
          url: publicUrl(received, options.publicOrigin),
        },
        { scopes },
      )
      .then(
        (token) => {
          req.token = token;
          next();
        },
        (e: unknown) => {
          if (!(e instanceof TokenVerificationError)) return next(e);
          const { status, headers, body } = errorResponse(e, { realm: options.realm, dpopAlgorithms: verifier.dpopAlgorithms });
          res.status(status).set(headers).json(body);
        },
      );
  };
}

/**
 * One class per RFC 6749 §5.2 error (plus RFC 8707's invalid_target and RFC 6749's temporarily_unavailable).
 * Thrown where the problem is found; rendered once, by `oauthErrorBody` and the route that catches it.
 */
export abstract class OAuthError extends Error {
  abstract readonly error: string;
  readonly status: number = 400;
  /** Extra response headers, e.g. WWW-Authenticate. */
  headers(): Record<string, string> {
    return {};
  }
  constructor(readonly description: string) {
    super(description);
  }
}

export class InvalidRequest extends OAuthError {
  readonly error = 'invalid_request';
}

export class RequestTooLarge extends InvalidRequest {
  override readonly status = 413;
}

export class InvalidClient extends OAuthError {
  readonly error = 'invalid_client';
  override readonly status = 401;
  /** One description for every failure, so a caller cannot tell an unknown client from a wrong secret. */
  constructor(private readonly basicAttempted: boolean) {
    super('client authentication failed');
  }
  override headers(): Record<string, string> {
    return this.basicAttempted ? { 'WWW-Authenticate': 'Basic realm="token", charset="UTF-8"' } : {};
  }
}

export class UnsupportedGrantType extends OAuthError {
  readonly error = 'unsupported_grant_type';
}

export class InvalidScope extends OAuthError {
  readonly error = 'invalid_scope';
}

export class InvalidTarget extends OAuthError {
  readonly error = 'invalid_target';
}

/** RFC 9396 §5: authorization_details the client may not have, or that do not follow their type's definition. */
export class InvalidAuthorizationDetails extends OAuthError {
  readonly error = 'invalid_authorization_details';
}

/** RFC 9449 §5: the DPoP proof is missing a required part, malformed, replayed or for another request. */
export class InvalidDpopProof extends OAuthError {
  readonly error = 'invalid_dpop_proof';
}

/** 403: the authenticated caller lacks the scope an endpoint needs (introspection's token:introspect). */
export class InsufficientScope extends OAuthError {
  readonly error = 'insufficient_scope';
  override readonly status = 403;
}

/** 429: a rate limit or a brute-force block. Not in RFC 6749; named as Auth0 names it. */
export class TooManyRequests extends OAuthError {
  readonly error = 'too_many_requests';
  override readonly status = 429;
  constructor(
    description: string,
    private readonly extraHeaders: Record<string, string>,
  ) {
    super(description);
  }
  override headers(): Record<string, string> {
    return this.extraHeaders;
  }
}

export const DATABASE_UNREACHABLE = 'the service cannot reach its database; try again shortly';

/** 503: the service cannot decide now (its database is out of reach); the client should retry shortly. */
export class TemporarilyUnavailable extends OAuthError {
  readonly error = 'temporarily_unavailable';
  override readonly status = 503;
  constructor(
    description: string,
    private readonly retryAfterSeconds = 1,
  ) {
    super(description);
  }
  override headers(): Record<string, string> {
    return { 'Retry-After': String(this.retryAfterSeconds) };
  }
}

export function oauthErrorBody(e: OAuthError): { error: string; error_description: string } {
  return { error: e.error, error_description: e.description };
}

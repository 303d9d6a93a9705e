/**
 * The one error a resource API meets when a token is refused, with a stable `code` (as jose's errors have),
 * and its rendering as an HTTP answer: status, RFC 6750 / RFC 9449 `WWW-Authenticate` challenge, JSON body.
 */

export type TokenErrorCode =
  /** No access token in the request (RFC 6750 §3.1: the challenge carries no error code). */
  | 'token_missing'
  /** Not a compact JWS, or a claim of the wrong shape (e.g. a required claim missing). */
  | 'token_malformed'
  | 'token_invalid_signature'
  /** The token's `kid` names no key of the issuer's JWKS (even after a refetch). */
  | 'token_unknown_key'
  | 'token_expired'
  /** `nbf` or `iat` in the future, beyond the clock tolerance. */
  | 'token_not_yet_valid'
  | 'issuer_mismatch'
  | 'audience_mismatch'
  | 'alg_not_allowed'
  | 'typ_invalid'
  | 'insufficient_scope'
  /** The token is DPoP-bound but was presented without a DPoP proof (e.g. with the Bearer scheme). */
  | 'dpop_required'
  /** The DPoP proof is missing a part, malformed, replayed, for another request, key or token. */
  | 'dpop_invalid'
  /** The discovery document or the JWKS could not be fetched: not the client's fault (503). */
  | 'jwks_unavailable';

/** The authorization scheme a challenge is given in. */
export type AuthScheme = 'Bearer' | 'DPoP';

export class TokenVerificationError extends Error {
  override readonly name = 'TokenVerificationError';

  constructor(
    readonly code: TokenErrorCode,
    message: string,
    options: {
      /** The scheme the answer's challenge uses: DPoP when the request or the token involved DPoP. */
      scheme?: AuthScheme;
      /** For insufficient_scope: the scopes the request needs. */
      requiredScopes?: string[];
      cause?: unknown;
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.scheme = options.scheme ?? 'Bearer';
    this.requiredScopes = options.requiredScopes ?? [];
  }

  readonly scheme: AuthScheme;
  readonly requiredScopes: string[];

  /** 401 for a missing or bad token or proof, 403 for a missing scope, 503 when the issuer's keys are unreachable. */
  get status(): 401 | 403 | 503 {
    if (this.code === 'insufficient_scope') return 403;
    if (this.code === 'jwks_unavailable') return 503;
    return 401;
  }

  /** The OAuth error code of the answer (RFC 6750 §3.1, RFC 9449 §7.1); undefined for a request without a token. */
  get oauthError(): 'invalid_token' | 'insufficient_scope' | 'invalid_dpop_proof' | undefined {
    switch (this.code) {
      case 'token_missing':
      case 'jwks_unavailable':
        return undefined;
      case 'insufficient_scope':
        return 'insufficient_scope';
      case 'dpop_invalid':
        return 'invalid_dpop_proof';
      default:
        return 'invalid_token';
    }
  }
}

export interface ChallengeOptions {
  /** `realm` of the challenge, if you name one. */
  realm?: string;
  /** The DPoP algorithms the resource API accepts; given, a DPoP challenge is offered too (RFC 9449 §7.1). */
  dpopAlgorithms?: readonly string[];
}

/** RFC 6750 §3: error_description may not carry `"` or `\` or anything outside printable ASCII. */
const quoted = (value: string) => `"${value.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, ' ')}"`;

/**
 * The `WWW-Authenticate` value for a refused request: `Bearer` (RFC 6750) or `DPoP` (RFC 9449 §7.1) with
 * `error`, `error_description` and, for insufficient_scope, `scope`. A request without a token gets the bare
 * challenges (no error code), Bearer and, when DPoP algorithms are given, DPoP with `algs`.
 */
export function wwwAuthenticate(error: TokenVerificationError, options: ChallengeOptions = {}): string {
  const realm = options.realm !== undefined ? [`realm=${quoted(options.realm)}`] : [];
  const algs = options.dpopAlgorithms?.length ? [`algs=${quoted(options.dpopAlgorithms.join(' '))}`] : [];
  const challenge = (scheme: AuthScheme, params: string[]) => (params.length ? `${scheme} ${params.join(', ')}` : scheme);

  const oauthError = error.oauthError;
  if (oauthError === undefined) {
    const bearer = challenge('Bearer', realm);
    return algs.length ? `${bearer}, ${challenge('DPoP', [...realm, ...algs])}` : bearer;
  }
  const params = [...realm, `error=${quoted(oauthError)}`, `error_description=${quoted(error.message)}`];
  if (oauthError === 'insufficient_scope' && error.requiredScopes.length > 0) {
    params.push(`scope=${quoted(error.requiredScopes.join(' '))}`);
  }
  return error.scheme === 'DPoP' ? challenge('DPoP', [...params, ...algs]) : challenge('Bearer', params);
}

export interface ErrorResponse {
  status: 401 | 403 | 503;
  headers: Record<string, string>;
  body: { error: string; error_description: string };
}

/** The whole HTTP answer to a refused request: what the Hono and Express middleware send. */
export function errorResponse(error: TokenVerificationError, options: ChallengeOptions = {}): ErrorResponse {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (error.status !== 503) headers['www-authenticate'] = wwwAuthenticate(error, options);
  const body = {
    error: error.oauthError ?? (error.status === 503 ? 'temporarily_unavailable' : 'invalid_request'),
    error_description: error.message,
  };
  return { status: error.status, headers, body };
}

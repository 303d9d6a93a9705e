import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type FlattenedJWSInput,
  type JWTHeaderParameters,
  type JWTPayload,
  type RemoteJWKSetOptions,
} from 'jose';
import { requireScopes, toVerifiedToken, type VerifiedToken } from './claims';
import { discoverJwksUri } from './discovery';
import { DPOP_PROOF_ALGS, MemoryReplayCache, verifyDpopProof, type DpopReplayStore } from './dpop-proof';
import { TokenVerificationError, type AuthScheme } from './errors';

/** Asymmetric algorithms accepted unless the caller narrows them. Never `none`, never a MAC (HS*). */
export const DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'PS256', 'EdDSA'] as const;

const MAX_TOKEN_LENGTH = 16_384;
/** After a failed discovery, requests fail fast for this long instead of each fetching the document again. */
const DISCOVERY_RETRY_MS = 5_000;

export interface VerifierOptions {
  /** The `iss` tokens must carry, exactly as the issuer's metadata names it. */
  issuer: string;
  /** This API's identifier(s): a token must name at least one of them in `aud`. */
  audience: string | string[];
  /** The JWKS URL; absent, the `jwks_uri` of the issuer's RFC 8414 metadata. */
  jwksUri?: string | URL;
  /** Algorithms you accept; intersected with {@link DEFAULT_ALGORITHMS}, so `none` and HS* never pass. */
  algorithms?: string[];
  /** Scopes every request must hold, on top of those asked for per call. */
  requiredScopes?: string[];
  /** Seconds of clock skew allowed on `exp`, `nbf` and `iat`. Default 5. */
  clockTolerance?: number;
  /** The current time (for tests and simulations). Default: the system clock. */
  clock?: () => Date;
  /** jose's remote JWKS cache: `cacheMaxAge` (default 10 min), `cooldownDuration` (30 s), `timeoutDuration` (5 s). */
  jwks?: Pick<RemoteJWKSetOptions, 'cacheMaxAge' | 'cooldownDuration' | 'timeoutDuration' | 'headers'>;
  /** DPoP (RFC 9449) proofs presented with DPoP-bound tokens. */
  dpop?: {
    /** Proof algorithms accepted; intersected with ES256, EdDSA, RS256, PS256. */
    algorithms?: string[];
    /** How old a proof's `iat` may be (default 300 s) and how far ahead of our clock (default 60 s). */
    maxAgeSeconds?: number;
    maxSkewSeconds?: number;
    /** Where seen proof `jti`s are kept. Default: an in-memory {@link MemoryReplayCache} of this verifier. */
    replay?: DpopReplayStore;
    /** Size of the default in-memory replay cache. Default 100 000. */
    maxReplayEntries?: number;
  };
  /** fetch for the discovery document (the JWKS is fetched by jose). Default: global fetch. */
  fetch?: typeof globalThis.fetch;
}

/** What the verifier needs of an HTTP request. */
export interface VerifiableRequest {
  /** The Authorization header: `Bearer <token>` or `DPoP <token>`. */
  authorization: string | null | undefined;
  /** The DPoP header(s); several are refused. */
  dpop?: string | string[] | null | undefined;
  /** The HTTP method and the absolute URL the client called (the public one, behind a proxy). */
  method: string;
  url: string;
}

export interface VerifyOptions {
  /** Scopes this call needs, besides the verifier's `requiredScopes`. */
  scopes?: string[];
}

export interface Verifier {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly string[];
  readonly dpopAlgorithms: readonly string[];
  /** Verifies a request's token (and DPoP proof when the token is bound), then the scopes. */
  verifyRequest(request: VerifiableRequest, options?: VerifyOptions): Promise<VerifiedToken>;
  /** Verifies a token presented as a Bearer token: a DPoP-bound token is refused (`dpop_required`). */
  verify(token: string, options?: VerifyOptions): Promise<VerifiedToken>;
  /** Loads the metadata and the JWKS now, so a misconfiguration shows at start rather than at the first request. */
  ready(): Promise<void>;
}

const intersect = (allowed: readonly string[], wanted: readonly string[] | undefined) =>
  wanted === undefined ? [...allowed] : allowed.filter((a) => wanted.includes(a));

/** Builds a verifier of RFC 9068 access tokens of one issuer for one API. No I/O until the first use. */
export function createVerifier(options: VerifierOptions): Verifier {
  const issuer = options.issuer;
  const audiences = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (!issuer) throw new TypeError('createVerifier: issuer is required');
  if (audiences.length === 0 || audiences.some((a) => !a)) throw new TypeError('createVerifier: audience is required');
  const algorithms = intersect(DEFAULT_ALGORITHMS, options.algorithms);
  if (algorithms.length === 0) throw new TypeError(`createVerifier: algorithms must include one of ${DEFAULT_ALGORITHMS.join(', ')}`);
  const dpopAlgorithms = intersect(DPOP_PROOF_ALGS, options.dpop?.algorithms);
  if (dpopAlgorithms.length === 0) throw new TypeError(`createVerifier: dpop.algorithms must include one of ${DPOP_PROOF_ALGS.join(', ')}`);
  const clockTolerance = options.clockTolerance ?? 5;
  if (!(clockTolerance >= 0)) throw new TypeError('createVerifier: clockTolerance must be a non-negative number of seconds');
  const clock = options.clock ?? (() => new Date());
  const requiredScopes = options.requiredScopes ?? [];
  const dpop = {
    maxAgeSeconds: options.dpop?.maxAgeSeconds ?? 300,
    maxSkewSeconds: options.dpop?.maxSkewSeconds ?? 60,
    replay: options.dpop?.replay ?? new MemoryReplayCache(options.dpop?.maxReplayEntries),
  };
  const keys = remoteKeys(options);

  /** Signature, header and claims; errors carry `scheme` so their challenge names the scheme the client used. */
  async function verifyJwt(token: string, scheme: AuthScheme): Promise<VerifiedToken> {
    const fail = (code: ConstructorParameters<typeof TokenVerificationError>[0], message: string, cause?: unknown) =>
      new TokenVerificationError(code, message, { scheme, cause });
    if (token.length > MAX_TOKEN_LENGTH || token.split('.').length !== 3) throw fail('token_malformed', 'the access token is not a signed JWT');
    let header: JWTHeaderParameters;
    try {
      header = decodeProtectedHeader(token) as JWTHeaderParameters;
    } catch (e) {
      throw fail('token_malformed', 'the access token is not a signed JWT', e);
    }
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) {
      throw fail('alg_not_allowed', `the access token must be signed with one of ${algorithms.join(', ')}`);
    }
    if (typeof header.typ !== 'string' || !['at+jwt', 'application/at+jwt'].includes(header.typ.toLowerCase())) {
      throw fail('typ_invalid', 'the access token must have typ at+jwt (RFC 9068)');
    }
    const now = clock();
    let payload: JWTPayload;
    try {
      const keySet = await keys.resolver();
      const getKey = async (protectedHeader: JWTHeaderParameters, input: FlattenedJWSInput) => {
        try {
          return await keySet(protectedHeader, input);
        } catch (e) {
          throw keyResolutionError(e);
        }
      };
      ({ payload } = await jwtVerify(token, getKey, {
        issuer,
        audience: audiences,
        algorithms,
        typ: 'at+jwt',
        clockTolerance,
        currentDate: now,
        requiredClaims: ['sub', 'client_id', 'jti', 'exp', 'iat'],
      }));
    } catch (e) {
      throw e instanceof TokenVerificationError ? withScheme(e, scheme) : fromJoseError(e, scheme);
    }
    return toVerifiedToken(payload, now, clockTolerance);
  }

  async function checkBinding(token: string, claims: VerifiedToken, scheme: AuthScheme, request?: VerifiableRequest) {
    const jkt = claims.cnf?.jkt;
    if (jkt !== undefined && (scheme !== 'DPoP' || request === undefined)) {
      throw new TokenVerificationError('dpop_required', 'the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof', { scheme: 'DPoP' });
    }
    if (scheme !== 'DPoP' || request === undefined) return;
    if (jkt === undefined) throw new TokenVerificationError('dpop_invalid', 'the access token is not DPoP-bound: send it with the Bearer scheme', { scheme: 'DPoP' });
    const proof = Array.isArray(request.dpop) ? request.dpop.join(',') : (request.dpop ?? undefined);
    await verifyDpopProof({ proof, accessToken: token, jkt, method: request.method, url: request.url, now: clock(), algorithms: dpopAlgorithms, ...dpop });
  }

  return {
    issuer,
    audiences,
    algorithms,
    dpopAlgorithms,
    async verifyRequest(request, verifyOptions = {}) {
      const { scheme, token } = parseAuthorization(request.authorization);
      const claims = await verifyJwt(token, scheme);
      await checkBinding(token, claims, scheme, request);
      requireScopes(claims, [...requiredScopes, ...(verifyOptions.scopes ?? [])], scheme);
      return claims;
    },
    async verify(token, verifyOptions = {}) {
      if (!token) throw new TokenVerificationError('token_missing', 'an access token is required');
      const claims = await verifyJwt(token, 'Bearer');
      await checkBinding(token, claims, 'Bearer');
      requireScopes(claims, [...requiredScopes, ...(verifyOptions.scopes ?? [])], 'Bearer');
      return claims;
    },
    async ready() {
      const getKey = await keys.resolver();
      try {
        await getKey.reload();
      } catch (e) {
        throw new TokenVerificationError('jwks_unavailable', "the issuer's signing keys are unavailable; try again later", { cause: e });
      }
    },
  };
}

/** `Authorization: Bearer <token>` or `DPoP <token>` (schemes are case-insensitive, RFC 9110 §11.1). */
function parseAuthorization(header: string | null | undefined): { scheme: AuthScheme; token: string } {
  const value = header?.trim() ?? '';
  const [rawScheme = '', ...rest] = value.split(/ +/);
  const scheme = rawScheme.toLowerCase() === 'bearer' ? 'Bearer' : rawScheme.toLowerCase() === 'dpop' ? 'DPoP' : undefined;
  if (scheme === undefined) {
    throw new TokenVerificationError('token_missing', 'an access token is required, in the Bearer or DPoP scheme');
  }
  const token = rest.length === 1 ? rest[0]! : '';
  // RFC 6750 §2.1 b64token: a JWT is three base64url parts joined by dots.
  if (!/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    throw new TokenVerificationError('token_malformed', `the ${scheme} credentials are not a token`, { scheme });
  }
  return { scheme, token };
}

/** The issuer's keys: jose's remote JWKS, at `jwksUri` or found through discovery (once; retried after a failure). */
function remoteKeys(options: VerifierOptions) {
  type KeySet = ReturnType<typeof createRemoteJWKSet>;
  const create = (url: URL): KeySet => createRemoteJWKSet(url, options.jwks);
  let keySet: KeySet | undefined = options.jwksUri !== undefined ? create(new URL(options.jwksUri)) : undefined;
  let pending: Promise<KeySet> | undefined;
  let failure: { at: number; error: unknown } | undefined;

  async function resolver(): Promise<KeySet> {
    if (keySet) return keySet;
    if (failure && Date.now() - failure.at < DISCOVERY_RETRY_MS) throw failure.error;
    pending ??= discoverJwksUri(options.issuer, {
      timeoutMs: options.jwks?.timeoutDuration ?? 5_000,
      fetch: options.fetch ?? globalThis.fetch,
    })
      .then((url) => (keySet = create(url)))
      .catch((error: unknown) => {
        failure = { at: Date.now(), error };
        throw error;
      })
      .finally(() => (pending = undefined));
    return pending;
  }
  return { resolver };
}

/** Wraps jose's key resolution so a JWKS outage is told apart from a bad token. */
function keyResolutionError(e: unknown): TokenVerificationError {
  if (e instanceof errors.JWKSNoMatchingKey) return new TokenVerificationError('token_unknown_key', "no key of the issuer's JWKS matches the access token's kid and alg", { cause: e });
  if (e instanceof errors.JWKSMultipleMatchingKeys) return new TokenVerificationError('token_invalid_signature', "several keys of the issuer's JWKS match the access token", { cause: e });
  if (e instanceof errors.JOSENotSupported) return new TokenVerificationError('alg_not_allowed', 'the access token uses an unsupported algorithm', { cause: e });
  return new TokenVerificationError('jwks_unavailable', "the issuer's signing keys are unavailable; try again later", { cause: e });
}

function withScheme(e: TokenVerificationError, scheme: AuthScheme): TokenVerificationError {
  return e.scheme === scheme ? e : new TokenVerificationError(e.code, e.message, { scheme, cause: e.cause, requiredScopes: e.requiredScopes });
}

/** jose's typed errors → our stable codes (key resolution errors arrive already wrapped by `keyResolutionError`). */
function fromJoseError(e: unknown, scheme: AuthScheme): TokenVerificationError {
  const fail = (code: ConstructorParameters<typeof TokenVerificationError>[0], message: string) =>
    new TokenVerificationError(code, message, { scheme, cause: e });
  if (e instanceof errors.JWTExpired) return fail('token_expired', 'the access token has expired');
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.reason === 'missing') return fail('token_malformed', `the access token lacks the ${e.claim} claim`);
    switch (e.claim) {
      case 'iss':
        return fail('issuer_mismatch', 'the access token is from another issuer');
      case 'aud':
        return fail('audience_mismatch', 'the access token is for another audience');
      case 'nbf':
        return fail('token_not_yet_valid', 'the access token is not valid yet (nbf)');
      case 'typ':
        return fail('typ_invalid', 'the access token must have typ at+jwt (RFC 9068)');
      default:
        return fail('token_malformed', `the access token's ${e.claim} claim is invalid`);
    }
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return fail('token_invalid_signature', 'the access token signature is invalid');
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return fail('alg_not_allowed', 'the access token uses an algorithm that is not allowed');
  // JWTInvalid, JWSInvalid, and anything unforeseen: a stranger's input we could not make sense of; refused.
  return fail('token_malformed', 'the access token is not a valid JWT');
}

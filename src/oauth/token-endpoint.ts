import type { AccountsContext } from '../accounts/context';
import type { LastUsedTracker } from '../accounts/last-used';
import type { AuditLog } from '../audit/audit-log';
import { isDatabaseUnavailable } from '../db/availability';
import { rateLimitHeaders, type AccountRateLimiter } from '../limits/account-rate-limit';
import { signAccessToken } from '../tokens/access-token';
import type { KeyStore } from '../tokens/key-store';
import { authenticateRequest, type ClientAuthDeps, type DenialReason, type Trail } from './authenticate-request';
import { roleScopesOf } from '../accounts/roles';
import { authorizationDetailsFor, type TokenAuthorizationDetail } from './authorization-details';
import { grantFor } from './client-credentials-grant';
import { verifyDpopProof } from './dpop';
import {
  DATABASE_UNREACHABLE,
  InvalidClient,
  InvalidRequest,
  OAuthError,
  TemporarilyUnavailable,
  TooManyRequests,
  UnsupportedGrantType,
} from './errors';
import { TokenParams } from './token-request';

export interface TokenEndpointDeps extends ClientAuthDeps {
  accounts: AccountsContext;
  keys: KeyStore;
  audit: AuditLog;
  lastUsed: LastUsedTracker;
  rateLimiter: AccountRateLimiter;
  /** Told of every outcome (metrics). */
  outcomes?: TokenOutcomes;
  settings: {
    issuer: string;
    defaultAudience: string;
    tokenTtlSeconds: number;
    maxTokenTtlSeconds: number;
    defaultRateLimitPerMinute: number;
  };
}

export interface TokenRequestInput {
  contentType: string | undefined;
  body: string;
  authorization: string | undefined;
  /** The DPoP header (RFC 9449), when sent. */
  dpop: string | undefined;
  /** The client's address (see limits/client-address.ts); undefined when unknown. */
  sourceIp: string | undefined;
  userAgent: string | undefined;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope?: string;
  /** RFC 9396 §7: the granted authorization_details, when the request had the parameter. */
  authorization_details?: TokenAuthorizationDetail[];
}

export interface TokenResult {
  body: TokenResponse;
  headers: Record<string, string>;
}

export type { DenialReason, Trail };

/** Receives each token request's outcome as it is decided; must be O(1) and never throw. */
export interface TokenOutcomes {
  issued(grantType: string): void;
  /** `error`: the OAuth error code the client saw (`server_error` for a failure of ours); `reason`: the audit trail's. */
  denied(error: string, reason: string | undefined): void;
}

/**
 * POST /oauth/token for grant_type=client_credentials (RFC 6749 §4.4). Throws an OAuthError for every
 * refusal, TemporarilyUnavailable (503) when the database cannot be reached for what the request needs.
 * Every outcome, issued or denied with its real reason, goes to the audit trail (buffered).
 * `trail` is filled in as the request goes (pass one to learn e.g. which client it was).
 */
export async function handleTokenRequest(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
  trail: Trail = {},
): Promise<TokenResult> {
  try {
    const result = await issue(deps, input, trail);
    record(deps, input, trail, 'token.issued', 200, {
      ...trail.requested,
      granted_scope: result.body.scope ?? '',
      token_type: result.body.token_type,
    });
    deps.outcomes?.issued('client_credentials');
    return result;
  } catch (caught) {
    // The database out of reach is the client's 503 with Retry-After (RFC 6749 §5.2 style), never a 500.
    const error = isDatabaseUnavailable(caught) ? new TemporarilyUnavailable(DATABASE_UNREACHABLE) : caught;
    if (error instanceof OAuthError) {
      // An invalid_client with no reason yet: the credentials were missing or could not be parsed.
      trail.reason ??= error instanceof InvalidClient ? 'malformed_credentials' : (error.error as DenialReason);
      record(deps, input, trail, 'token.denied', error.status, trail.requested);
      deps.outcomes?.denied(error.error, trail.reason);
    } else {
      deps.outcomes?.denied('server_error', 'internal_error');
    }
    throw error;
  }
}

async function issue(deps: TokenEndpointDeps, input: TokenRequestInput, trail: Trail): Promise<TokenResult> {
  const params = TokenParams.parse(input.contentType, input.body);
  trail.requested = requestedOf(params);
  const grantType = params.get('grant_type');
  if (grantType === undefined) throw new InvalidRequest('grant_type is required');
  if (grantType !== 'client_credentials') throw new UnsupportedGrantType('only client_credentials is supported');

  const { account, credential } = await authenticateRequest(deps, input, params, trail);
  const now = deps.accounts.clock();

  // RFC 9449: a valid proof binds the token to its key; an account may insist on one.
  let jkt: string | undefined;
  if (input.dpop !== undefined || account.requireDpop) {
    if (input.dpop === undefined) throw new InvalidRequest('this client must send a DPoP proof (RFC 9449)');
    jkt = await verifyDpopProof(input.dpop, { method: 'POST', url: `${deps.settings.issuer}/oauth/token`, now }, deps.replay);
  }

  const limit = await deps.rateLimiter.consume(
    account.id,
    account.rateLimitPerMinute ?? deps.settings.defaultRateLimitPerMinute,
  );
  const limitHeaders = rateLimitHeaders(limit);
  if (!limit.allowed) {
    trail.reason = 'rate_limited';
    throw new TooManyRequests(`the client's limit of ${limit.limit} token requests per minute is reached`, limitHeaders);
  }

  // Most accounts hold no role: no promise to wait for on the hot path.
  const roleScopes = account.roles.length === 0 ? [] : await roleScopesOf(deps.accounts, account);
  const grant = grantFor(account, params, deps.settings, roleScopes);
  const authorizationDetails = authorizationDetailsFor(account, params);
  const ttlSeconds = Math.min(account.tokenTtlSeconds ?? deps.settings.tokenTtlSeconds, deps.settings.maxTokenTtlSeconds);
  const issued = await signAccessToken(deps.keys.signingKey(), {
    issuer: deps.settings.issuer,
    clientId: account.clientId,
    credentialId: credential.id,
    audience: grant.audience,
    scope: grant.scope,
    orgId: account.orgId,
    authorizationDetails,
    ttlSeconds,
    now,
    ...(jkt ? { jkt } : {}),
  });
  deps.lastUsed.touch(account.id, credential, now, input.sourceIp);
  const body: TokenResponse = {
    access_token: issued.token,
    token_type: jkt ? 'DPoP' : 'Bearer',
    expires_in: issued.expiresIn,
  };
  if (grant.scope.length > 0) body.scope = grant.scope.join(' ');
  if (params.has('authorization_details')) body.authorization_details = authorizationDetails ?? [];
  return { body, headers: limitHeaders };
}

/** The parameters worth keeping in the audit trail: what was asked for, never a credential. */
function requestedOf(params: TokenParams): Record<string, unknown> {
  const clip = (v: string) => (v.length > 500 ? `${v.slice(0, 500)}…` : v);
  const requested: Record<string, unknown> = {};
  const scope = params.get('scope');
  const audience = params.get('audience');
  const resources = params.all('resource');
  if (scope !== undefined) requested.scope = clip(scope);
  if (audience !== undefined) requested.audience = clip(audience);
  if (resources.length > 0) requested.resource = resources.slice(0, 10).map(clip);
  const details = params.get('authorization_details');
  // Lone surrogates (possible in a JSON body) would make the audit row unwritable (jsonb).
  if (details !== undefined) requested.authorization_details = clip(details).replace(/\p{Cs}/gu, '\ufffd');
  return requested;
}

function record(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
  trail: Trail,
  action: 'token.issued' | 'token.denied',
  httpStatus: number,
  details: Record<string, unknown> | undefined,
): void {
  const keyId = trail.credential?.kind === 'key' ? trail.credential.id : undefined;
  deps.audit.record({
    occurredAt: deps.accounts.clock(),
    action,
    outcome: action === 'token.issued' ? 'success' : 'failure',
    reason: trail.reason,
    actor: trail.clientId,
    accountId: trail.accountId,
    clientId: trail.clientId,
    orgId: trail.orgId,
    secretId: trail.credential?.kind === 'secret' ? trail.credential.id : undefined,
    sourceIp: input.sourceIp,
    userAgent: input.userAgent,
    httpStatus,
    details: keyId ? { ...details, key_id: keyId } : details,
  });
}

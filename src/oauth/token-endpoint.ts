import { authenticateClient, type ClientAuthResult } from '../accounts/authenticate-client';
import type { AccountsContext } from '../accounts/context';
import { signAccessToken } from '../tokens/access-token';
import type { KeyStore } from '../tokens/key-store';
import { presentedCredentials } from './client-auth';
import { grantFor } from './client-credentials-grant';
import { InvalidClient, InvalidRequest, UnsupportedGrantType } from './errors';
import { TokenParams } from './token-request';

export interface TokenEndpointDeps {
  accounts: AccountsContext;
  keys: KeyStore;
  settings: {
    issuer: string;
    defaultAudience: string;
    tokenTtlSeconds: number;
    maxTokenTtlSeconds: number;
  };
}

export interface TokenRequestInput {
  contentType: string | undefined;
  body: string;
  authorization: string | undefined;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
}

/** Outcome of the client authentication, kept for the audit trail whatever the answer. */
export type TokenOutcome = { auth?: ClientAuthResult };

/**
 * POST /oauth/token for grant_type=client_credentials (RFC 6749 §4.4). Throws an OAuthError for every
 * refusal; `outcome` receives the real reason behind an invalid_client.
 */
export async function handleTokenRequest(
  deps: TokenEndpointDeps,
  input: TokenRequestInput,
  outcome: TokenOutcome = {},
): Promise<TokenResponse> {
  const params = TokenParams.parse(input.contentType, input.body);
  const grantType = params.get('grant_type');
  if (grantType === undefined) throw new InvalidRequest('grant_type is required');
  if (grantType !== 'client_credentials') throw new UnsupportedGrantType('only client_credentials is supported');

  const credentials = presentedCredentials(input.authorization, params);
  const auth = await authenticateClient(deps.accounts, credentials.clientId, credentials.secret);
  outcome.auth = auth;
  if (!auth.ok) throw new InvalidClient(credentials.method === 'client_secret_basic');

  const { account } = auth;
  const grant = grantFor(account, params, deps.settings);
  const ttlSeconds = Math.min(account.tokenTtlSeconds ?? deps.settings.tokenTtlSeconds, deps.settings.maxTokenTtlSeconds);
  const issued = await signAccessToken(deps.keys.signingKey(), {
    issuer: deps.settings.issuer,
    clientId: account.clientId,
    audience: grant.audience,
    scope: grant.scope,
    ttlSeconds,
    now: deps.accounts.clock(),
  });
  const response: TokenResponse = { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn };
  if (grant.scope.length > 0) response.scope = grant.scope.join(' ');
  return response;
}

import { authenticateClient, type AuthFailureReason, type Credential } from '../accounts/authenticate-client';
import type { AccountsContext } from '../accounts/context';
import type { AuthenticatedAccount } from '../accounts/credential-cache';
import type { BruteForceGuard } from '../limits/brute-force';
import { addressAllowed } from '../limits/ip-ranges';
import { authenticateAssertion, type AssertionSettings } from './client-assertion';
import { presentedCredentials, type ClientAuthMethod } from './client-auth';
import { InvalidClient, TooManyRequests } from './errors';
import type { JtiReplayGuard } from './jti-replay';
import type { TokenParams } from './token-request';

export interface ClientAuthDeps {
  accounts: AccountsContext;
  bruteForce: BruteForceGuard;
  replay: JtiReplayGuard;
  assertion: AssertionSettings;
}

/** Why a request was refused, beyond what the client is told. */
export type DenialReason =
  | AuthFailureReason
  | 'malformed_credentials'
  | 'ip_not_allowed'
  | 'auth_method_not_allowed'
  | 'rate_limited'
  | 'too_many_failures';

/** What the audit trail learns about a request as it goes. */
export interface Trail {
  clientId?: string;
  accountId?: string;
  orgId?: string;
  credential?: Credential | undefined;
  reason?: DenialReason;
  requested?: Record<string, unknown>;
}

export interface AuthenticatedClient {
  account: AuthenticatedAccount;
  credential: Credential;
  method: ClientAuthMethod;
}

/**
 * Authenticates the client of a token or introspection request by whichever method it used, then checks
 * what the account allows: its source address and its authentication methods. Every refusal is the same
 * invalid_client (429 for a source blocked after too many failures, before any argon2 work); the real
 * reason goes to `trail`.
 */
export async function authenticateRequest(
  deps: ClientAuthDeps,
  input: { authorization: string | undefined; sourceIp: string | undefined },
  params: TokenParams,
  trail: Trail,
): Promise<AuthenticatedClient> {
  const credentials = presentedCredentials(input.authorization, params);
  const basic = credentials.method === 'client_secret_basic';
  trail.clientId = credentials.clientId;

  const blockedFor = deps.bruteForce.blockedFor(credentials.clientId, input.sourceIp);
  if (blockedFor > 0) {
    trail.reason = 'too_many_failures';
    throw new TooManyRequests('too many failed authentications; try again later', { 'Retry-After': String(blockedFor) });
  }

  const auth =
    credentials.method === 'private_key_jwt'
      ? await authenticateAssertion(deps.accounts, deps.replay, deps.assertion, credentials.clientId, credentials.assertion)
      : await authenticateClient(deps.accounts, credentials.clientId, credentials.secret);
  trail.credential = auth.credential;
  trail.accountId = auth.ok ? auth.account.id : auth.accountId;
  trail.orgId = auth.ok ? auth.account.orgId : auth.orgId;
  let reason: DenialReason | undefined = auth.ok ? undefined : auth.reason;
  if (auth.ok && !auth.account.tokenEndpointAuthMethods.includes(credentials.method)) reason = 'auth_method_not_allowed';
  else if (auth.ok && !addressAllowed(auth.account.allowedIps, input.sourceIp)) reason = 'ip_not_allowed';
  if (reason !== undefined || !auth.ok) {
    trail.reason = reason;
    await deps.bruteForce.recordFailure(credentials.clientId, input.sourceIp);
    throw new InvalidClient(basic);
  }
  await deps.bruteForce.recordSuccess(credentials.clientId, input.sourceIp);
  return { account: auth.account, credential: auth.credential, method: credentials.method };
}

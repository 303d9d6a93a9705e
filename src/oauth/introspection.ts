import type { ServiceAccountRow } from '../db/schema';
import { and, eq } from 'drizzle-orm';
import { jwtVerify, type JWTPayload } from 'jose';
import { findAccountByClientId } from '../accounts/accounts';
import { clientKeys, clientSecrets } from '../db/schema';
import type { KeyStore } from '../tokens/key-store';
import { authenticateRequest, type ClientAuthDeps, type Trail } from './authenticate-request';
import { InsufficientScope, InvalidRequest } from './errors';
import { TokenParams } from './token-request';

/** The scope an account needs to call the introspection endpoint. */
export const INTROSPECT_SCOPE = 'token:introspect';

export interface IntrospectionDeps extends ClientAuthDeps {
  keys: KeyStore;
  issuer: string;
}

export interface IntrospectionInput {
  contentType: string | undefined;
  body: string;
  authorization: string | undefined;
  sourceIp: string | undefined;
}

const INACTIVE = { active: false } as const;

/**
 * POST /oauth/introspect (RFC 7662). The caller authenticates like a token client and must hold
 * token:introspect. A token is active when we signed it, it has not expired, and its account and the
 * secret or key it was obtained with are still active; anything else, including a malformed token, is
 * `{active: false}` and nothing more.
 */
export async function handleIntrospection(deps: IntrospectionDeps, input: IntrospectionInput): Promise<Record<string, unknown>> {
  const params = TokenParams.parse(input.contentType, input.body);
  const trail: Trail = {};
  const { account: caller } = await authenticateRequest(deps, input, params, trail);
  if (!caller.scopes.includes(INTROSPECT_SCOPE)) {
    throw new InsufficientScope(`introspection needs the ${INTROSPECT_SCOPE} scope`);
  }
  const token = params.get('token');
  if (token === undefined) throw new InvalidRequest('token is required');

  const now = deps.accounts.clock();
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, deps.keys.verificationKeys, {
      issuer: deps.issuer,
      typ: 'at+jwt',
      algorithms: deps.keys.algorithms,
      currentDate: now,
      requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'jti', 'credential_id'],
    }));
  } catch {
    return INACTIVE;
  }
  if (typeof claims.client_id !== 'string' || typeof claims.credential_id !== 'string') return INACTIVE;
  if (!(await stillEntitled(deps, claims.client_id, claims.credential_id, now))) return INACTIVE;

  const { cnf, credential_id: _credential, ...rest } = claims;
  return { active: true, ...rest, token_type: cnf ? 'DPoP' : 'Bearer', ...(cnf ? { cnf } : {}) };
}

/** The token's account is active, and so is the secret or key it was obtained with (also the admin API's test). */
export async function stillEntitled(
  deps: Pick<IntrospectionDeps, 'accounts'>,
  clientId: string,
  credentialId: string,
  now: Date,
): Promise<boolean> {
  return (await entitledAccount(deps, clientId, credentialId, now)) !== undefined;
}

/** The token's account when it, and the secret or key the token was obtained with, are still active. */
export async function entitledAccount(
  deps: Pick<IntrospectionDeps, 'accounts'>,
  clientId: string,
  credentialId: string,
  now: Date,
): Promise<ServiceAccountRow | undefined> {
  const account = await findAccountByClientId(deps.accounts, clientId);
  if (account?.status !== 'active' || !/^[0-9a-f-]{36}$/.test(credentialId)) return undefined;
  const [secret] = await deps.accounts.db
    .select({ status: clientSecrets.status, expiresAt: clientSecrets.expiresAt })
    .from(clientSecrets)
    .where(and(eq(clientSecrets.id, credentialId), eq(clientSecrets.accountId, account.id)));
  if (secret) return secret.status === 'active' && secret.expiresAt.getTime() > now.getTime() ? account : undefined;
  const [key] = await deps.accounts.db
    .select({ status: clientKeys.status })
    .from(clientKeys)
    .where(and(eq(clientKeys.id, credentialId), eq(clientKeys.accountId, account.id)));
  return key?.status === 'active' ? account : undefined;
}

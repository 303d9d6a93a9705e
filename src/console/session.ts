import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { ALL_ADMIN_SCOPES } from '../accounts/admin-scopes';
import { Problem } from '../admin/problems';
import { authenticateAdmin, type AdminAuthDeps, type AdminPrincipal } from '../admin/admin-auth';
import { InvalidClient, InvalidRequest, InvalidScope, InvalidTarget, OAuthError, TemporarilyUnavailable, TooManyRequests } from '../oauth/errors';
import { handleTokenRequest, type TokenEndpointDeps } from '../oauth/token-endpoint';

/**
 * The console's session: the admin's own access token, obtained from our token endpoint at sign-in (with the
 * same checks, limits and audit trail as any client's request) and kept in an HttpOnly, SameSite=Strict
 * cookie that expires with it. Every page verifies it as the admin API verifies a Bearer token, so disabling
 * or revoking the admin's account or secret ends the session at once.
 */

export interface ConsoleSessionDeps extends AdminAuthDeps {
  token: TokenEndpointDeps;
}

export interface SignInRequest {
  clientId: string;
  secret: string;
  sourceIp: string | undefined;
  userAgent: string | undefined;
}

export interface Session {
  token: string;
  expiresInSeconds: number;
}

/** Why sign-in failed, in words for the person at the form (never which of id or secret was wrong). */
export class SignInRefused extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export async function signIn(deps: ConsoleSessionDeps, request: SignInRequest): Promise<{ session: Session; admin: AdminPrincipal }> {
  if (request.clientId === '' || request.secret === '') throw new SignInRefused('Enter the client ID and the secret.', 400);
  let token: string;
  let expiresIn: number;
  try {
    const result = await handleTokenRequest(deps.token, {
      contentType: 'application/x-www-form-urlencoded',
      body: form({ grant_type: 'client_credentials', audience: deps.adminAudience }),
      authorization: basic(request.clientId, request.secret),
      dpop: undefined,
      sourceIp: request.sourceIp,
      userAgent: request.userAgent,
    });
    token = result.body.access_token;
    expiresIn = result.body.expires_in;
  } catch (error) {
    throw refusalOf(error);
  }
  const admin = await authenticateAdmin(deps, { authorization: `Bearer ${token}`, dpop: undefined, method: 'GET', path: '/console' });
  if (!ALL_ADMIN_SCOPES.some((scope) => admin.scopes.has(scope))) {
    throw new SignInRefused('This account holds no admin permission (service-account:read, create, update or delete).', 403);
  }
  return { session: { token, expiresInSeconds: expiresIn }, admin };
}

function refusalOf(error: unknown): unknown {
  if (!(error instanceof OAuthError)) return error;
  if (error instanceof InvalidClient) {
    return new SignInRefused('Sign-in failed: the client ID or secret is wrong, or the account or secret is not active.', 401);
  }
  if (error instanceof InvalidTarget || error instanceof InvalidScope) {
    return new SignInRefused('This account may not use the admin API (its audiences or scopes do not include it).', 403);
  }
  if (error instanceof TooManyRequests) {
    const retry = Number(error.headers()['Retry-After']);
    return new SignInRefused('Too many attempts: wait a moment and try again.', 429, Number.isFinite(retry) ? retry : undefined);
  }
  if (error instanceof TemporarilyUnavailable) return new SignInRefused('The service cannot reach its database; try again shortly.', 503, 1);
  if (error instanceof InvalidRequest && /DPoP/.test(error.description)) {
    return new SignInRefused('This account requires DPoP-bound tokens, which the console cannot hold: use the admin API.', 403);
  }
  return new SignInRefused('Sign-in failed.', 400);
}

/** The session's admin, verified as the admin API verifies a Bearer token; undefined when it is no longer valid. */
export async function sessionAdmin(deps: AdminAuthDeps, token: string | undefined): Promise<AdminPrincipal | undefined> {
  if (!token) return undefined;
  try {
    return await authenticateAdmin(deps, { authorization: `Bearer ${token}`, dpop: undefined, method: 'GET', path: '/console' });
  } catch (error) {
    if (error instanceof Problem && error.status === 401) return undefined;
    throw error;
  }
}

/**
 * The CSRF token of a session: derived from the session token, which a cross-site page can neither read
 * (HttpOnly) nor guess, so it need not be stored; every form carries it and every POST must match it.
 */
export function csrfTokenOf(sessionToken: string): string {
  return createHash('sha256').update('cc-console-csrf\0').update(sessionToken).digest('base64url');
}

/** A random value for the sign-in form's double-submit check, before there is a session. */
export function newSignInNonce(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison of two tokens (different lengths: unequal). */
export function sameToken(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

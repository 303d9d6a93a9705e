import type { MiddlewareHandler } from 'hono';
import type { AdminScope } from '../accounts/admin-scopes';
import type { AccountsContext } from '../accounts/context';
import { DPOP_ALGS, PROOF_MAX_AGE_SECONDS, PROOF_MAX_SKEW_SECONDS } from '../oauth/dpop';
import { entitledAccount } from '../oauth/introspection';
import { isPlatformAdmin } from '../accounts/roles';
import type { JtiReplayGuard } from '../oauth/jti-replay';
import type { KeyStore } from '../tokens/key-store';
import { boundKeyOf, scopesOf, verifyAccessToken, type VerifiedAccessToken } from '../tokens/verify-access-token';
import { verifyDpopProof, type DpopReplayStore } from '../verify/dpop-proof';
import { TokenVerificationError } from '../verify/errors';
import { Problem } from './problems';

/** How the caller presented its token: RFC 6750 Bearer, or RFC 9449 DPoP with a proof. */
export type AdminScheme = 'Bearer' | 'DPoP';

export interface AdminPrincipal {
  clientId: string;
  scopes: Set<string>;
  scheme: AdminScheme;
  /** The admin account's organization. */
  orgId: string;
  /** Holds the platform-admin role: sees and changes every organization, not only its own. */
  platformWide: boolean;
}

export type AdminEnv = { Variables: { admin: AdminPrincipal } };

export interface AdminAuthDeps {
  accounts: AccountsContext;
  keys: KeyStore;
  issuer: string;
  adminAudience: string;
  /** Where DPoP proof `jti`s are remembered: the database, so a proof replayed to another instance is refused too. */
  replay: JtiReplayGuard;
}

/** What authentication needs of an admin request. */
export interface AdminRequest {
  authorization: string | undefined;
  dpop: string | undefined;
  method: string;
  /** The path as received, without query: a proof's `htu` must be the issuer followed by this path. */
  path: string;
}

const ALGS = `algs="${DPOP_ALGS.join(' ')}"`;

type Refusal = { scheme: AdminScheme; error: 'invalid_token' | 'invalid_dpop_proof' };

/**
 * 401 with its challenge (RFC 6750 §3, RFC 9449 §7.1): without credentials, both schemes are offered with no
 * error code; otherwise the challenge is in the scheme the token needs, DPoP naming the proof algorithms.
 */
function unauthorized(detail: string, refusal?: Refusal): Problem {
  const challenge = !refusal
    ? `Bearer realm="admin", DPoP realm="admin", ${ALGS}`
    : refusal.scheme === 'DPoP'
      ? `DPoP realm="admin", error="${refusal.error}", ${ALGS}`
      : `Bearer realm="admin", error="${refusal.error}"`;
  return new Problem(401, 'Unauthorized', detail, {}, { 'WWW-Authenticate': challenge });
}

/** `Bearer <token>` or `DPoP <token>` (schemes are case-insensitive); anything else presented is refused. */
function presentedToken(header: string | undefined): { scheme: AdminScheme; token: string } {
  if (header === undefined) throw unauthorized('an access token is required, with the Bearer or DPoP scheme');
  const match = /^(Bearer|DPoP)[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header);
  if (!match) {
    const scheme: AdminScheme = /^dpop\b/i.test(header) ? 'DPoP' : 'Bearer';
    throw unauthorized(`a ${scheme} access token is required`, { scheme, error: 'invalid_token' });
  }
  return { scheme: match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer', token: match[2]! };
}

/**
 * Authenticates an admin request with one of our own access tokens, verified locally. A DPoP-bound token
 * (`cnf.jkt`) is accepted only with the DPoP scheme and a valid proof of its key for this request (RFC 9449
 * §7.1), so a stolen token is useless without the key; an unbound token only with the Bearer scheme. The
 * token's account, and the secret or key it was obtained with, must still be active: disabling or revoking an
 * admin account, or the leaked secret, cuts its tokens off at once. Throws a 401 Problem.
 */
export async function authenticateAdmin(deps: AdminAuthDeps, request: AdminRequest): Promise<AdminPrincipal> {
  const { scheme, token } = presentedToken(request.authorization);
  const now = deps.accounts.clock();
  const invalidToken = (detail: string) => unauthorized(detail, { scheme, error: 'invalid_token' });
  let claims: VerifiedAccessToken;
  try {
    claims = await verifyAccessToken(deps.keys, token, { issuer: deps.issuer, audience: deps.adminAudience, now });
  } catch {
    throw invalidToken('the access token is invalid or expired');
  }
  const jkt = boundKeyOf(claims);
  if (jkt !== undefined && scheme !== 'DPoP') {
    throw unauthorized('the access token is DPoP-bound: send it with the DPoP scheme and a DPoP proof', { scheme: 'DPoP', error: 'invalid_token' });
  }
  if (jkt === undefined && scheme === 'DPoP') throw invalidToken('the access token is not DPoP-bound: send it with the Bearer scheme');
  if (jkt !== undefined) await checkProof(deps, request, token, jkt, now);

  // As for introspection: the account, and the secret or key the token was obtained with, are still active.
  const credentialId = typeof claims.credential_id === 'string' ? claims.credential_id : '';
  const account = await entitledAccount(deps, claims.client_id, credentialId, now);
  if (!account) throw invalidToken('the access token is invalid or expired');
  // The organization and the platform role as they are now, not as the token was issued.
  return { clientId: claims.client_id, scopes: scopesOf(claims), scheme, orgId: account.orgId, platformWide: isPlatformAdmin(account) };
}

/** The request's DPoP proof, checked by the resource-server helper with our issuer's URL and the database's replay guard. */
async function checkProof(deps: AdminAuthDeps, request: AdminRequest, token: string, jkt: string, now: Date): Promise<void> {
  const replay: DpopReplayStore = {
    firstUse: (key, expiresAt, at) => deps.replay.firstUse('admin-dpop', key, expiresAt, at),
  };
  try {
    await verifyDpopProof({
      proof: request.dpop,
      accessToken: token,
      jkt,
      method: request.method,
      // The public URL, as the issuer names it (like the token endpoint's), never from Host or X-Forwarded-*.
      url: `${deps.issuer}${request.path}`,
      now,
      algorithms: DPOP_ALGS,
      maxAgeSeconds: PROOF_MAX_AGE_SECONDS,
      maxSkewSeconds: PROOF_MAX_SKEW_SECONDS,
      replay,
    });
  } catch (error) {
    if (error instanceof TokenVerificationError) throw unauthorized(error.message, { scheme: 'DPoP', error: 'invalid_dpop_proof' });
    throw error;
  }
}

/** Sets `admin` for the routes, or answers 401. */
export function adminAuth(deps: AdminAuthDeps): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const admin = await authenticateAdmin(deps, {
      authorization: c.req.header('authorization'),
      dpop: c.req.header('dpop'),
      method: c.req.method,
      path: new URL(c.req.url).pathname,
    });
    c.set('admin', admin);
    await next();
  };
}

export function requireScope(scope: AdminScope): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const { scopes, scheme } = c.get('admin');
    if (!scopes.has(scope)) {
      const dpop = scheme === 'DPoP' ? `, ${ALGS}` : '';
      throw new Problem(403, 'Forbidden', `this action needs the ${scope} scope`, {}, {
        'WWW-Authenticate': `${scheme} realm="admin", error="insufficient_scope", scope="${scope}"${dpop}`,
      });
    }
    await next();
  };
}

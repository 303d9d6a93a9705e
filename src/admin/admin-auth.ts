import type { MiddlewareHandler } from 'hono';
import { findAccountByClientId } from '../accounts/accounts';
import type { AdminScope } from '../accounts/admin-scopes';
import type { AccountsContext } from '../accounts/context';
import type { KeyStore } from '../tokens/key-store';
import { scopesOf, verifyAccessToken } from '../tokens/verify-access-token';
import { Problem } from './problems';

export interface AdminPrincipal {
  clientId: string;
  scopes: Set<string>;
}

export type AdminEnv = { Variables: { admin: AdminPrincipal } };

export interface AdminAuthDeps {
  accounts: AccountsContext;
  keys: KeyStore;
  issuer: string;
  adminAudience: string;
}

const unauthorized = (detail: string, tokenPresented: boolean) =>
  new Problem(401, 'Unauthorized', detail, {}, {
    'WWW-Authenticate': tokenPresented ? 'Bearer realm="admin", error="invalid_token"' : 'Bearer realm="admin"',
  });

/**
 * RFC 6750 bearer authentication with one of our own access tokens, verified locally. The token's account
 * must still be active: disabling or revoking an admin account cuts its tokens off at once.
 */
export function adminAuth(deps: AdminAuthDeps): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    const header = c.req.header('authorization');
    const match = header ? /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(header) : null;
    if (!match) throw unauthorized('a Bearer access token is required', header !== undefined);
    let clientId: string;
    let scopes: Set<string>;
    try {
      const token = await verifyAccessToken(deps.keys, match[1]!, {
        issuer: deps.issuer,
        audience: deps.adminAudience,
        now: deps.accounts.clock(),
      });
      clientId = token.client_id;
      scopes = scopesOf(token);
    } catch {
      throw unauthorized('the access token is invalid or expired', true);
    }
    const account = await findAccountByClientId(deps.accounts, clientId);
    if (account?.status !== 'active') throw unauthorized('the access token is invalid or expired', true);
    c.set('admin', { clientId, scopes });
    await next();
  };
}

export function requireScope(scope: AdminScope): MiddlewareHandler<AdminEnv> {
  return async (c, next) => {
    if (!c.get('admin').scopes.has(scope)) {
      throw new Problem(403, 'Forbidden', `this action needs the ${scope} scope`, {}, {
        'WWW-Authenticate': `Bearer realm="admin", error="insufficient_scope", scope="${scope}"`,
      });
    }
    await next();
  };
}

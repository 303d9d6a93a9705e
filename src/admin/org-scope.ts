import type { MiddlewareHandler } from 'hono';
import { eq } from 'drizzle-orm';
import type { AccountsContext } from '../accounts/context';
import { NotFoundError, isUuid } from '../accounts/errors';
import { isPlatformAdmin } from '../accounts/roles';
import { serviceAccounts } from '../db/schema';
import type { AdminPrincipal } from './admin-auth';
import { Problem } from './problems';

/**
 * Organizations as the admin API and the console enforce them: an admin sees and changes only its own
 * organization's accounts, roles and audit events, unless it holds the platform-admin role. Another
 * organization's account does not exist for it (404, never 403: not even its existence leaks).
 */

/** The organization an admin's lists are pinned to: its own, or (platform-wide) the one it asks for, if any. */
export function orgFilterOf(admin: AdminPrincipal, requested?: string): string | undefined {
  return admin.platformWide ? requested : admin.orgId;
}

/** Whether an organization-pinned admin asked for another organization's list (it gets an empty one). */
export const asksForOtherOrg = (admin: AdminPrincipal, requested?: string) =>
  !admin.platformWide && requested !== undefined && requested !== admin.orgId;

/**
 * 404 unless the account is one the admin may see; 403 for a change (`changing`) to an account holding the
 * platform-admin role by an admin who does not hold it. An account that does not exist passes: the route
 * answers 404 itself.
 */
export async function requireAccountInScope(
  ctx: AccountsContext,
  admin: AdminPrincipal,
  accountId: string,
  changing: boolean,
): Promise<void> {
  if (admin.platformWide || !isUuid(accountId)) return;
  const [row] = await ctx.db
    .select({ orgId: serviceAccounts.orgId, roles: serviceAccounts.roles })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, accountId));
  if (!row) return;
  if (row.orgId !== admin.orgId) throw new NotFoundError('service account');
  if (changing && isPlatformAdmin(row)) throw new Problem(403, 'Forbidden', 'only a platform admin may change an account holding platform-admin');
}

/**
 * Middleware for routes under an account (`:id`): requireAccountInScope, any method but GET and HEAD counting
 * as a change. For the admin API and the web console alike.
 */
export function accountInScope<E extends { Variables: { admin: AdminPrincipal } }>(ctx: AccountsContext): MiddlewareHandler<E> {
  return async (c, next) => {
    const changing = c.req.method !== 'GET' && c.req.method !== 'HEAD';
    await requireAccountInScope(ctx, c.get('admin') as AdminPrincipal, c.req.param('id') ?? '', changing);
    await next();
  };
}

/** The organization of an account or role being created: the admin's own unless a platform admin names another. */
export function orgForNew(admin: AdminPrincipal, requested: string | undefined, what: 'accounts' | 'roles'): string {
  if (asksForOtherOrg(admin, requested)) {
    throw new Problem(403, 'Forbidden', `an admin of one organization creates ${what} in it only (org_id)`);
  }
  return requested ?? admin.orgId;
}

/** The organization of an existing account the admin may see (for checks that depend on it). */
export async function orgOfAccount(ctx: AccountsContext, accountId: string): Promise<string> {
  if (!isUuid(accountId)) throw new NotFoundError('service account');
  const [row] = await ctx.db.select({ orgId: serviceAccounts.orgId }).from(serviceAccounts).where(eq(serviceAccounts.id, accountId));
  if (!row) throw new NotFoundError('service account');
  return row.orgId;
}

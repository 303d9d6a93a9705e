import { inArray, and, eq } from 'drizzle-orm';
import { roles, type ServiceAccountRow } from '../db/schema';
import { ADMIN_SCOPES, ALL_ADMIN_SCOPES } from './admin-scopes';
import { InvalidFieldsError, type FieldProblem } from './errors';
import type { AccountsContext } from './context';

/** The role that administers every organization (see admin/admin-auth.ts). */
export const PLATFORM_ADMIN_ROLE = 'platform-admin';

export interface BuiltInRole {
  name: string;
  description: string;
  scopes: string[];
  /** Its holders see and change every organization's accounts, roles and audit events. */
  platformWide: boolean;
}

/** Roles every organization has; they cannot be changed or deleted. */
export const BUILT_IN_ROLES: readonly BuiltInRole[] = [
  {
    name: 'service-account-admin',
    description: 'Manages the service accounts of its organization.',
    scopes: [...ALL_ADMIN_SCOPES],
    platformWide: false,
  },
  {
    name: 'service-account-viewer',
    description: 'Reads the service accounts, roles and audit events of its organization.',
    scopes: [ADMIN_SCOPES.read],
    platformWide: false,
  },
  {
    name: PLATFORM_ADMIN_ROLE,
    description: 'Manages the service accounts, roles and audit events of every organization.',
    scopes: [...ALL_ADMIN_SCOPES],
    platformWide: true,
  },
];

const builtIn = new Map(BUILT_IN_ROLES.map((r) => [r.name, r]));

export const isBuiltInRole = (name: string) => builtIn.has(name);

/** Whether the account administers every organization. */
export const isPlatformAdmin = (account: Pick<ServiceAccountRow, 'roles'>) => account.roles.includes(PLATFORM_ADMIN_ROLE);

/**
 * The scopes an account holds through its roles: built-in ones, and its organization's (a name that no longer
 * resolves gives nothing). On the token path: custom roles come from the process's RoleDirectory, with no
 * database read, when the context has one.
 */
export async function roleScopesOf(ctx: AccountsContext, account: Pick<ServiceAccountRow, 'orgId' | 'roles'>): Promise<string[]> {
  if (account.roles.length === 0) return [];
  const scopes = new Set<string>();
  const custom: string[] = [];
  for (const name of account.roles) {
    const role = builtIn.get(name);
    if (role) role.scopes.forEach((s) => scopes.add(s));
    else custom.push(name);
  }
  if (custom.length > 0) {
    if (ctx.roles) {
      (await ctx.roles.scopesOf(account.orgId, custom)).forEach((s) => scopes.add(s));
    } else {
      const rows = await ctx.db
        .select({ scopes: roles.scopes })
        .from(roles)
        .where(and(eq(roles.orgId, account.orgId), inArray(roles.name, custom)));
      for (const row of rows) row.scopes.forEach((s) => scopes.add(s));
    }
  }
  return [...scopes];
}

/**
 * Refuses role names an admin may not give an account of `orgId`: unknown ones (neither built-in nor a role
 * of that organization), and platform-admin unless the admin is platform-wide itself.
 */
export async function checkAssignableRoles(
  ctx: AccountsContext,
  orgId: string,
  names: readonly string[],
  byPlatformAdmin: boolean,
): Promise<void> {
  const problems: FieldProblem[] = [];
  const custom = names.filter((n) => !builtIn.has(n));
  const found = new Set<string>();
  if (custom.length > 0) {
    const rows = await ctx.db
      .select({ name: roles.name })
      .from(roles)
      .where(and(eq(roles.orgId, orgId), inArray(roles.name, custom)));
    rows.forEach((r) => found.add(r.name));
  }
  names.forEach((name, i) => {
    if (name === PLATFORM_ADMIN_ROLE && !byPlatformAdmin) {
      problems.push({ field: `roles.${i}`, message: 'only a platform admin may give the platform-admin role' });
    } else if (!builtIn.has(name) && !found.has(name)) {
      problems.push({ field: `roles.${i}`, message: `no role ${JSON.stringify(name)} in organization ${JSON.stringify(orgId)}` });
    }
  });
  if (problems.length > 0) throw new InvalidFieldsError(problems);
}

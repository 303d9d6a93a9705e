import { randomUUID } from 'node:crypto';
import { and, asc, count, eq, sql } from 'drizzle-orm';
import { roles, serviceAccounts, type RoleRow } from '../db/schema';
import type { Announcement } from './credential-cache';
import type { AccountsContext, Tx } from './context';
import { ConflictError, InvalidFieldsError, NotFoundError, uniqueViolation } from './errors';
import { ROLE_CHANGES } from './role-directory';
import { BUILT_IN_ROLES, isBuiltInRole, type BuiltInRole } from './roles';

/** A role as an organization sees it: one of the built-in ones (the same in every organization) or its own. */
export interface Role {
  orgId: string;
  name: string;
  description: string;
  scopes: string[];
  builtIn: boolean;
  /** Built-in roles only: its holders administer every organization. */
  platformWide: boolean;
  /** Null for a built-in role. */
  createdAt: Date | null;
  updatedAt: Date | null;
}

export interface RoleInput {
  orgId: string;
  name: string;
  description?: string | undefined;
  scopes: string[];
}

export interface RolePatch {
  description?: string | undefined;
  scopes?: string[] | undefined;
}

/** Custom roles an organization may have: its list stays short, and so does every process's copy of it. */
export const MAX_ROLES_PER_ORG = 500;

/**
 * Past this many accounts losing a deleted role, every process drops all its cached credentials at once
 * rather than receiving one notification per account.
 */
const MAX_ACCOUNTS_NAMED = 100;

const builtInRole = (orgId: string, role: BuiltInRole): Role => ({
  orgId,
  name: role.name,
  description: role.description,
  scopes: [...role.scopes],
  builtIn: true,
  platformWide: role.platformWide,
  createdAt: null,
  updatedAt: null,
});

const customRole = (row: RoleRow): Role => ({
  orgId: row.orgId,
  name: row.name,
  description: row.description,
  scopes: row.scopes,
  builtIn: false,
  platformWide: false,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

/** The shape of a role name (admin/schemas.ts validates new ones): anything else names no role, unasked. */
const ROLE_NAME = /^[a-z0-9][a-z0-9_.:-]{0,99}$/;

const requireRoleName = (name: string) => {
  if (!ROLE_NAME.test(name)) throw new NotFoundError('role');
};

const unchangeable = (name: string) => new ConflictError(`${name} is a built-in role: it cannot be changed or deleted`);

/** The built-in roles first, then the organization's own, by name. */
export async function listRoles(ctx: AccountsContext, { orgId }: { orgId: string }): Promise<Role[]> {
  const rows = await ctx.db.select().from(roles).where(eq(roles.orgId, orgId)).orderBy(asc(roles.name));
  return [...BUILT_IN_ROLES.map((r) => builtInRole(orgId, r)), ...rows.map(customRole)];
}

export async function getRole(ctx: AccountsContext, orgId: string, name: string): Promise<Role> {
  const builtIn = BUILT_IN_ROLES.find((r) => r.name === name);
  if (builtIn) return builtInRole(orgId, builtIn);
  requireRoleName(name);
  const [row] = await ctx.db.select().from(roles).where(and(eq(roles.orgId, orgId), eq(roles.name, name)));
  if (!row) throw new NotFoundError('role');
  return customRole(row);
}

export async function createRole(ctx: AccountsContext, input: RoleInput): Promise<Role> {
  if (isBuiltInRole(input.name)) {
    throw new InvalidFieldsError([{ field: 'name', message: `${input.name} is the name of a built-in role` }]);
  }
  const now = ctx.clock();
  try {
    return await changeRoles(ctx, async (tx) => {
      const [held] = await tx.select({ n: count() }).from(roles).where(eq(roles.orgId, input.orgId));
      if ((held?.n ?? 0) >= MAX_ROLES_PER_ORG) {
        throw new ConflictError(`organization ${input.orgId} has ${MAX_ROLES_PER_ORG} roles already, as many as it may`);
      }
      const [row] = await tx
        .insert(roles)
        .values({
          id: randomUUID(),
          orgId: input.orgId,
          name: input.name,
          description: input.description ?? '',
          scopes: unique(input.scopes),
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      return { result: customRole(row!), accounts: [] };
    });
  } catch (error) {
    if (uniqueViolation(error)) throw new ConflictError(`a role named ${input.name} already exists in organization ${input.orgId}`);
    throw error;
  }
}

/** Changes a custom role's description or scopes (a role is never renamed); its holders' next tokens follow. */
export async function updateRole(
  ctx: AccountsContext,
  orgId: string,
  name: string,
  patch: RolePatch,
): Promise<{ before: Role; after: Role }> {
  if (isBuiltInRole(name)) throw unchangeable(name);
  requireRoleName(name);
  return changeRoles(ctx, async (tx) => {
    const [before] = await tx.select().from(roles).where(and(eq(roles.orgId, orgId), eq(roles.name, name))).for('update');
    if (!before) throw new NotFoundError('role');
    const [after] = await tx
      .update(roles)
      .set({
        ...(patch.description !== undefined ? { description: patch.description } : {}),
        ...(patch.scopes !== undefined ? { scopes: unique(patch.scopes) } : {}),
        updatedAt: ctx.clock(),
      })
      .where(eq(roles.id, before.id))
      .returning();
    return { result: { before: customRole(before), after: customRole(after!) }, accounts: [] };
  });
}

/**
 * Deletes a custom role. While accounts of its organization hold it, only with `force`, which takes it from
 * them in the same transaction. Answers the role as it was and the ids of the accounts that lost it.
 */
export async function deleteRole(
  ctx: AccountsContext,
  orgId: string,
  name: string,
  { force = false }: { force?: boolean } = {},
): Promise<{ role: Role; accountIds: string[] }> {
  if (isBuiltInRole(name)) throw unchangeable(name);
  requireRoleName(name);
  return changeRoles(ctx, async (tx) => {
    const [row] = await tx.select().from(roles).where(and(eq(roles.orgId, orgId), eq(roles.name, name))).for('update');
    if (!row) throw new NotFoundError('role');
    const holding = and(eq(serviceAccounts.orgId, orgId), sql`${name} = any(${serviceAccounts.roles})`);
    if (!force) {
      const [held] = await tx.select({ n: count() }).from(serviceAccounts).where(holding);
      const n = held?.n ?? 0;
      if (n > 0) {
        throw new ConflictError(
          `role ${name} is held by ${n} service account${n === 1 ? '' : 's'}: take it from them first, or delete with ?force=true`,
        );
      }
    }
    await tx.delete(roles).where(eq(roles.id, row.id));
    // With force, its holders lose it; without, this catches an account given the role since the count.
    const changed = await tx
      .update(serviceAccounts)
      .set({ roles: sql`array_remove(${serviceAccounts.roles}, ${name})`, updatedAt: ctx.clock() })
      .where(holding)
      .returning({ id: serviceAccounts.id });
    const accountIds = changed.map((a) => a.id);
    return { result: { role: customRole(row), accountIds }, accounts: accountIds };
  });
}

/**
 * Runs a change to roles in a transaction that also announces it to every process sharing the database (see
 * role-directory.ts), and the accounts it changed (their cached rows name their roles; credential-cache.ts).
 * Resolves once this process has received its announcements back: by then every process has been told.
 */
async function changeRoles<T>(ctx: AccountsContext, change: (tx: Tx) => Promise<{ result: T; accounts: string[] }>): Promise<T> {
  const announcements: Announcement[] = [ctx.credentials.announce(ROLE_CHANGES)];
  let result: T;
  try {
    result = await ctx.db.transaction(async (tx) => {
      const outcome = await change(tx);
      // An empty id: every process drops all its cached credentials.
      const accounts = outcome.accounts.length > MAX_ACCOUNTS_NAMED ? [''] : outcome.accounts;
      announcements.push(...accounts.map((id) => ctx.credentials.announce(id)));
      const payloads = JSON.stringify(announcements.map((a) => a.payload));
      await tx.execute(
        sql`select pg_notify(${announcements[0]!.channel}, payload) from jsonb_array_elements_text(${payloads}::jsonb) as payload`,
      );
      return outcome.result;
    });
  } catch (error) {
    for (const announcement of announcements) ctx.credentials.abandon(announcement);
    throw error;
  }
  await Promise.all(announcements.map((a) => a.seen()));
  return result;
}

const unique = (values: string[]) => [...new Set(values)];

import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { serviceAccounts, type StoredPermission } from '../db/schema';
import { changeAccount } from './account-changes';
import type { AccountsContext } from './context';
import { ConflictError, InvalidFieldsError, NotFoundError, isUuid } from './errors';

// An account's fine-grained permissions: `{resource_type, resource_key, action, limiter}`, kept in its row
// (service_accounts.permissions) so the token endpoint reads them with the account, and carried by its tokens
// as RFC 9396 authorization_details (oauth/authorization-details.ts). Every change is an account change:
// announced to every instance, so the very next token carries it.

/** Permissions one account may hold. */
export const MAX_PERMISSIONS = 100;
/**
 * Every token of the account carries its permissions: their total size (as JSON) is capped, so a token stays
 * a reasonable HTTP header (the count and per-member limits alone would allow megabytes).
 */
export const MAX_PERMISSIONS_BYTES = 16 * 1024;

/** Stands for every resource key, or every action. */
export const WILDCARD = '*';

/** A limiter: alternatives, each an object of string → string; a use matches one when it has all its members. */
export type Limiter = Record<string, string>[];

// Without the `u` flag, so the OpenAPI document can state them as patterns (ECMA-262 without flags).
/** Well-formed text without control characters: PostgreSQL's jsonb refuses U+0000 and lone surrogates. */
const PRINTABLE = /^(?:[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])+$/;
/** Well-formed text without U+0000. */
const STORABLE = /^(?:[^\u0000\ud800-\udfff]|[\ud800-\udbff][\udc00-\udfff])+$/;

const text = (max: number, rule: RegExp, what: string) =>
  z.string().min(1, 'must not be empty').max(max, `must be at most ${max} characters`).regex(rule, `must be ${what}`);

const limiterAlternative = z.preprocess(
  (value, ctx) => {
    // A JSON `__proto__` member would be dropped silently by the record below, widening the alternative.
    if (typeof value === 'object' && value !== null && Object.hasOwn(value, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: '__proto__ is not a usable key', path: ['__proto__'] });
    }
    return value;
  },
  z
    .record(text(100, PRINTABLE, 'printable text'), text(500, STORABLE, 'well-formed text without U+0000'), {
      error: (issue) => (issue.code === 'invalid_key' ? 'keys must be 1-100 printable characters' : 'must be an object of strings'),
    })
    .refine((o) => Object.keys(o).length >= 1 && Object.keys(o).length <= 20, 'must have 1 to 20 members'),
);

/** How a permission's members are validated: by the admin API (admin/permission-schemas.ts) and the token endpoint. */
export const permissionFields = {
  resource_type: text(100, /^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/, 'letters, digits, _ . : / or -, starting with a letter or digit'),
  resource_key: text(200, PRINTABLE, `printable text, or ${WILDCARD} for every key`),
  action: text(100, PRINTABLE, `printable text, or ${WILDCARD} for every action`),
  limiter: z.array(limiterAlternative).min(1, 'must have 1 to 10 objects').max(10, 'must have 1 to 10 objects'),
};

export const permissionInputSchema = z.strictObject({
  resource_type: permissionFields.resource_type,
  resource_key: permissionFields.resource_key,
  action: permissionFields.action,
  limiter: permissionFields.limiter.optional(),
});

export type PermissionInput = z.infer<typeof permissionInputSchema>;
/** The members sent change; `limiter: null` removes it. */
export type PermissionPatch = Partial<Omit<PermissionInput, 'limiter'>> & { limiter?: Limiter | null | undefined };

export async function listPermissions(ctx: AccountsContext, accountId: string): Promise<StoredPermission[]> {
  if (!isUuid(accountId)) throw new NotFoundError('service account');
  const [row] = await ctx.db
    .select({ permissions: serviceAccounts.permissions })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, accountId));
  if (!row) throw new NotFoundError('service account');
  return row.permissions;
}

export async function getPermission(ctx: AccountsContext, accountId: string, permissionId: string): Promise<StoredPermission> {
  const found = (await listPermissions(ctx, accountId)).find((p) => p.id === permissionId);
  if (!found) throw new NotFoundError('permission');
  return found;
}

/** Adds a permission; 409 when the account is revoked, holds MAX_PERMISSIONS already, or holds the same one. */
export async function addPermission(ctx: AccountsContext, accountId: string, input: PermissionInput): Promise<StoredPermission> {
  const fields = validated(input);
  return editPermissions(ctx, accountId, (current) => {
    if (current.length >= MAX_PERMISSIONS) {
      throw new ConflictError(`the account already holds ${MAX_PERMISSIONS} permissions; delete one first`);
    }
    const added: StoredPermission = { id: randomUUID(), ...fields, created_at: ctx.clock().toISOString() };
    refuseDuplicate(current, added);
    return { permissions: [...current, added], result: added };
  });
}

/** Changes the members the patch names; the permission keeps its id. Returns it as it was and as it is. */
export async function updatePermission(
  ctx: AccountsContext,
  accountId: string,
  permissionId: string,
  patch: PermissionPatch,
): Promise<{ before: StoredPermission; after: StoredPermission }> {
  return editPermissions(ctx, accountId, (current) => {
    const before = current.find((p) => p.id === permissionId);
    if (!before) throw new NotFoundError('permission');
    const { id: _id, created_at: _created, ...kept } = before;
    const limiter = patch.limiter === undefined ? kept.limiter : (patch.limiter ?? undefined);
    const merged = validated({
      resource_type: patch.resource_type ?? kept.resource_type,
      resource_key: patch.resource_key ?? kept.resource_key,
      action: patch.action ?? kept.action,
      ...(limiter ? { limiter } : {}),
    });
    const after: StoredPermission = { id: before.id, ...merged, created_at: before.created_at };
    refuseDuplicate(
      current.filter((p) => p.id !== permissionId),
      after,
    );
    return { permissions: current.map((p) => (p.id === permissionId ? after : p)), result: { before, after } };
  });
}

/** Removes a permission; returns what it was. */
export async function deletePermission(ctx: AccountsContext, accountId: string, permissionId: string): Promise<StoredPermission> {
  return editPermissions(ctx, accountId, (current) => {
    const removed = current.find((p) => p.id === permissionId);
    if (!removed) throw new NotFoundError('permission');
    return { permissions: current.filter((p) => p !== removed), result: removed };
  });
}

/**
 * Rewrites the account's permissions in one transaction, its row locked, announced to every instance
 * (account-changes.ts). A revoked account can no longer be changed (409).
 */
async function editPermissions<T>(
  ctx: AccountsContext,
  accountId: string,
  edit: (current: StoredPermission[]) => { permissions: StoredPermission[]; result: T },
): Promise<T> {
  if (!isUuid(accountId)) throw new NotFoundError('service account');
  return changeAccount(ctx, accountId, async (tx) => {
    const [account] = await tx
      .select({ status: serviceAccounts.status, permissions: serviceAccounts.permissions })
      .from(serviceAccounts)
      .where(eq(serviceAccounts.id, accountId))
      .for('update');
    if (!account) throw new NotFoundError('service account');
    if (account.status === 'revoked') throw new ConflictError('the service account is revoked; revocation is permanent');
    const { permissions, result } = edit(account.permissions);
    const bytes = Buffer.byteLength(JSON.stringify(permissions));
    if (bytes > MAX_PERMISSIONS_BYTES && bytes > Buffer.byteLength(JSON.stringify(account.permissions))) {
      throw new ConflictError(`the account's permissions would take ${bytes} bytes in every token; at most ${MAX_PERMISSIONS_BYTES}`);
    }
    await tx.update(serviceAccounts).set({ permissions, updatedAt: ctx.clock() }).where(eq(serviceAccounts.id, accountId));
    return result;
  });
}

/** The input as the domain keeps it, or InvalidFieldsError naming each bad member. */
function validated(input: PermissionInput): PermissionInput {
  const parsed = permissionInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidFieldsError(parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.') || '(body)', message: i.message })));
  }
  const { limiter, ...fields } = parsed.data;
  return limiter ? { ...fields, limiter } : fields;
}

function refuseDuplicate(others: StoredPermission[], candidate: StoredPermission): void {
  const key = sameness(candidate);
  if (others.some((p) => sameness(p) === key)) throw new ConflictError('the account already holds this permission');
}

/** What makes two permissions the same grant: every member but id and created_at, limiter objects' keys sorted. */
const sameness = (p: StoredPermission) =>
  JSON.stringify([
    p.resource_type,
    p.resource_key,
    p.action,
    (p.limiter ?? []).map((alt) => Object.entries(alt).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  ]);

import { z } from 'zod';
import type { Role } from '../accounts/role-store';
import { description, orgId, roleName, scope, single } from './schemas';

// What the admin API accepts and answers about roles: named bundles of scopes, built-in or an organization's
// own (accounts/roles.ts, accounts/role-store.ts), described for the OpenAPI document.

const scopes = z
  .array(scope)
  .max(100, 'at most 100 scopes')
  .meta({ description: 'Scopes every holder of the role may request, as well as its own.', examples: [['orders:read', 'orders:write']] });

export const createRoleSchema = z
  .strictObject({
    name: roleName.meta({
      description: 'Unique in its organization; never a built-in role’s name. A role is never renamed.',
      examples: ['billing-reader'],
    }),
    description: description.optional(),
    scopes,
    org_id: orgId.optional().meta({
      description: 'Its organization (default: the admin’s own; only a platform admin may name another).',
    }),
  })
  .meta({ id: 'RoleCreate' });

export const updateRoleSchema = z
  .strictObject({ description: description.optional(), scopes: scopes.optional() })
  .refine((patch) => Object.keys(patch).length > 0, 'send description, scopes or both')
  .meta({ id: 'RoleUpdate', description: 'Only the members sent change. Its holders’ next tokens follow, on every instance.' });

const orgQuery = single(
  orgId.optional().meta({
    description: 'The organization (platform admins only; default `default`). An organization’s admin always works in its own.',
  }),
);

export const roleQuery = z.object({ org_id: orgQuery });

export const deleteRoleQuery = z.object({
  org_id: orgQuery,
  force: single(
    z
      .enum(['true', 'false'], { error: 'must be "true" or "false"' })
      .optional()
      .meta({ description: '`true`: delete even while accounts hold the role, taking it from them.' }),
  ),
});

/** Path parameter: any text reaches the domain, which answers 404 for a name that is no role. */
export const rolePath = z.object({ name: z.string().meta({ description: 'The role’s name.', examples: ['billing-reader'] }) });

const timestamp = z.iso.datetime().nullable().meta({ description: '`null` for a built-in role.', examples: ['2026-06-01T12:00:00.000Z'] });

export const RoleSchema = z
  .object({
    name: z.string(),
    org_id: z.string().meta({ description: 'Its organization (built-in roles exist in every organization).' }),
    description: z.string(),
    scopes: z.array(z.string()),
    built_in: z.boolean().meta({ description: 'Built-in roles cannot be changed or deleted.' }),
    platform_wide: z.boolean().meta({ description: 'Its holders administer every organization (the built-in platform-admin).' }),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: 'Role', description: 'A named bundle of scopes: an account holds the scopes of its roles as well as its own.' });

export function roleView(role: Role): z.infer<typeof RoleSchema> {
  return {
    name: role.name,
    org_id: role.orgId,
    description: role.description,
    scopes: role.scopes,
    built_in: role.builtIn,
    platform_wide: role.platformWide,
    created_at: role.createdAt?.toISOString() ?? null,
    updated_at: role.updatedAt?.toISOString() ?? null,
  };
}

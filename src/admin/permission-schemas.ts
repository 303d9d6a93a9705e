import { z } from 'zod';
import { MAX_PERMISSIONS, permissionFields } from '../accounts/permissions';
import type { StoredPermission } from '../db/schema';

// What the admin API accepts and answers about an account's fine-grained permissions: the domain's rules
// (accounts/permissions.ts), described for the OpenAPI document.

const fields = {
  resource_type: permissionFields.resource_type.meta({
    description: 'The kind of resource: the token’s authorization_details `type`.',
    examples: ['report'],
  }),
  resource_key: permissionFields.resource_key.meta({
    description: 'One resource, or `*` for every resource of the type: the entry’s `identifier`.',
    examples: ['r1', '*'],
  }),
  action: permissionFields.action.meta({
    description: 'What may be done to it, or `*` for everything: the entry’s `actions`.',
    examples: ['read'],
  }),
  limiter: permissionFields.limiter.meta({
    description:
      'Narrows the permission: it applies where the context matches one of these objects (has each of its members). ' +
      '1-10 objects of 1-20 string members (keys up to 100 characters, values up to 500).',
    examples: [[{ region: 'eu', tenant: 't1' }]],
  }),
};

export const createPermissionSchema = z
  .strictObject({
    resource_type: fields.resource_type,
    resource_key: fields.resource_key,
    action: fields.action,
    limiter: fields.limiter.optional(),
  })
  .meta({ id: 'PermissionCreate', description: `An account holds at most ${MAX_PERMISSIONS} permissions.` });

export const updatePermissionSchema = z
  .strictObject({
    resource_type: fields.resource_type.optional(),
    resource_key: fields.resource_key.optional(),
    action: fields.action.optional(),
    limiter: fields.limiter.nullable().optional().meta({ description: '`null` removes the limiter.' }),
  })
  .refine((patch) => Object.keys(patch).length > 0, 'send at least one member to change')
  .meta({ id: 'PermissionUpdate', description: 'Only the members sent change.' });

/** Path parameters: any text reaches the domain, which answers 404 for an id that is not one of ours. */
const id = (what: string) =>
  z.string().meta({ description: `The ${what}’s id.`, format: 'uuid', examples: ['0196f0a5-3c1e-7b2a-9d4f-2b8e6c1a5d30'] });
export const permissionsPath = z.object({ id: id('service account') });
export const permissionPath = z.object({ id: id('service account'), permissionId: id('permission') });

export const PermissionSchema = z
  .object({
    id: z.uuid(),
    resource_type: z.string(),
    resource_key: z.string(),
    action: z.string(),
    limiter: z.array(z.record(z.string(), z.string())).nullable().meta({ description: '`null`: no limiter.' }),
    created_at: z.iso.datetime().meta({ examples: ['2026-06-01T12:00:00.000Z'] }),
  })
  .meta({
    id: 'Permission',
    description:
      'A fine-grained permission. The account’s tokens carry it as an RFC 9396 authorization_details entry: ' +
      '`{type: resource_type, identifier: resource_key, actions: [action], limiter}`.',
  });

export function permissionView(p: StoredPermission): z.infer<typeof PermissionSchema> {
  return {
    id: p.id,
    resource_type: p.resource_type,
    resource_key: p.resource_key,
    action: p.action,
    limiter: p.limiter ?? null,
    created_at: p.created_at,
  };
}

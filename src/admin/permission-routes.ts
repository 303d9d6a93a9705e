import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { ADMIN_SCOPES } from '../accounts/admin-scopes';
import { getPermission, listPermissions } from '../accounts/permissions';
import type { IpRangeList } from '../limits/ip-ranges';
import { actionsOfRequest } from './acting-admin';
import type { AdminActionsDeps } from './admin-actions';
import type { AdminEnv } from './admin-auth';
import { jsonBody, ownBody } from './json-body';
import {
  conflict,
  created,
  guarded,
  json,
  jsonBody as documentedBody,
  jsonBodyErrors,
  noContent,
  notFound,
  operation,
} from './operations';
import {
  PermissionSchema,
  createPermissionSchema,
  permissionPath,
  permissionView,
  permissionsPath,
  updatePermissionSchema,
} from './permission-schemas';
import { validationProblems } from './problems';

export interface PermissionRoutesDeps extends AdminActionsDeps {
  trustedProxies: IpRangeList;
}

const tags = ['Permissions'];
const revokedOrFull = 'The account is revoked, already holds this permission, or holds as many as it may (100).';

/** The permission operations, relative to /service-accounts/{id}/permissions. */
const operations = {
  create: operation(ADMIN_SCOPES.update, {
    method: 'post',
    path: '/',
    operationId: 'createPermission',
    tags,
    summary: 'Grant a fine-grained permission to a service account',
    description: 'Its next token carries it in `authorization_details`.',
    request: { params: permissionsPath, body: documentedBody(createPermissionSchema) },
    responses: {
      201: created(PermissionSchema, 'The new permission.'),
      ...jsonBodyErrors,
      ...guarded,
      ...notFound('service account'),
      ...conflict(revokedOrFull),
    },
  }),
  list: operation(ADMIN_SCOPES.read, {
    method: 'get',
    path: '/',
    operationId: 'listPermissions',
    tags,
    summary: 'A service account’s permissions, oldest first',
    request: { params: permissionsPath },
    responses: {
      200: json(z.object({ items: z.array(PermissionSchema) }), 'The permissions.'),
      ...guarded,
      ...notFound('service account'),
    },
  }),
  get: operation(ADMIN_SCOPES.read, {
    method: 'get',
    path: '/{permissionId}',
    operationId: 'getPermission',
    tags,
    summary: 'One permission',
    request: { params: permissionPath },
    responses: { 200: json(PermissionSchema, 'The permission.'), ...guarded, ...notFound('service account or permission') },
  }),
  update: operation(ADMIN_SCOPES.update, {
    method: 'patch',
    path: '/{permissionId}',
    operationId: 'updatePermission',
    tags,
    summary: 'Change a permission',
    request: { params: permissionPath, body: documentedBody(updatePermissionSchema) },
    responses: {
      200: json(PermissionSchema, 'The permission as it now is.'),
      ...jsonBodyErrors,
      ...guarded,
      ...notFound('service account or permission'),
      ...conflict('The account is revoked, or already holds the permission this would make.'),
    },
  }),
  delete: operation(ADMIN_SCOPES.update, {
    method: 'delete',
    path: '/{permissionId}',
    operationId: 'deletePermission',
    tags,
    summary: 'Withdraw a permission',
    request: { params: permissionPath },
    responses: {
      204: noContent('Withdrawn.'),
      ...guarded,
      ...notFound('service account or permission'),
      ...conflict('The account is revoked.'),
    },
  }),
};

/**
 * CRUD of an account's fine-grained permissions, mounted at /service-accounts/:id/permissions by the admin
 * routes (after their authentication and organization middleware). Each change is audited with the admin
 * as actor (admin-actions.ts).
 */
export function permissionRoutes(deps: PermissionRoutesDeps): OpenAPIHono<AdminEnv> {
  const ctx = deps.accounts;
  const app = new OpenAPIHono<AdminEnv>({ defaultHook: validationProblems });
  const act = (c: Context<AdminEnv>) => actionsOfRequest(c, deps);

  app.openapi(ownBody(app, operations.create), async (c) => {
    const input = await jsonBody(c, createPermissionSchema);
    const accountId = c.req.valid('param').id;
    const permission = await act(c).addPermission(accountId, input);
    return c.json(permissionView(permission), 201, {
      Location: `/admin/v1/service-accounts/${accountId}/permissions/${permission.id}`,
    });
  });

  app.openapi(operations.list, async (c) =>
    c.json({ items: (await listPermissions(ctx, c.req.valid('param').id)).map(permissionView) }, 200),
  );

  app.openapi(operations.get, async (c) => {
    const { id, permissionId } = c.req.valid('param');
    return c.json(permissionView(await getPermission(ctx, id, permissionId)), 200);
  });

  app.openapi(ownBody(app, operations.update), async (c) => {
    const patch = await jsonBody(c, updatePermissionSchema);
    const { id, permissionId } = c.req.valid('param');
    return c.json(permissionView(await act(c).updatePermission(id, permissionId, patch)), 200);
  });

  app.openapi(operations.delete, async (c) => {
    const { id, permissionId } = c.req.valid('param');
    await act(c).deletePermission(id, permissionId);
    return c.body(null, 204);
  });

  return app;
}

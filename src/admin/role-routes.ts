import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { z } from 'zod';
import { ADMIN_SCOPES } from '../accounts/admin-scopes';
import { NotFoundError } from '../accounts/errors';
import { getRole, listRoles } from '../accounts/role-store';
import type { IpRangeList } from '../limits/ip-ranges';
import { actionsOfRequest } from './acting-admin';
import type { AdminActionsDeps } from './admin-actions';
import type { AdminEnv, AdminPrincipal } from './admin-auth';
import { jsonBody, ownBody } from './json-body';
import { asksForOtherOrg, orgForNew } from './org-scope';
import {
  conflict,
  created,
  guarded,
  invalid,
  json,
  jsonBody as documentedBody,
  jsonBodyErrors,
  noContent,
  notFound,
  operation,
} from './operations';
import { validationProblems } from './problems';
import { RoleSchema, createRoleSchema, deleteRoleQuery, rolePath, roleQuery, roleView, updateRoleSchema } from './role-schemas';

export interface RoleRoutesDeps extends AdminActionsDeps {
  trustedProxies: IpRangeList;
}

const tags = ['Roles'];
const builtIn = 'The role is built in: it cannot be changed or deleted.';

/** The role operations, relative to /roles. */
const operations = {
  create: operation(ADMIN_SCOPES.create, {
    method: 'post',
    path: '/',
    operationId: 'createRole',
    tags,
    summary: 'Create a role: a named bundle of scopes',
    description: 'Accounts of its organization may then be given it (`roles`); they hold its scopes as well as their own.',
    request: { body: documentedBody(createRoleSchema) },
    responses: {
      201: created(RoleSchema, 'The new role.'),
      ...jsonBodyErrors,
      ...guarded,
      ...conflict('The organization has a role of this name already, or as many roles as it may (500).'),
    },
  }),
  list: operation(ADMIN_SCOPES.read, {
    method: 'get',
    path: '/',
    operationId: 'listRoles',
    tags,
    summary: 'An organization’s roles: the built-in ones, then its own by name',
    request: { query: roleQuery },
    responses: { 200: json(z.object({ items: z.array(RoleSchema) }), 'The roles.'), ...invalid, ...guarded },
  }),
  get: operation(ADMIN_SCOPES.read, {
    method: 'get',
    path: '/{name}',
    operationId: 'getRole',
    tags,
    summary: 'One role',
    request: { params: rolePath, query: roleQuery },
    responses: { 200: json(RoleSchema, 'The role.'), ...invalid, ...guarded, ...notFound('role') },
  }),
  update: operation(ADMIN_SCOPES.update, {
    method: 'patch',
    path: '/{name}',
    operationId: 'updateRole',
    tags,
    summary: 'Change a role’s description or scopes',
    description: 'The very next token of every account holding it follows, on every instance.',
    request: { params: rolePath, query: roleQuery, body: documentedBody(updateRoleSchema) },
    responses: {
      200: json(RoleSchema, 'The role as it now is.'),
      ...jsonBodyErrors,
      ...guarded,
      ...notFound('role'),
      ...conflict(builtIn),
    },
  }),
  delete: operation(ADMIN_SCOPES.delete, {
    method: 'delete',
    path: '/{name}',
    operationId: 'deleteRole',
    tags,
    summary: 'Delete a role',
    description: 'Refused while accounts hold it, unless `force=true`: then they lose it, and its scopes, at once.',
    request: { params: rolePath, query: deleteRoleQuery },
    responses: {
      204: noContent('Deleted.'),
      ...invalid,
      ...guarded,
      ...notFound('role'),
      ...conflict(`${builtIn} Or accounts hold it (the detail says how many) and \`force\` is not \`true\`.`),
    },
  }),
};

/**
 * The organization a role request concerns: an organization's admin works in its own only (another one's
 * roles do not exist for it); a platform admin in the one it names, by default its own.
 */
function orgOf(admin: AdminPrincipal, requested: string | undefined): string {
  if (asksForOtherOrg(admin, requested)) throw new NotFoundError('role');
  return requested ?? admin.orgId;
}

/**
 * CRUD of roles, mounted at /roles by the admin routes (after their authentication middleware). Each change
 * is audited with the admin as actor (admin-actions.ts).
 */
export function roleRoutes(deps: RoleRoutesDeps): OpenAPIHono<AdminEnv> {
  const ctx = deps.accounts;
  const app = new OpenAPIHono<AdminEnv>({ defaultHook: validationProblems });
  const act = (c: Context<AdminEnv>) => actionsOfRequest(c, deps);

  app.openapi(ownBody(app, operations.create), async (c) => {
    const input = await jsonBody(c, createRoleSchema);
    const orgId = orgForNew(c.get('admin'), input.org_id, 'roles');
    const role = await act(c).createRole({ orgId, name: input.name, description: input.description, scopes: input.scopes });
    const query = orgId === c.get('admin').orgId ? '' : `?org_id=${orgId}`;
    return c.json(roleView(role), 201, { Location: `/admin/v1/roles/${encodeURIComponent(role.name)}${query}` });
  });

  app.openapi(operations.list, async (c) => {
    const admin = c.get('admin');
    const requested = c.req.valid('query').org_id;
    // Another organization's roles do not exist for an organization's admin: not even the built-in ones.
    if (asksForOtherOrg(admin, requested)) return c.json({ items: [] }, 200);
    return c.json({ items: (await listRoles(ctx, { orgId: orgOf(admin, requested) })).map(roleView) }, 200);
  });

  app.openapi(operations.get, async (c) => {
    const orgId = orgOf(c.get('admin'), c.req.valid('query').org_id);
    return c.json(roleView(await getRole(ctx, orgId, c.req.valid('param').name)), 200);
  });

  app.openapi(ownBody(app, operations.update), async (c) => {
    const input = await jsonBody(c, updateRoleSchema);
    const orgId = orgOf(c.get('admin'), c.req.valid('query').org_id);
    const role = await act(c).updateRole(orgId, c.req.valid('param').name, { description: input.description, scopes: input.scopes }, input);
    return c.json(roleView(role), 200);
  });

  app.openapi(operations.delete, async (c) => {
    const query = c.req.valid('query');
    const orgId = orgOf(c.get('admin'), query.org_id);
    await act(c).deleteRole(orgId, c.req.valid('param').name, { force: query.force === 'true' });
    return c.body(null, 204);
  });

  return app;
}

import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from '../http/body-limit';
import type { z } from 'zod';
import { getAccount, listAccounts, type AccountWithSecrets } from '../accounts/accounts';
import { listClientKeys } from '../accounts/client-keys';
import { isUuid } from '../accounts/errors';
import { listAllSecrets, listSecrets } from '../accounts/secrets';
import { listAuditEvents } from '../audit/audit-events';
import type { AuditLog } from '../audit/audit-log';
import type { IpRangeList } from '../limits/ip-ranges';
import { checkAssignableRoles } from '../accounts/roles';
import { actionsOfRequest } from './acting-admin';
import { accountInScope, asksForOtherOrg, orgFilterOf, orgForNew, orgOfAccount } from './org-scope';
import { adminAuth, type AdminAuthDeps, type AdminEnv } from './admin-auth';
import { jsonBody, ownBody } from './json-body';
import { adminOperations, adminSecuritySchemes } from './operations';
import { accountView, auditEventView, clientKeyView, newSecretView, secretView, secretWithAccountView } from './presenters';
import { refuseNulInQuery } from './nul-input';
import { permissionRoutes } from './permission-routes';
import { roleRoutes } from './role-routes';
import { Problem, problemResponse, toProblem, validationProblems } from './problems';
import {
  accountFieldsOf,
  accountSchemas,
  auditEventsQuery,
  createKeySchema,
  createSecretSchema,
  updateKeySchema,
  updateSecretSchema,
} from './schemas';

export interface AdminRoutesDeps extends AdminAuthDeps {
  bodyLimitBytes: number;
  maxTokenTtlSeconds: number;
  defaultRateLimitPerMinute: number;
  audit: AuditLog;
  trustedProxies: IpRangeList;
}

/**
 * The admin REST API under /admin/v1. Each route: check scope, validate, call the domain, audit, present.
 * Each is declared in operations.ts, which validates its path and query (a failure becomes the same
 * problem+json as any other) and documents it in the OpenAPI document.
 */
export function adminRoutes(deps: AdminRoutesDeps): OpenAPIHono<AdminEnv> {
  const ctx = deps.accounts;
  const schemas = accountSchemas(deps.maxTokenTtlSeconds);
  const ops = adminOperations(schemas);
  const now = () => ctx.clock();
  const view = (a: AccountWithSecrets) => accountView(a, now(), deps.defaultRateLimitPerMinute);
  const app = new OpenAPIHono<AdminEnv>({ defaultHook: validationProblems });
  for (const [name, scheme] of Object.entries(adminSecuritySchemes(deps.adminAudience))) {
    app.openAPIRegistry.registerComponent('securitySchemes', name, scheme);
  }

  /** Every change lands in the audit trail, written before the admin is answered (admin-actions.ts). */
  const act = (c: Context<AdminEnv>) => actionsOfRequest(c, deps);

  const auditPage = async (c: Context<AdminEnv>, query: z.infer<typeof auditEventsQuery>) => {
    // Read-your-writes on this instance: what it has buffered is written before the query.
    await deps.audit.flush();
    const admin = c.get('admin');
    if (asksForOtherOrg(admin, query.org_id)) return c.json({ items: [], next_cursor: null }, 200);
    const page = await listAuditEvents(ctx.db, {
      orgId: orgFilterOf(admin, query.org_id),
      limit: query.limit,
      cursor: query.cursor,
      accountId: query.service_account_id,
      action: query.action,
      outcome: query.outcome,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
    });
    return c.json({ items: page.items.map(auditEventView), next_cursor: page.nextCursor }, 200);
  };

  app.onError((error, c) => {
    const problem = toProblem(error);
    if (problem) return problemResponse(problem);
    throw error;
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: deps.bodyLimitBytes,
      onError: () => problemResponse(new Problem(413, 'Payload too large', `the body limit is ${deps.bodyLimitBytes} bytes`)),
    }),
  );
  app.use('*', adminAuth(deps));
  app.use('*', refuseNulInQuery);
  app.route('/roles', roleRoutes(deps));
  // Another organization's account does not exist for an organization's admin (org-scope.ts).
  const inScope = accountInScope<AdminEnv>(ctx);
  app.use('/service-accounts/:id', inScope);
  app.use('/service-accounts/:id/*', inScope);

  app.openapi(ownBody(app, ops.createAccount), async (c) => {
    const input = await jsonBody(c, schemas.create);
    const admin = c.get('admin');
    const orgId = orgForNew(admin, input.org_id, 'accounts');
    if (input.roles) await checkAssignableRoles(ctx, orgId, input.roles, admin.platformWide);
    const created = await act(c).createAccount({ ...accountFieldsOf(input), name: input.name, orgId }, { ...input, org_id: orgId });
    const { account } = created;
    const secret = created.secret ? newSecretView(created.secret, now()) : null;
    return c.json({ ...view(created), secret }, 201, {
      Location: `/admin/v1/service-accounts/${account.id}`,
      'Cache-Control': 'no-store',
    });
  });

  app.openapi(ops.listAccounts, async (c) => {
    const query = c.req.valid('query');
    const admin = c.get('admin');
    if (asksForOtherOrg(admin, query.org_id)) return c.json({ items: [], next_cursor: null }, 200);
    const page = await listAccounts(ctx, { ...query, orgId: orgFilterOf(admin, query.org_id) });
    return c.json({ items: page.items.map(view), next_cursor: page.nextCursor }, 200);
  });

  app.openapi(ops.getAccount, async (c) => c.json(view(await getAccount(ctx, c.req.valid('param').id)), 200));

  app.openapi(ownBody(app, ops.updateAccount), async (c) => {
    const input = await jsonBody(c, schemas.update);
    if (input.roles) await checkAssignableRoles(ctx, await orgOfAccount(ctx, c.req.valid('param').id), input.roles, c.get('admin').platformWide);
    const updated = await act(c).updateAccount(c.req.valid('param').id, { ...accountFieldsOf(input), status: input.status }, input);
    return c.json(view(updated), 200);
  });

  app.openapi(ops.revokeAccount, async (c) => {
    const revoked = await act(c).revokeAccount(c.req.valid('param').id);
    return c.json(view(revoked), 200);
  });

  app.openapi(ops.deleteAccount, async (c) => {
    await act(c).deleteAccount(c.req.valid('param').id);
    return c.body(null, 204);
  });

  app.openapi(ops.accountAuditEvents, async (c) => {
    const query = c.req.valid('query');
    const accountId = c.req.valid('param').id;
    // The trail outlives the account: a deleted account's events stay listed here.
    if (!isUuid(accountId)) throw new Problem(404, 'Not found', 'service account not found');
    return auditPage(c, { ...query, service_account_id: accountId });
  });

  app.openapi(ownBody(app, ops.createSecret), async (c) => {
    const input = await jsonBody(c, createSecretSchema, { allowEmpty: true });
    const secret = await act(c).addSecret(c.req.valid('param').id, {
      description: input.description,
      expiresAt: input.expires_at ? new Date(input.expires_at) : undefined,
    });
    return c.json(newSecretView(secret, now()), 201, {
      Location: `/admin/v1/service-accounts/${secret.row.accountId}/secrets/${secret.row.id}`,
      'Cache-Control': 'no-store',
    });
  });

  app.openapi(ops.listSecrets, async (c) => {
    const page = await listSecrets(ctx, c.req.valid('param').id, c.req.valid('query'));
    return c.json({ items: page.items.map((r) => secretView(r, now())), next_cursor: page.nextCursor }, 200);
  });

  app.openapi(ownBody(app, ops.updateSecret), async (c) => {
    const input = await jsonBody(c, updateSecretSchema);
    const { id, secretId } = c.req.valid('param');
    const row = await act(c).setSecretStatus(id, secretId, input.status);
    return c.json(secretView(row, now()), 200);
  });

  app.openapi(ops.revokeSecret, async (c) => {
    const { id: accountId, secretId } = c.req.valid('param');
    await act(c).revokeSecret(accountId, secretId);
    return c.body(null, 204);
  });

  app.openapi(ownBody(app, ops.createKey), async (c) => {
    const input = await jsonBody(c, createKeySchema);
    const key = await act(c).addClientKey(c.req.valid('param').id, { jwk: input.jwk, description: input.description });
    return c.json(clientKeyView(key), 201, { Location: `/admin/v1/service-accounts/${key.accountId}/keys/${key.id}` });
  });

  app.openapi(ops.listKeys, async (c) =>
    c.json({ items: (await listClientKeys(ctx, c.req.valid('param').id)).map(clientKeyView) }, 200),
  );

  app.openapi(ownBody(app, ops.updateKey), async (c) => {
    const input = await jsonBody(c, updateKeySchema);
    const { id, keyId } = c.req.valid('param');
    const key = await act(c).setClientKeyStatus(id, keyId, input.status);
    return c.json(clientKeyView(key), 200);
  });

  app.openapi(ops.deleteKey, async (c) => {
    const { id, keyId } = c.req.valid('param');
    await act(c).deleteClientKey(id, keyId);
    return c.body(null, 204);
  });

  app.openapi(ops.listAllSecrets, async (c) => {
    const query = c.req.valid('query');
    const admin = c.get('admin');
    if (asksForOtherOrg(admin, query.org_id)) return c.json({ items: [], next_cursor: null }, 200);
    const page = await listAllSecrets(ctx, { ...query, orgId: orgFilterOf(admin, query.org_id) });
    return c.json({ items: page.items.map((s) => secretWithAccountView(s, now())), next_cursor: page.nextCursor }, 200);
  });

  app.openapi(ops.auditEvents, async (c) => auditPage(c, c.req.valid('query')));

  app.route('/service-accounts/:id/permissions', permissionRoutes(deps));

  return app;
}

import { Hono, type Context } from 'hono';
import { bodyLimit } from '../http/body-limit';
import type { z } from 'zod';
import {
  createAccount,
  deleteAccount,
  getAccount,
  listAccounts,
  revokeAccount,
  updateAccount,
  type AccountWithSecrets,
} from '../accounts/accounts';
import { ADMIN_SCOPES } from '../accounts/admin-scopes';
import { addClientKey, deleteClientKey, listClientKeys, setClientKeyStatus } from '../accounts/client-keys';
import { isUuid } from '../accounts/errors';
import { addSecret, listAllSecrets, listSecrets, revokeSecret, setSecretStatus } from '../accounts/secrets';
import { listAuditEvents } from '../audit/audit-events';
import type { AuditEvent, AuditLog } from '../audit/audit-log';
import { requestSource } from '../http/request-source';
import type { IpRangeList } from '../limits/ip-ranges';
import { adminAuth, requireScope, type AdminAuthDeps, type AdminEnv } from './admin-auth';
import { accountView, auditEventView, clientKeyView, newSecretView, secretView, secretWithAccountView } from './presenters';
import { Problem, fromZod, problemResponse, toProblem } from './problems';
import {
  accountSchemas,
  auditEventsQuery,
  createKeySchema,
  createSecretSchema,
  listAccountsQuery,
  listSecretsQuery,
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

type AdminChange = Pick<AuditEvent, 'action' | 'accountId' | 'clientId' | 'secretId' | 'details'>;

/** The admin REST API under /admin/v1. Each route: check scope, validate, call the domain, audit, present. */
export function adminRoutes(deps: AdminRoutesDeps): Hono<AdminEnv> {
  const ctx = deps.accounts;
  const schemas = accountSchemas(deps.maxTokenTtlSeconds);
  const now = () => ctx.clock();
  const view = (a: AccountWithSecrets) => accountView(a, now(), deps.defaultRateLimitPerMinute);
  const app = new Hono<AdminEnv>();

  /** Every change lands in the audit trail, written before the admin is answered. */
  const audited = async (c: Context<AdminEnv>, httpStatus: number, change: AdminChange) => {
    const source = requestSource(c, deps.trustedProxies);
    deps.audit.record({
      occurredAt: now(),
      outcome: 'success',
      actor: c.get('admin').clientId,
      sourceIp: source.ip,
      userAgent: source.userAgent,
      httpStatus,
      ...change,
    });
    await deps.audit.flush();
  };

  const auditPage = async (c: Context<AdminEnv>, query: z.infer<typeof auditEventsQuery>) => {
    // Read-your-writes on this instance: what it has buffered is written before the query.
    await deps.audit.flush();
    const page = await listAuditEvents(ctx.db, {
      limit: query.limit,
      cursor: query.cursor,
      accountId: query.service_account_id,
      action: query.action,
      outcome: query.outcome,
      from: query.from ? new Date(query.from) : undefined,
      to: query.to ? new Date(query.to) : undefined,
    });
    return c.json({ items: page.items.map(auditEventView), next_cursor: page.nextCursor });
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

  app.post('/service-accounts', requireScope(ADMIN_SCOPES.create), async (c) => {
    const input = await jsonBody(c, schemas.create);
    const created = await createAccount(ctx, {
      name: input.name,
      description: input.description,
      scopes: input.scopes,
      audiences: input.audiences,
      tokenTtlSeconds: input.token_ttl_seconds,
      rateLimitPerMinute: input.rate_limit_per_minute,
      allowedIps: input.allowed_ips,
      tokenEndpointAuthMethods: input.token_endpoint_auth_methods,
      requireDpop: input.require_dpop,
    });
    const { account } = created;
    await audited(c, 201, {
      action: 'service_account.created',
      accountId: account.id,
      clientId: account.clientId,
      secretId: created.secret?.row.id,
      details: { ...input, ...(created.secret ? { secret_prefix: created.secret.row.prefix } : {}) },
    });
    const secret = created.secret ? newSecretView(created.secret, now()) : null;
    return c.json({ ...view(created), secret }, 201, {
      Location: `/admin/v1/service-accounts/${account.id}`,
      'Cache-Control': 'no-store',
    });
  });

  app.get('/service-accounts', requireScope(ADMIN_SCOPES.read), async (c) => {
    const query = parseQuery(c, listAccountsQuery);
    const page = await listAccounts(ctx, query);
    return c.json({ items: page.items.map(view), next_cursor: page.nextCursor });
  });

  app.get('/service-accounts/:id', requireScope(ADMIN_SCOPES.read), async (c) =>
    c.json(view(await getAccount(ctx, c.req.param('id')))),
  );

  app.patch('/service-accounts/:id', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, schemas.update);
    const updated = await updateAccount(ctx, c.req.param('id'), {
      name: input.name,
      description: input.description,
      scopes: input.scopes,
      audiences: input.audiences,
      tokenTtlSeconds: input.token_ttl_seconds,
      rateLimitPerMinute: input.rate_limit_per_minute,
      allowedIps: input.allowed_ips,
      tokenEndpointAuthMethods: input.token_endpoint_auth_methods,
      requireDpop: input.require_dpop,
      status: input.status,
    });
    const { account } = updated;
    const action =
      input.status === 'disabled'
        ? 'service_account.disabled'
        : input.status === 'active'
          ? 'service_account.enabled'
          : 'service_account.updated';
    await audited(c, 200, { action, accountId: account.id, clientId: account.clientId, details: { changes: input } });
    return c.json(view(updated));
  });

  app.post('/service-accounts/:id/revoke', requireScope(ADMIN_SCOPES.update), async (c) => {
    const revoked = await revokeAccount(ctx, c.req.param('id'));
    const { account } = revoked;
    await audited(c, 200, {
      action: 'service_account.revoked',
      accountId: account.id,
      clientId: account.clientId,
      details: { name: account.name },
    });
    return c.json(view(revoked));
  });

  app.delete('/service-accounts/:id', requireScope(ADMIN_SCOPES.delete), async (c) => {
    const deleted = await deleteAccount(ctx, c.req.param('id'));
    await audited(c, 204, {
      action: 'service_account.deleted',
      accountId: deleted.id,
      clientId: deleted.clientId,
      details: { name: deleted.name },
    });
    return c.body(null, 204);
  });

  app.get('/service-accounts/:id/audit-events', requireScope(ADMIN_SCOPES.read), async (c) => {
    const query = parseQuery(c, auditEventsQuery);
    const accountId = c.req.param('id');
    // The trail outlives the account: a deleted account's events stay listed here.
    if (!isUuid(accountId)) throw new Problem(404, 'Not found', 'service account not found');
    return auditPage(c, { ...query, service_account_id: accountId });
  });

  app.post('/service-accounts/:id/secrets', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, createSecretSchema, { allowEmpty: true });
    const secret = await addSecret(ctx, c.req.param('id'), {
      description: input.description,
      expiresAt: input.expires_at ? new Date(input.expires_at) : undefined,
    });
    await audited(c, 201, {
      action: 'secret.created',
      accountId: secret.row.accountId,
      secretId: secret.row.id,
      details: { prefix: secret.row.prefix, expires_at: secret.row.expiresAt.toISOString() },
    });
    return c.json(newSecretView(secret, now()), 201, {
      Location: `/admin/v1/service-accounts/${secret.row.accountId}/secrets/${secret.row.id}`,
      'Cache-Control': 'no-store',
    });
  });

  app.get('/service-accounts/:id/secrets', requireScope(ADMIN_SCOPES.read), async (c) => {
    const query = parseQuery(c, listSecretsQuery);
    const page = await listSecrets(ctx, c.req.param('id'), query);
    return c.json({ items: page.items.map((r) => secretView(r, now())), next_cursor: page.nextCursor });
  });

  app.patch('/service-accounts/:id/secrets/:secretId', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, updateSecretSchema);
    const row = await setSecretStatus(ctx, c.req.param('id'), c.req.param('secretId'), input.status);
    await audited(c, 200, {
      action: input.status === 'active' ? 'secret.enabled' : 'secret.disabled',
      accountId: row.accountId,
      secretId: row.id,
      details: { prefix: row.prefix },
    });
    return c.json(secretView(row, now()));
  });

  app.delete('/service-accounts/:id/secrets/:secretId', requireScope(ADMIN_SCOPES.update), async (c) => {
    const accountId = c.req.param('id');
    const secretId = c.req.param('secretId');
    const row = await revokeSecret(ctx, accountId, secretId);
    await audited(c, 204, { action: 'secret.revoked', accountId, secretId, details: { prefix: row.prefix } });
    return c.body(null, 204);
  });

  app.post('/service-accounts/:id/keys', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, createKeySchema);
    const key = await addClientKey(ctx, c.req.param('id'), { jwk: input.jwk, description: input.description });
    await audited(c, 201, {
      action: 'key.created',
      accountId: key.accountId,
      details: { key_id: key.id, kid: key.kid, alg: key.alg, thumbprint: key.thumbprint },
    });
    return c.json(clientKeyView(key), 201, { Location: `/admin/v1/service-accounts/${key.accountId}/keys/${key.id}` });
  });

  app.get('/service-accounts/:id/keys', requireScope(ADMIN_SCOPES.read), async (c) =>
    c.json({ items: (await listClientKeys(ctx, c.req.param('id'))).map(clientKeyView) }),
  );

  app.patch('/service-accounts/:id/keys/:keyId', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, updateKeySchema);
    const key = await setClientKeyStatus(ctx, c.req.param('id'), c.req.param('keyId'), input.status);
    await audited(c, 200, {
      action: input.status === 'active' ? 'key.enabled' : 'key.disabled',
      accountId: key.accountId,
      details: { key_id: key.id, kid: key.kid },
    });
    return c.json(clientKeyView(key));
  });

  app.delete('/service-accounts/:id/keys/:keyId', requireScope(ADMIN_SCOPES.update), async (c) => {
    const key = await deleteClientKey(ctx, c.req.param('id'), c.req.param('keyId'));
    await audited(c, 204, { action: 'key.deleted', accountId: key.accountId, details: { key_id: key.id, kid: key.kid } });
    return c.body(null, 204);
  });

  app.get('/secrets', requireScope(ADMIN_SCOPES.read), async (c) => {
    const query = parseQuery(c, listSecretsQuery);
    const page = await listAllSecrets(ctx, query);
    return c.json({ items: page.items.map((s) => secretWithAccountView(s, now())), next_cursor: page.nextCursor });
  });

  app.get('/audit-events', requireScope(ADMIN_SCOPES.read), async (c) => auditPage(c, parseQuery(c, auditEventsQuery)));

  return app;
}

async function jsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  options: { allowEmpty?: boolean } = {},
): Promise<z.infer<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== '' || !options.allowEmpty) {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') {
      throw new Problem(415, 'Unsupported media type', 'send the body as application/json');
    }
    try {
      value = JSON.parse(text);
    } catch {
      throw new Problem(400, 'Invalid request', 'the body is not valid JSON');
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

function parseQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import {
  createAccount,
  deleteAccount,
  getAccount,
  listAccounts,
  revokeAccount,
  updateAccount,
} from '../accounts/accounts';
import { ADMIN_SCOPES } from '../accounts/admin-scopes';
import { addSecret, listSecrets, revokeSecret, setSecretStatus } from '../accounts/secrets';
import { adminAuth, requireScope, type AdminAuthDeps, type AdminEnv } from './admin-auth';
import { accountView, newSecretView, secretView } from './presenters';
import { Problem, fromZod, problemResponse, toProblem } from './problems';
import { accountSchemas, createSecretSchema, listAccountsQuery, updateSecretSchema } from './schemas';

export interface AdminRoutesDeps extends AdminAuthDeps {
  bodyLimitBytes: number;
  maxTokenTtlSeconds: number;
}

/** The admin REST API under /admin/v1. Each route: check scope, validate, call the domain, present. */
export function adminRoutes(deps: AdminRoutesDeps): Hono<AdminEnv> {
  const ctx = deps.accounts;
  const schemas = accountSchemas(deps.maxTokenTtlSeconds);
  const now = () => ctx.clock();
  const app = new Hono<AdminEnv>();

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
    });
    return c.json({ ...accountView(created, now()), secret: newSecretView(created.secret, now()) }, 201, {
      Location: `/admin/v1/service-accounts/${created.account.id}`,
      'Cache-Control': 'no-store',
    });
  });

  app.get('/service-accounts', requireScope(ADMIN_SCOPES.read), async (c) => {
    const query = parseQuery(c, listAccountsQuery);
    const page = await listAccounts(ctx, query);
    return c.json({ items: page.items.map((a) => accountView(a, now())), next_cursor: page.nextCursor });
  });

  app.get('/service-accounts/:id', requireScope(ADMIN_SCOPES.read), async (c) =>
    c.json(accountView(await getAccount(ctx, c.req.param('id')), now())),
  );

  app.patch('/service-accounts/:id', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, schemas.update);
    const updated = await updateAccount(ctx, c.req.param('id'), {
      name: input.name,
      description: input.description,
      scopes: input.scopes,
      audiences: input.audiences,
      tokenTtlSeconds: input.token_ttl_seconds,
      status: input.status,
    });
    return c.json(accountView(updated, now()));
  });

  app.post('/service-accounts/:id/revoke', requireScope(ADMIN_SCOPES.update), async (c) =>
    c.json(accountView(await revokeAccount(ctx, c.req.param('id')), now())),
  );

  app.delete('/service-accounts/:id', requireScope(ADMIN_SCOPES.delete), async (c) => {
    await deleteAccount(ctx, c.req.param('id'));
    return c.body(null, 204);
  });

  app.post('/service-accounts/:id/secrets', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, createSecretSchema, { allowEmpty: true });
    const secret = await addSecret(ctx, c.req.param('id'), {
      description: input.description,
      expiresAt: input.expires_at ? new Date(input.expires_at) : undefined,
    });
    return c.json(newSecretView(secret, now()), 201, {
      Location: `/admin/v1/service-accounts/${secret.row.accountId}/secrets/${secret.row.id}`,
      'Cache-Control': 'no-store',
    });
  });

  app.get('/service-accounts/:id/secrets', requireScope(ADMIN_SCOPES.read), async (c) => {
    const rows = await listSecrets(ctx, c.req.param('id'));
    return c.json({ items: rows.map((r) => secretView(r, now())) });
  });

  app.patch('/service-accounts/:id/secrets/:secretId', requireScope(ADMIN_SCOPES.update), async (c) => {
    const input = await jsonBody(c, updateSecretSchema);
    const row = await setSecretStatus(ctx, c.req.param('id'), c.req.param('secretId'), input.status);
    return c.json(secretView(row, now()));
  });

  app.delete('/service-accounts/:id/secrets/:secretId', requireScope(ADMIN_SCOPES.update), async (c) => {
    await revokeSecret(ctx, c.req.param('id'), c.req.param('secretId'));
    return c.body(null, 204);
  });

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

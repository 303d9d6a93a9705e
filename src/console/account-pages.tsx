import type { Context, Hono } from 'hono';
import { getAccount, listAccounts } from '../accounts/accounts';
import { ADMIN_SCOPES } from '../accounts/admin-scopes';
import { checkAssignableRoles } from '../accounts/roles';
import { accountInScope, orgFilterOf, orgForNew, orgOfAccount } from '../admin/org-scope';
import { listClientKeys } from '../accounts/client-keys';
import { ConflictError, InvalidFieldsError } from '../accounts/errors';
import { accountFieldsOf, accountSchemas, createSecretSchema, listAccountsQuery } from '../admin/schemas';
import { listAuditEvents } from '../audit/audit-events';
import { accountFormFrom, accountFormOf, emptyAccountForm, formErrorsOf, formErrorsOfZod, parseAccountForm, type FormErrors } from './account-form';
import { actionsOf, doneNotice, enabledStatus, field, formOf, need, notFound, PAGE_SIZE, type ConsoleDeps, type ConsoleEnv } from './console-context';
import { AccountPage } from './views/account';
import { AccountListPage, NewAccountPage, SecretShownPage } from './views/accounts';
import { ConfirmPage } from './views/messages';

/** The service-account pages: list, create, the account page with its secrets, and their actions. */
export function accountPages(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const ctx = deps.accounts;
  const schemas = accountSchemas(deps.maxTokenTtlSeconds);
  const now = () => ctx.clock();
  const act = (c: Context<ConsoleEnv>) => actionsOf(c, deps);

  // Another organization's account does not exist for an organization's admin (admin/org-scope.ts).
  const inScope = accountInScope<ConsoleEnv>(ctx);
  app.use('/accounts/:id', inScope);
  app.use('/accounts/:id/*', inScope);

  app.get('/accounts', async (c) => {
    need(c, ADMIN_SCOPES.read);
    const raw = c.req.query();
    const filters = { q: raw.q ?? '', status: raw.status ?? '', expiration: raw.expiration ?? '' };
    const parsed = listAccountsQuery.safeParse({
      limit: PAGE_SIZE,
      cursor: raw.cursor || undefined,
      status: filters.status || undefined,
      q: filters.q || undefined,
      expiration: filters.expiration || undefined,
    });
    const shared = {
      viewer: c.get('viewer'),
      filters,
      now: now(),
      expiringSoonDays: deps.expiringSoonDays,
      defaultRateLimit: deps.defaultRateLimitPerMinute,
      notice: doneNotice(c),
    };
    if (!parsed.success) {
      const errors = Object.entries(formErrorsOfZod(parsed.error)).map(([f, m]) => `${f}: ${m?.join('; ')}`);
      return c.html(<AccountListPage {...shared} items={[]} nextCursor={null} isFirstPage error={`Invalid filter: ${errors.join(', ')}`} />, 400);
    }
    const page = await listAccounts(ctx, { ...parsed.data, orgId: orgFilterOf(c.get('admin')) });
    return c.html(<AccountListPage {...shared} items={page.items} nextCursor={page.nextCursor} isFirstPage={!raw.cursor} />);
  });

  app.get('/accounts/new', (c) => {
    need(c, ADMIN_SCOPES.create);
    const values = { ...emptyAccountForm(), org_id: c.get('admin').orgId };
    return c.html(<NewAccountPage viewer={c.get('viewer')} values={values} errors={{}} defaultRateLimit={deps.defaultRateLimitPerMinute} />);
  });

  app.post('/accounts', async (c) => {
    need(c, ADMIN_SCOPES.create);
    const values = accountFormFrom(await formOf(c));
    const page = (errors: FormErrors, error?: string) => (
      <NewAccountPage viewer={c.get('viewer')} values={values} errors={errors} defaultRateLimit={deps.defaultRateLimitPerMinute} error={error} />
    );
    const parsed = parseAccountForm(schemas, 'create', values);
    if (!parsed.ok) return c.html(page(parsed.errors, 'Some fields are invalid.'), 400);
    try {
      const admin = c.get('admin');
      const orgId = orgForNew(admin, parsed.body.org_id, 'accounts');
      if (parsed.body.roles) await checkAssignableRoles(ctx, orgId, parsed.body.roles, admin.platformWide);
      const created = await act(c).createAccount({ ...accountFieldsOf(parsed.body), name: parsed.body.name, orgId }, { ...parsed.body, org_id: orgId });
      if (!created.secret) return c.redirect(`/console/accounts/${created.account.id}`, 303);
      return c.html(
        <SecretShownPage
          viewer={c.get('viewer')}
          title={`Service account ${created.account.name} created`}
          accountId={created.account.id}
          accountName={created.account.name}
          clientId={created.account.clientId}
          secret={created.secret.plaintext}
          prefix={created.secret.row.prefix}
          expiresAt={created.secret.row.expiresAt}
        />,
      );
    } catch (error) {
      if (error instanceof ConflictError) return c.html(page({ name: [error.message] }, error.message), 409);
      if (error instanceof InvalidFieldsError) return c.html(page(formErrorsOf(error.fields), 'Some fields are invalid.'), 400);
      throw error;
    }
  });

  const accountPage = async (c: Context<ConsoleEnv>, id: string, edit?: { values: ReturnType<typeof accountFormFrom>; errors: FormErrors; error?: string }) => {
    need(c, ADMIN_SCOPES.read);
    const data = await getAccount(ctx, id);
    await deps.audit.flush(); // read-your-writes: this instance's buffered events first
    const [keys, events] = await Promise.all([
      listClientKeys(ctx, id),
      listAuditEvents(ctx.db, { accountId: id, limit: 20 }),
    ]);
    return (
      <AccountPage
        viewer={c.get('viewer')}
        data={data}
        keys={keys}
        events={events.items}
        values={edit?.values ?? accountFormOf(data)}
        errors={edit?.errors ?? {}}
        error={edit?.error}
        notice={doneNotice(c)}
        now={now()}
        expiringSoonDays={deps.expiringSoonDays}
        defaultRateLimit={deps.defaultRateLimitPerMinute}
      />
    );
  };
  const backTo = (id: string, done: string) => `/console/accounts/${id}?done=${done}`;

  app.get('/accounts/:id', async (c) => c.html(await accountPage(c, c.req.param('id'))));

  app.post('/accounts/:id', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const id = c.req.param('id');
    const values = accountFormFrom(await formOf(c));
    const parsed = parseAccountForm(schemas, 'update', values);
    if (!parsed.ok) return c.html(await accountPage(c, id, { values, errors: parsed.errors, error: 'Some fields are invalid.' }), 400);
    try {
      if (parsed.body.roles) await checkAssignableRoles(ctx, await orgOfAccount(ctx, id), parsed.body.roles, c.get('admin').platformWide);
      await act(c).updateAccount(id, accountFieldsOf(parsed.body), parsed.body);
    } catch (error) {
      if (error instanceof ConflictError) return c.html(await accountPage(c, id, { values, errors: { name: [error.message] }, error: error.message }), 409);
      if (error instanceof InvalidFieldsError) {
        return c.html(await accountPage(c, id, { values, errors: formErrorsOf(error.fields), error: 'Some fields are invalid.' }), 400);
      }
      throw error;
    }
    return c.redirect(backTo(id, 'updated'), 303);
  });

  app.post('/accounts/:id/status', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const id = c.req.param('id');
    const status = enabledStatus(field(await formOf(c), 'status'));
    await act(c).updateAccount(id, { status }, { status });
    return c.redirect(backTo(id, status === 'active' ? 'enabled' : 'disabled'), 303);
  });

  const confirm = (c: Context<ConsoleEnv>, what: { action: string; question: string; consequence: string; confirmLabel: string; cancel: string }) =>
    c.html(<ConfirmPage viewer={c.get('viewer')} {...what} />);

  app.get('/accounts/:id/revoke', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const { account } = await getAccount(ctx, c.req.param('id'));
    const base = `/console/accounts/${account.id}`;
    return confirm(c, {
      action: `${base}/revoke`,
      question: `Revoke service account ${account.name}?`,
      consequence: 'It will never get a token again and can no longer be changed. This cannot be undone.',
      confirmLabel: 'Revoke account',
      cancel: base,
    });
  });

  app.post('/accounts/:id/revoke', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const { account } = await act(c).revokeAccount(c.req.param('id'));
    return c.redirect(backTo(account.id, 'revoked'), 303);
  });

  app.get('/accounts/:id/delete', async (c) => {
    need(c, ADMIN_SCOPES.delete);
    const { account } = await getAccount(ctx, c.req.param('id'));
    const base = `/console/accounts/${account.id}`;
    return confirm(c, {
      action: `${base}/delete`,
      question: `Delete service account ${account.name}?`,
      consequence: 'The account, its secrets and its keys are removed for good. This cannot be undone.',
      confirmLabel: 'Delete service account',
      cancel: base,
    });
  });

  app.post('/accounts/:id/delete', async (c) => {
    need(c, ADMIN_SCOPES.delete);
    await act(c).deleteAccount(c.req.param('id'));
    return c.redirect('/console/accounts?done=deleted', 303);
  });

  // Secrets

  app.post('/accounts/:id/secrets', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const id = c.req.param('id');
    const body = await formOf(c);
    const expiresOn = field(body, 'expires_on').trim();
    const parsed = createSecretSchema.safeParse({
      description: field(body, 'description'),
      // A date picked in the form: the secret works through that whole day (UTC).
      ...(expiresOn ? { expires_at: /^\d{4}-\d{2}-\d{2}$/.test(expiresOn) ? `${expiresOn}T23:59:59Z` : expiresOn } : {}),
    });
    const refused = async (errors: FormErrors) =>
      c.html(
        await accountPage(c, id, {
          values: accountFormOf(await getAccount(ctx, id)),
          errors: {},
          error: `The secret was not added: ${Object.entries(errors).map(([f, m]) => `${f === 'expires_at' ? 'expiry date' : f} ${m?.join('; ')}`).join(', ')}`,
        }),
        400,
      );
    if (!parsed.success) return refused(formErrorsOfZod(parsed.error));
    let secret;
    try {
      secret = await act(c).addSecret(id, {
        description: parsed.data.description,
        expiresAt: parsed.data.expires_at ? new Date(parsed.data.expires_at) : undefined,
      });
    } catch (error) {
      if (error instanceof InvalidFieldsError) return refused(formErrorsOf(error.fields));
      throw error;
    }
    const { account } = await getAccount(ctx, id);
    return c.html(
      <SecretShownPage
        viewer={c.get('viewer')}
        title={`New secret for ${account.name}`}
        accountId={account.id}
        accountName={account.name}
        clientId={account.clientId}
        secret={secret.plaintext}
        prefix={secret.row.prefix}
        expiresAt={secret.row.expiresAt}
      />,
    );
  });

  app.post('/accounts/:id/secrets/:secretId/status', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const { id, secretId } = c.req.param();
    const status = enabledStatus(field(await formOf(c), 'status'));
    await act(c).setSecretStatus(id, secretId, status);
    return c.redirect(backTo(id, status === 'active' ? 'secret-enabled' : 'secret-disabled'), 303);
  });

  app.get('/accounts/:id/secrets/:secretId/revoke', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const { id, secretId } = c.req.param();
    const { account, secrets } = await getAccount(ctx, id);
    const secret = secrets.find((s) => s.id === secretId);
    if (!secret) return notFound(c, 'No such secret.');
    const base = `/console/accounts/${account.id}`;
    return confirm(c, {
      action: `${base}/secrets/${secret.id}/revoke`,
      question: `Revoke secret ${secret.prefix}… of ${account.name}?`,
      consequence: 'Clients using it are refused from the next request on. This cannot be undone.',
      confirmLabel: 'Revoke secret',
      cancel: base,
    });
  });

  app.post('/accounts/:id/secrets/:secretId/revoke', async (c) => {
    need(c, ADMIN_SCOPES.update);
    const { id, secretId } = c.req.param();
    await act(c).revokeSecret(id, secretId);
    return c.redirect(backTo(id, 'secret-revoked'), 303);
  });
}

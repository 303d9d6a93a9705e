import type { Hono } from 'hono';
import { findAccountByClientId } from '../accounts/accounts';
import { ADMIN_SCOPES } from '../accounts/admin-scopes';
import { isUuid } from '../accounts/errors';
import { auditEventsQuery } from '../admin/schemas';
import { listAuditEvents } from '../audit/audit-events';
import { orgFilterOf } from '../admin/org-scope';
import { formErrorsOfZod } from './account-form';
import { need, PAGE_SIZE, type ConsoleDeps, type ConsoleEnv } from './console-context';
import { AuditPage } from './views/audit';

/** The audit log page: the trail, newest first, filtered by account, action, outcome and time. */
export function auditPages(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const ctx = deps.accounts;

  app.get('/audit', async (c) => {
    need(c, ADMIN_SCOPES.read);
    const raw = c.req.query();
    const filters = { account: raw.account ?? '', action: raw.action ?? '', outcome: raw.outcome ?? '', from: raw.from ?? '', to: raw.to ?? '' };
    const page = (events: Parameters<typeof AuditPage>[0]['events'], nextCursor: string | null, error?: string) => (
      <AuditPage viewer={c.get('viewer')} events={events} filters={filters} nextCursor={nextCursor} isFirstPage={!raw.cursor} error={error} />
    );
    // The account by id or client ID; one that does not exist simply has no events.
    let accountId: string | undefined;
    const account = filters.account.trim();
    if (account) {
      accountId = isUuid(account) ? account : (await findAccountByClientId(ctx, account))?.id;
      if (!accountId) return c.html(page([], null));
    }
    // datetime-local inputs send "YYYY-MM-DDTHH:MM": read as UTC.
    const instant = (value: string) => (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value) ? `${value}:00Z` : value || undefined);
    const parsed = auditEventsQuery.safeParse({
      limit: PAGE_SIZE,
      cursor: raw.cursor || undefined,
      service_account_id: accountId,
      action: filters.action.trim() || undefined,
      outcome: filters.outcome || undefined,
      from: instant(filters.from),
      to: instant(filters.to),
    });
    if (!parsed.success) {
      const errors = Object.entries(formErrorsOfZod(parsed.error)).map(([f, m]) => `${f}: ${m?.join('; ')}`);
      return c.html(page([], null, `Invalid filter: ${errors.join(', ')}`), 400);
    }
    await deps.audit.flush();
    const q = parsed.data;
    const events = await listAuditEvents(ctx.db, {
      orgId: orgFilterOf(c.get('admin')),
      limit: q.limit,
      cursor: q.cursor,
      accountId: q.service_account_id,
      action: q.action,
      outcome: q.outcome,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
    });
    return c.html(page(events.items, events.nextCursor));
  });
}

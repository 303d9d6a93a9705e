import { and, eq, gte, lt, lte, type SQL } from 'drizzle-orm';
import { descNullsLast, keysetAfter } from '../db/order';
import { decodeCursor, encodeCursor } from '../accounts/cursor';
import type { Database } from '../db/connect';
import { auditEvents, type AuditEventRow } from '../db/schema';

export interface AuditQuery {
  limit: number;
  /** Only events about this organization's accounts. */
  orgId?: string | undefined;
  cursor?: string | undefined;
  accountId?: string | undefined;
  action?: string | undefined;
  outcome?: 'success' | 'failure' | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
}

/** Newest first, keyset-paginated on (occurred_at, id); each filter is served by an index. */
export async function listAuditEvents(
  db: Database,
  query: AuditQuery,
): Promise<{ items: AuditEventRow[]; nextCursor: string | null }> {
  const conditions: SQL[] = [];
  if (query.orgId !== undefined) conditions.push(eq(auditEvents.orgId, query.orgId));
  if (query.accountId) conditions.push(eq(auditEvents.accountId, query.accountId));
  if (query.action) conditions.push(eq(auditEvents.action, query.action));
  if (query.outcome) conditions.push(eq(auditEvents.outcome, query.outcome));
  if (query.from) conditions.push(gte(auditEvents.occurredAt, query.from));
  if (query.to) conditions.push(lte(auditEvents.occurredAt, query.to));
  if (query.cursor) {
    const after = decodeCursor(query.cursor, 'integer');
    conditions.push(keysetAfter('desc', auditEvents.occurredAt, auditEvents.id, after));
  }
  const rows = await db
    .select()
    .from(auditEvents)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(descNullsLast(auditEvents.occurredAt), descNullsLast(auditEvents.id))
    .limit(query.limit + 1);
  const items = rows.slice(0, query.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.occurredAt, last.id) : null };
}

/** Deletes events older than `before`; returns how many. */
export async function purgeAuditEvents(db: Database, before: Date): Promise<number> {
  const deleted = await db
    .delete(auditEvents)
    .where(lt(auditEvents.occurredAt, before))
    .returning({ id: auditEvents.id });
  return deleted.length;
}

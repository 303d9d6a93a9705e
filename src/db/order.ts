import { sql, type AnyColumn, type SQL } from 'drizzle-orm';

/**
 * Descending order that matches our `DESC NULLS LAST` indexes (drizzle's default for `.desc()` in an index).
 * Plain `DESC` means NULLS FIRST in PostgreSQL, which no such index serves: every page would sort the table.
 */
export const descNullsLast = (column: AnyColumn): SQL => sql`${column} desc nulls last`;

/**
 * The keyset condition of the page after the row (at, id), for an order by (timestamp, id): a row comparison
 * `(t, id) < (at, id)` (or `>` ascending), which PostgreSQL turns into one range of a (t, id) index. The
 * equivalent `t < at or (t = at and id < id)` is not an index range: the planner filters the whole index.
 */
export function keysetAfter(
  order: 'asc' | 'desc',
  timestamp: AnyColumn,
  id: AnyColumn,
  after: { at: Date; id: string | number },
): SQL {
  const afterId = typeof after.id === 'number' ? sql`${after.id}::bigint` : sql`${after.id}::uuid`;
  const op = sql.raw(order === 'desc' ? '<' : '>');
  return sql`(${timestamp}, ${id}) ${op} (${after.at.toISOString()}::timestamptz, ${afterId})`;
}

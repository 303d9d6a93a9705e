import { sql, type AnyColumn, type SQL } from 'drizzle-orm';

/**
 * Descending order that matches our `DESC NULLS LAST` indexes (drizzle's default for `.desc()` in an index).
 * Plain `DESC` means NULLS FIRST in PostgreSQL, which no such index serves: every page would sort the table.
 */
export const descNullsLast = (column: AnyColumn): SQL => sql`${column} desc nulls last`;

/** What the CLI writes: one JSON document for scripts, or aligned text for people. */

/** The one JSON document of a --json command, on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A table with a header row, columns separated by two spaces, trailing blanks trimmed. */
export function printTable(header: string[], rows: string[][]): void {
  const table = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  for (const row of table) {
    process.stdout.write(`${row.map((cell, i) => (cell ?? '').padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  }
}

/** `label  value` lines, labels aligned; null and empty values show as "-". */
export function printFields(fields: Array<[string, string | number | boolean | null | undefined]>): void {
  const width = Math.max(...fields.map(([label]) => label.length));
  for (const [label, value] of fields) {
    const text = value === null || value === undefined || value === '' ? '-' : String(value);
    process.stdout.write(`${label.padEnd(width)}  ${text}\n`);
  }
}

/** A note for the person at the terminal: stderr, so that stdout stays what scripts parse. */
export function note(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A list for a table cell: "a b c", or "-" when empty. */
export const listCell = (values: readonly string[]) => (values.length ? values.join(' ') : '-');

/** An ISO date-time shortened to the second for tables ("2026-06-01 12:00:00Z"), or "-". */
export const timeCell = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

/**
 * Text an operator typed, safe to repeat in a message: a value that looks like a client secret is never
 * echoed (it would end up in terminal scrollback and logs), and long or odd values are cut.
 */
export function quoteArg(value: string): string {
  if (/^ccs_/i.test(value) || value.length > 200) return '(the value given)';
  return JSON.stringify(value);
}

/**
 * Runs `work`, telling stderr what it is doing when it takes longer than a second (opening PGlite can take
 * several), so the person at the terminal does not think the command hangs.
 */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  let shown = false;
  const timer = setTimeout(() => {
    shown = true;
    process.stderr.write(`${label}…\n`);
  }, 1000);
  try {
    const result = await work();
    if (shown) process.stderr.write(`${label}: done\n`);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The message of an error, safe for stderr. A database error from drizzle carries the query's parameters
 * (a new secret's hash, say) in its message: only the database's own message is shown.
 */
export function errorMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  if ('params' in error && 'query' in error) {
    return `database query failed${error.cause instanceof Error ? `: ${error.cause.message}` : ''}`;
  }
  return error.message;
}

import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Fields censored wherever they appear at the top level or one level down (and in `req.headers`). A safety
 * net only: nothing here logs request headers or bodies in the first place (see http/request-log.ts).
 */
const SENSITIVE = ['authorization', 'dpop', 'cookie', 'client_secret', 'client_assertion', 'access_token', 'token', 'secret'];
export const REDACTED_PATHS = [
  ...SENSITIVE,
  ...SENSITIVE.map((key) => `*.${key}`),
  ...['authorization', 'dpop', 'cookie'].map((key) => `req.headers.${key}`),
];

/** The service's logger: JSON lines (on stdout unless `destination` is given), at `level`, with redaction. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = { level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}

/**
 * An error as it may be logged. A database error's message carries the failed query's parameters (drizzle
 * appends `params: …`), which can be an argon2 hash or a client's input, and PostgreSQL quotes the offending
 * value in its own message (`invalid input syntax for type uuid: "…"`): log the query text, the SQLSTATE
 * code and the database's message with every quoted part blanked, never a value.
 */
export function loggableError(error: unknown): { name: string; message: string; code?: string; stack?: string } {
  if (!(error instanceof Error)) return { name: typeof error, message: 'non-Error thrown' };
  const message = error.message.split(/\nparams: /)[0] ?? '';
  const cause = error.cause as { message?: unknown; code?: unknown } | undefined;
  const reason = typeof cause?.message === 'string' ? `: ${cause.message.replace(/"[^"]*"/g, '"…"')}` : '';
  return {
    name: error.name,
    message: `${message}${reason}`,
    ...(typeof cause?.code === 'string' ? { code: cause.code } : {}),
    ...(error.stack ? { stack: error.stack.split('\n').filter((line) => line.startsWith('    at ')).join('\n') } : {}),
  };
}

/** A command line the CLI cannot make sense of: exit status 2, with a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** UsageError, or one of node:util parseArgs' errors (unknown option, missing value, stray argument). */
export function isUsageError(error: unknown): error is Error {
  if (error instanceof UsageError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

import type { z } from 'zod';
import { findAccountByClientId, getAccount, type AccountWithSecrets } from '../accounts/accounts';
import { accountView } from '../admin/presenters';
import type { Config } from '../config';
import type { AccountsContext } from '../accounts/context';
import { NotFoundError, isUuid } from '../accounts/errors';
import { quoteArg } from './output';
import { UsageError } from './usage';

/**
 * The account an operator names on the command line: by its id (a UUID) or by its client_id. Throws
 * NotFoundError (exit status 1) when there is none.
 */
export async function findAccountByRef(ctx: AccountsContext, ref: string): Promise<AccountWithSecrets> {
  if (isUuid(ref)) {
    try {
      return await getAccount(ctx, ref.toLowerCase());
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      // An operator-chosen client_id (BOOTSTRAP_ADMIN_CLIENT_ID) may look like a UUID.
    }
  }
  const byClientId = await findAccountByClientId(ctx, ref);
  if (byClientId) return getAccount(ctx, byClientId.id);
  // NotFoundError appends " not found".
  throw new NotFoundError(`service account with id or client_id ${quoteArg(ref)}`);
}

/** A secret's id as an operator gives it: a UUID from `secrets list`, never the secret itself. */
export function secretIdArg(value: string, usage: string): string {
  if (/^ccs_/i.test(value)) {
    throw new UsageError('that is a client secret, not its id: pass the ID shown by secrets list (and rotate a secret that was typed into a shell)', usage);
  }
  if (!isUuid(value)) throw new UsageError(`SECRET_ID must be a secret's id (a UUID, see secrets list), not ${quoteArg(value)}`, usage);
  return value.toLowerCase();
}

/** Validation problems of a request body built from flags, named by the flags: a usage error. */
export function flagProblems(error: z.ZodError, flagOf: Record<string, string>, usage: string): UsageError {
  const lines = error.issues.map((issue) => {
    const [field, index] = issue.path;
    const flag = flagOf[String(field)] ?? String(field);
    return `${flag}${typeof index === 'number' ? ` (value ${index + 1})` : ''}: ${issue.message}`;
  });
  return new UsageError(lines.join('\n  '), usage);
}

/** An account as the admin API shows it (the default rate limit filled in): what --json prints. */
export const accountViewOf = (config: Config) => (a: AccountWithSecrets) =>
  accountView(a, new Date(), config.rateLimitPerMinute);

import { InvalidFieldsError } from '../accounts/errors';
import { addSecret, listSecrets, revokeSecret, setSecretStatus } from '../accounts/secrets';
import { newSecretView, secretView } from '../admin/presenters';
import { createSecretSchema } from '../admin/schemas';
import type { ClientSecretRow } from '../db/schema';
import { loadConfig } from '../config';
import { findAccountByRef, flagProblems, secretIdArg } from './account-ref';
import { withCliContext } from './cli-context';
import { note, printFields, printJson, printTable, timeCell } from './output';
import { choiceFlag, parseCommand, runGroup, UsageError } from './usage';

const ACCOUNT = 'ACCOUNT';

const CREATE = {
  usage: `usage: secrets create ${ACCOUNT} [--expires-at ISO] [--description D] [--json]\n`,
  help: `usage: npm run cli -- secrets create ${ACCOUNT} [--expires-at ISO] [--description D] [--json]

Adds a client secret to an account (ACCOUNT: its id or client_id) and prints it on stdout. The secret is
shown this once (a warning on stderr says so): store it now. The account's other secrets keep working: move
its clients to the new one, then disable or revoke the old one.
  --expires-at ISO   when it expires, e.g. 2027-01-31T00:00:00Z (default: SECRET_TTL_DAYS from now)
  --description D
  --json             the secret as POST /admin/v1/service-accounts/{id}/secrets answers: the secret is .secret
Refused (exit 1) for a revoked account, or one already holding MAX_ACTIVE_SECRETS active secrets.
Recorded in the audit trail (actor cli:<user>).
`,
  options: { 'expires-at': { type: 'string' }, description: { type: 'string' }, json: { type: 'boolean' } },
  operands: { min: 1, max: 1, what: `one ${ACCOUNT}` },
} as const;

const LIST = {
  usage: `usage: secrets list ${ACCOUNT} [--status active|disabled|revoked|expired] [--json]\n`,
  help: `usage: npm run cli -- secrets list ${ACCOUNT} [--status active|disabled|revoked|expired] [--json]

An account's secrets, newest first: id, prefix, status and dates. Never a secret: only its argon2 hash is
stored, and not shown either.
  --status S   only secrets in this state (expired: past expires_at and not revoked)
  --json       a JSON array of secrets, as GET /admin/v1/service-accounts/{id}/secrets shows them
`,
  options: { status: { type: 'string' }, json: { type: 'boolean' } },
  operands: { min: 1, max: 1, what: `one ${ACCOUNT}` },
} as const;

const change = (verb: string, what: string) =>
  ({
    usage: `usage: secrets ${verb} ${ACCOUNT} SECRET_ID [--json]\n`,
    help: `usage: npm run cli -- secrets ${verb} ${ACCOUNT} SECRET_ID [--json]

${what}
SECRET_ID is the id shown by \`secrets list\` (never the secret itself). Running instances drop the
account's cached credentials before this command returns. Recorded in the audit trail (actor cli:<user>).
  --json   the secret's metadata afterwards
`,
    options: { json: { type: 'boolean' } },
    operands: { min: 2, max: 2, what: `${ACCOUNT} and SECRET_ID` },
  }) as const;

const REVOKE = change('revoke', 'Revokes a secret for good: it never gets a token again. Revoking twice is harmless.');
const DISABLE = change('disable', 'Disables a secret: it gets no token until enabled again (e.g. during a rotation).');
const ENABLE = change(
  'enable',
  'Enables a disabled secret again (refused for a revoked one, or when the account holds MAX_ACTIVE_SECRETS).',
);

const HELP = `usage: npm run cli -- secrets <command> [options]

  secrets create ${ACCOUNT} [--expires-at ISO] [--json]   a new secret, printed once
  secrets list ${ACCOUNT} [--status S] [--json]           ids, prefixes, status and dates; never a secret
  secrets disable ${ACCOUNT} SECRET_ID                    no tokens with it until enabled
  secrets enable ${ACCOUNT} SECRET_ID                     enable a disabled secret
  secrets revoke ${ACCOUNT} SECRET_ID                     no tokens with it, for good

\`secrets <command> --help\` says more. ${ACCOUNT}: the account's id (UUID) or client_id.
Exit status: 0 done, 1 failed (not found, refused), 2 bad usage or configuration.
`;

export function secretsCommand(args: string[]): Promise<number> {
  return runGroup('secrets', HELP, { create, list, revoke, disable, enable }, args);
}

async function create(args: string[]): Promise<number> {
  const parsed = parseCommand(args, CREATE);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const checked = createSecretSchema.safeParse({
    ...(values['expires-at'] !== undefined ? { expires_at: values['expires-at'] } : {}),
    ...(values.description !== undefined ? { description: values.description } : {}),
  });
  if (!checked.success) {
    throw flagProblems(checked.error, { expires_at: '--expires-at', description: '--description' }, CREATE.usage);
  }
  const input = checked.data;
  const secret = await withCliContext(loadConfig(), async (cli) => {
    const { account } = await findAccountByRef(cli.accounts, positionals[0]!);
    const added = await addSecret(cli.accounts, account.id, {
      description: input.description,
      expiresAt: input.expires_at ? new Date(input.expires_at) : undefined,
    }).catch((error: unknown) => {
      // expires_at in the past, or past year 9999: the flag's fault.
      if (error instanceof InvalidFieldsError) {
        throw new UsageError(error.fields.map((f) => `--expires-at: ${f.message}`).join('\n  '), CREATE.usage);
      }
      throw error;
    });
    await cli.audit({
      action: 'secret.created',
      accountId: account.id,
      clientId: account.clientId,
      secretId: added.row.id,
      details: { prefix: added.row.prefix, expires_at: added.row.expiresAt.toISOString() },
    });
    return { added, clientId: account.clientId };
  });
  const view = newSecretView(secret.added, new Date());
  if (values.json) printJson(view);
  else {
    printFields([
      ['client_id', secret.clientId],
      ['client_secret', view.secret],
      ['secret_id', view.id],
      ['expires', view.expires_at],
    ]);
  }
  note('warning: the client secret is shown this once and cannot be shown again: store it now.');
  return 0;
}

async function list(args: string[]): Promise<number> {
  const parsed = parseCommand(args, LIST);
  if (!parsed) return 0;
  const { values, positionals } = parsed;
  const status = choiceFlag(values.status, '--status', ['active', 'disabled', 'revoked', 'expired'], LIST.usage);
  const rows = await withCliContext(loadConfig(), async (cli) => {
    const { account } = await findAccountByRef(cli.accounts, positionals[0]!);
    const found: ClientSecretRow[] = [];
    let cursor: string | undefined;
    do {
      const page = await listSecrets(cli.accounts, account.id, { limit: 100, cursor, status });
      found.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return found;
  });
  const now = new Date();
  const views = rows.map((r) => secretView(r, now));
  if (values.json) printJson(views);
  else if (views.length === 0) note('no secrets match');
  else printSecretsTable(views);
  return 0;
}

function changeCommand(spec: typeof REVOKE, action: 'revoke' | 'disable' | 'enable') {
  return async (args: string[]): Promise<number> => {
    const parsed = parseCommand(args, spec);
    if (!parsed) return 0;
    const secretId = secretIdArg(parsed.positionals[1]!, spec.usage);
    const row = await withCliContext(loadConfig(), async (cli) => {
      const { account } = await findAccountByRef(cli.accounts, parsed.positionals[0]!);
      const changed =
        action === 'revoke'
          ? await revokeSecret(cli.accounts, account.id, secretId)
          : await setSecretStatus(cli.accounts, account.id, secretId, action === 'enable' ? 'active' : 'disabled');
      await cli.audit({
        action: action === 'revoke' ? 'secret.revoked' : action === 'enable' ? 'secret.enabled' : 'secret.disabled',
        accountId: account.id,
        clientId: account.clientId,
        secretId,
        details: { prefix: changed.prefix },
      });
      return changed;
    });
    const view = secretView(row, new Date());
    if (parsed.values.json) printJson(view);
    else process.stdout.write(`${action === 'enable' ? 'enabled' : `${action}d`} secret ${view.id} (${view.prefix}…): now ${view.status}\n`);
    return 0;
  };
}

const revoke = changeCommand(REVOKE, 'revoke');
const disable = changeCommand(DISABLE, 'disable');
const enable = changeCommand(ENABLE, 'enable');

/** Secrets' metadata as a table: never a secret (there is none to show: only hashes are stored). */
export function printSecretsTable(
  secrets: Array<{ id: string; prefix: string; status: string; expires_at: string | null; created_at: string | null; last_used_at: string | null; description: string }>,
): void {
  printTable(
    ['SECRET ID', 'PREFIX', 'STATUS', 'EXPIRES', 'CREATED', 'LAST USED', 'DESCRIPTION'],
    secrets.map((s) => [
      s.id,
      s.prefix,
      s.status,
      timeCell(s.expires_at),
      timeCell(s.created_at),
      timeCell(s.last_used_at),
      s.description,
    ]),
  );
}

import { deleteAccount, revokeAccount, updateAccount } from '../accounts/accounts';
import { loadConfig } from '../config';
import { accountViewOf, findAccountByRef } from './account-ref';
import { withCliContext } from './cli-context';
import { printJson } from './output';
import { parseCommand, UsageError } from './usage';

/** `accounts disable|enable|revoke|delete`: the changes of an account's status, each audited and announced. */

const REF = 'ID|CLIENT_ID';

const statusChange = (verb: string, what: string) =>
  ({
    usage: `usage: accounts ${verb} ${REF} [--json]\n`,
    help: `usage: npm run cli -- accounts ${verb} ${REF} [--json]

${what}
Running instances drop the account from their caches before this command returns (NOTIFY). Recorded in
the audit trail (actor cli:<user>).
  --json   the account afterwards, as the admin API shows it
`,
    options: { json: { type: 'boolean' } },
    operands: { min: 1, max: 1, what: `one ${REF}` },
  }) as const;

const DISABLE = statusChange(
  'disable',
  'Disables a service account: none of its credentials gets a token until it is enabled again.',
);
const ENABLE = statusChange('enable', 'Enables a disabled service account again. A revoked account stays revoked.');
const REVOKE = statusChange(
  'revoke',
  'Revokes a service account for good (as POST /admin/v1/service-accounts/{id}/revoke): it never gets a token\n' +
    'again and can no longer be changed. It stays listed, with its audit trail; `accounts delete` removes it.',
);

const DELETE = {
  usage: `usage: accounts delete ${REF} --yes [--json]\n`,
  help: `usage: npm run cli -- accounts delete ${REF} --yes [--json]

Deletes a service account and its secrets, for good; its audit events stay. Needs --yes.
Running instances drop it from their caches before this command returns. Recorded in the audit trail.
  --json   {"id", "client_id", "name"} of what was deleted
`,
  options: { yes: { type: 'boolean' }, json: { type: 'boolean' } },
  operands: { min: 1, max: 1, what: `one ${REF}` },
} as const;

function setStatus(spec: typeof DISABLE, status: 'active' | 'disabled') {
  return async (args: string[]): Promise<number> => {
    const parsed = parseCommand(args, spec);
    if (!parsed) return 0;
    const config = loadConfig();
    const updated = await withCliContext(config, async (cli) => {
      const { account } = await findAccountByRef(cli.accounts, parsed.positionals[0]!);
      const result = await updateAccount(cli.accounts, account.id, { status });
      await cli.audit({
        action: status === 'disabled' ? 'service_account.disabled' : 'service_account.enabled',
        accountId: result.account.id,
        clientId: result.account.clientId,
        details: { changes: { status } },
      });
      return result;
    });
    if (parsed.values.json) printJson(accountViewOf(config)(updated));
    else {
      const verb = status === 'disabled' ? 'disabled' : 'enabled';
      process.stdout.write(`${verb} service account ${updated.account.name} (${updated.account.clientId})\n`);
    }
    return 0;
  };
}

export const disable = setStatus(DISABLE, 'disabled');
export const enable = setStatus(ENABLE, 'active');

export async function revoke(args: string[]): Promise<number> {
  const parsed = parseCommand(args, REVOKE);
  if (!parsed) return 0;
  const config = loadConfig();
  const revoked = await withCliContext(config, async (cli) => {
    const { account } = await findAccountByRef(cli.accounts, parsed.positionals[0]!);
    const result = await revokeAccount(cli.accounts, account.id);
    await cli.audit({
      action: 'service_account.revoked',
      accountId: result.account.id,
      clientId: result.account.clientId,
      details: { name: result.account.name },
    });
    return result;
  });
  if (parsed.values.json) printJson(accountViewOf(config)(revoked));
  else process.stdout.write(`revoked service account ${revoked.account.name} (${revoked.account.clientId}), for good\n`);
  return 0;
}

export async function remove(args: string[]): Promise<number> {
  const parsed = parseCommand(args, DELETE);
  if (!parsed) return 0;
  if (!parsed.values.yes) {
    throw new UsageError('deleting an account and its secrets cannot be undone: add --yes to confirm', DELETE.usage);
  }
  const config = loadConfig();
  const deleted = await withCliContext(config, async (cli) => {
    const { account } = await findAccountByRef(cli.accounts, parsed.positionals[0]!);
    const result = await deleteAccount(cli.accounts, account.id);
    await cli.audit({
      action: 'service_account.deleted',
      accountId: result.id,
      clientId: result.clientId,
      details: { name: result.name },
    });
    return result;
  });
  if (parsed.values.json) printJson({ id: deleted.id, client_id: deleted.clientId, name: deleted.name });
  else process.stdout.write(`deleted service account ${deleted.name} (${deleted.clientId}) and its secrets\n`);
  return 0;
}

import { parseArgs } from 'node:util';
import { findAccountByClientId } from '../accounts/accounts';
import { ALL_ADMIN_SCOPES } from '../accounts/admin-scopes';
import { bootstrapAdmin } from '../accounts/bootstrap-admin';
import { displayPrefix } from '../accounts/secret-format';
import { loadConfig } from '../config';
import { withCliContext } from './cli-context';

export const BOOTSTRAP_ADMIN_HELP = `usage: npm run cli -- bootstrap-admin [--name NAME]

Creates an administrator account holding every admin scope and prints {"client_id", "client_secret"} as
JSON on stdout, once. Opens the database (creating PGlite's data folder if there is none yet): on PGlite,
stop the service first (the data folder has one owner). Recorded in the audit trail (actor cli:<user>).
`;

export async function bootstrapAdminCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(BOOTSTRAP_ADMIN_HELP);
    return 0;
  }
  const config = loadConfig();
  const result = await withCliContext(
    config,
    async (cli) => {
      const created = await bootstrapAdmin(cli.accounts, {
        adminAudience: config.adminAudience,
        ...(values.name ? { name: values.name } : {}),
      });
      const account = await findAccountByClientId(cli.accounts, created.clientId);
      await cli.audit({
        action: 'service_account.created',
        accountId: account?.id,
        clientId: created.clientId,
        details: {
          name: account?.name,
          scopes: ALL_ADMIN_SCOPES,
          audiences: [config.adminAudience],
          bootstrap_admin: true,
          ...(created.clientSecret ? { secret_prefix: displayPrefix(created.clientSecret) } : {}),
        },
      });
      return created;
    },
    { create: true },
  );
  process.stdout.write(`${JSON.stringify({ client_id: result.clientId, client_secret: result.clientSecret })}\n`);
  process.stderr.write('warning: the client secret is shown this once and cannot be shown again: store it now.\n');
  return 0;
}

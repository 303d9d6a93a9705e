import { parseArgs } from 'node:util';
import pino from 'pino';
import { bootstrapAdmin } from '../accounts/bootstrap-admin';
import { loadConfig } from '../config';
import { openService } from '../service';

export const BOOTSTRAP_ADMIN_HELP = `usage: npm run cli -- bootstrap-admin [--name NAME]

Creates an administrator account holding every admin scope and prints {"client_id", "client_secret"} as
JSON on stdout, once. Opens the database: on PGlite, stop the service first (the data folder has one owner).
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
  const service = await openService(config, { logger: pino({ level: 'silent' }) });
  try {
    const result = await bootstrapAdmin(service.accounts, {
      adminAudience: config.adminAudience,
      ...(values.name ? { name: values.name } : {}),
    });
    process.stdout.write(`${JSON.stringify({ client_id: result.clientId, client_secret: result.clientSecret })}\n`);
  } finally {
    await service.close();
  }
  return 0;
}

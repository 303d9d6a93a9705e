import { parseArgs } from 'node:util';
import pino from 'pino';
import { bootstrapAdmin } from '../accounts/bootstrap-admin';
import { ConfigError, loadConfig } from '../config';
import { openService } from '../service';

const USAGE = `usage: npm run cli -- <command>

commands:
  bootstrap-admin [--name NAME]   create an administrator account holding every admin scope;
                                  prints {"client_id", "client_secret"} as JSON on stdout, once
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'bootstrap-admin') {
    const { values } = parseArgs({ args: rest, options: { name: { type: 'string' } }, strict: true });
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
  process.stderr.write(USAGE);
  return command === undefined || command === '--help' || command === 'help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${error instanceof ConfigError ? '' : 'error: '}${message}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);

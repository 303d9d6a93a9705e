import { ConfigError } from '../config';
import { isUsageError } from './usage';

const USAGE = `usage: npm run cli -- <command> [options]

commands:
  bootstrap-admin [--name NAME]   create an administrator account holding every admin scope;
                                  prints {"client_id", "client_secret"} as JSON on stdout, once
  keys list [--json]              the signing keys: kid, alg, state and times (never a private member)
  keys rotate [--alg ALG]         add a key: published at once, signing after KEY_PROPAGATION_SECONDS
  keys retire KID                 stop signing with a key; it stays published until its tokens expire

Commands read the service's environment (KEYS_DIR, SIGNING_ALG, DATABASE_URL, ...). The keys commands
touch only KEYS_DIR, so they run while the service runs (as the same user: key files are mode 0600).
\`<command> --help\` says more. Exit status: 0 done, 1 failed, 2 bad usage or configuration.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'bootstrap-admin':
      return (await import('./bootstrap-admin')).bootstrapAdminCommand(rest);
    case 'keys':
      return (await import('./keys')).keysCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof ConfigError) {
      process.stderr.write(`${message}\n`);
      process.exit(2);
    }
    if (isUsageError(error)) {
      process.stderr.write(`usage error: ${message}\n(see npm run cli -- --help)\n`);
      process.exit(2);
    }
    process.stderr.write(`error: ${message}\n`);
    process.exit(1);
  },
);

import { InvalidFieldsError } from '../accounts/errors';
import { ConfigError } from '../config';
import { errorMessage } from './output';
import { isUsageError, UsageError } from './usage';

const USAGE = `usage: cc-token-service <command> [options]     (or, in the project: npm run -s cli -- <command> …)

service accounts and secrets (the same changes as the admin API, audited as actor cli:<user>):
  accounts list [--status S] [--q TEXT] [--limit N] [--json]
  accounts create --name NAME [--scope S ...] [--audience A ...] [--rate-limit N] [--allowed-ip CIDR ...] [--json]
                                  prints the client_id and its secret, once
  accounts show ID|CLIENT_ID [--json]
  accounts disable|enable|revoke ID|CLIENT_ID
  accounts delete ID|CLIENT_ID --yes
  secrets create ACCOUNT [--expires-at ISO] [--json]     prints the new secret, once
  secrets list ACCOUNT [--json]                          ids, prefixes, status, dates: never a secret
  secrets disable|enable|revoke ACCOUNT SECRET_ID
  audit tail [--account REF] [--action A] [--outcome O] [--limit N] [--follow] [--json]

setup:
  bootstrap-admin [--name NAME]   create an administrator account holding every admin scope;
                                  prints {"client_id", "client_secret"} as JSON on stdout, once
  keys list [--json]              the signing keys: kid, alg, state and times (never a private member)
  keys rotate [--alg ALG]         add a key: published at once, signing after KEY_PROPAGATION_SECONDS
  keys retire KID                 stop signing with a key; it stays published until its tokens expire

Commands read the service's environment (DATABASE_URL or DATA_DIR, KEYS_DIR, ...; relative paths from the
current directory). The keys commands touch only KEYS_DIR, so they run while the service runs. The others
open the database: on PostgreSQL (DATABASE_URL) beside running instances, whose caches drop a changed account
before the command returns; on PGlite the running service owns the data folder, so stop it first (or use
the admin API). --json prints one JSON document on stdout and nothing else there; secrets go to stdout only.
\`<command> --help\` says more. Exit status: 0 done; 1 failed (not found, refused, database unavailable or in
use); 2 bad usage or configuration.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'accounts':
      return (await import('./accounts')).accountsCommand(rest);
    case 'secrets':
      return (await import('./secrets')).secretsCommand(rest);
    case 'audit':
      return (await import('./audit')).auditCommand(rest);
    case 'bootstrap-admin':
      return (await import('./bootstrap-admin')).bootstrapAdminCommand(rest);
    case 'keys':
      return (await import('./keys')).keysCommand(rest);
    case undefined:
      process.stderr.write(USAGE);
      return 2;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`unknown command: ${command.slice(0, 100)}\n\n${USAGE}`);
      return 2;
  }
}

/** Exit status 2: the command line or the environment is wrong, and trying again as is will not help. */
function exitCodeOf(error: unknown): 1 | 2 {
  return error instanceof ConfigError || error instanceof InvalidFieldsError || isUsageError(error) ? 2 : 1;
}

/** Exits once stdout has taken everything written (pipes are asynchronous on some systems). */
function exit(code: number): void {
  process.stdout.write('', () => process.exit(code));
}

// A reader that went away (`… | head`) is no failure of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => exit(code),
  (error: unknown) => {
    const message = errorMessage(error);
    if (error instanceof ConfigError) {
      process.stderr.write(`${message}\n`);
    } else if (isUsageError(error)) {
      const usage = error instanceof UsageError ? error.usage : undefined;
      process.stderr.write(`usage error: ${message}\n${usage ? `\n${usage}(--help says more)\n` : '(see --help)\n'}`);
    } else if (error instanceof InvalidFieldsError) {
      process.stderr.write(`invalid: ${message}\n`);
    } else {
      process.stderr.write(`error: ${message}\n`);
    }
    exit(exitCodeOf(error));
  },
);

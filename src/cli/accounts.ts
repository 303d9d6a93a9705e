import { createAccount, listAccounts, AUTH_METHODS, type AccountWithSecrets } from '../accounts/accounts';
import { newSecretView } from '../admin/presenters';
import { accountFieldsOf, accountSchemas } from '../admin/schemas';
import { loadConfig } from '../config';
import { disable, enable, remove, revoke } from './account-lifecycle';
import { accountViewOf, findAccountByRef, flagProblems } from './account-ref';
import { withCliContext } from './cli-context';
import { listCell, note, printFields, printJson, printTable, timeCell } from './output';
import { printSecretsTable } from './secrets';
import { choiceFlag, intFlag, parseCommand, runGroup, UsageError } from './usage';

const REF = 'ID|CLIENT_ID';

const LIST = {
  usage: 'usage: accounts list [--status active|disabled|revoked] [--q TEXT] [--limit N] [--json]\n',
  help: `usage: npm run cli -- accounts list [--status active|disabled|revoked] [--q TEXT] [--limit N] [--json]

Service accounts, newest first, with their secrets' metadata (never a secret).
  --status S   only accounts in this status
  --q TEXT     only accounts whose name or description contains TEXT (case-insensitive)
  --limit N    at most N accounts (default 50, at most 10000); a note on stderr says when more match
  --json       a JSON array of accounts, as GET /admin/v1/service-accounts shows them
`,
  options: {
    status: { type: 'string' },
    q: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
  },
  operands: { min: 0, max: 0, what: '' },
} as const;

const CREATE = {
  usage:
    'usage: accounts create --name NAME [--description D] [--scope S ...] [--audience A ...] [--rate-limit N]\n' +
    '         [--allowed-ip CIDR ...] [--token-ttl SECONDS] [--auth-method M ...] [--require-dpop] [--json]\n',
  help: `usage: npm run cli -- accounts create --name NAME [options]

Creates a service account and its first client secret, and prints its client_id and the secret on stdout.
The secret is shown this once (a warning on stderr says so): store it now, e.g. in your secret manager.
  --name NAME           unique name (required)
  --description D
  --scope S             a scope the account may request; repeat, or give several separated by spaces
  --audience A          an audience (resource API) it may request tokens for; repeat for more
  --rate-limit N        token requests per minute (default: RATE_LIMIT_PER_MINUTE)
  --allowed-ip CIDR     an address or range the account may call from; repeat for more (default: any)
  --token-ttl SECONDS   lifetime of its tokens (default: TOKEN_TTL_SECONDS; at most MAX_TOKEN_TTL_SECONDS)
  --auth-method M       ${AUTH_METHODS.join(', ')}; repeat for more (default: the two
                        secret methods). With private_key_jwt alone, no secret is created.
  --require-dpop        tokens only with a DPoP proof (sender-constrained)
  --json                the account as POST /admin/v1/service-accounts answers: the secret is .secret.secret

Values are checked as the admin API checks them. Recorded in the audit trail (actor cli:<user>).
`,
  options: {
    name: { type: 'string' },
    description: { type: 'string' },
    scope: { type: 'string', multiple: true },
    audience: { type: 'string', multiple: true },
    'rate-limit': { type: 'string' },
    'allowed-ip': { type: 'string', multiple: true },
    'token-ttl': { type: 'string' },
    'auth-method': { type: 'string', multiple: true },
    'require-dpop': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  operands: { min: 0, max: 0, what: '' },
} as const;

/** The admin API's field → the flag that sets it, for validation messages. */
const CREATE_FLAGS: Record<string, string> = {
  name: '--name',
  description: '--description',
  scopes: '--scope',
  audiences: '--audience',
  rate_limit_per_minute: '--rate-limit',
  allowed_ips: '--allowed-ip',
  token_ttl_seconds: '--token-ttl',
  token_endpoint_auth_methods: '--auth-method',
  require_dpop: '--require-dpop',
};

const SHOW = {
  usage: `usage: accounts show ${REF} [--json]\n`,
  help: `usage: npm run cli -- accounts show ${REF} [--json]

One service account, by its id or its client_id, with its secrets' metadata (prefix, status, dates; never
a secret).
  --json   the account as GET /admin/v1/service-accounts/{id} shows it
`,
  options: { json: { type: 'boolean' } },
  operands: { min: 1, max: 1, what: `one ${REF}` },
} as const;

const HELP = `usage: npm run cli -- accounts <command> [options]

  accounts list [--status S] [--q TEXT] [--limit N] [--json]   service accounts, newest first
  accounts create --name NAME [--scope S ...] [...] [--json]   a new account; its secret is printed once
  accounts show ${REF} [--json]                         one account, with its secrets' metadata
  accounts disable ${REF}                               no more tokens until enabled
  accounts enable ${REF}                                enable a disabled account
  accounts revoke ${REF}                                no more tokens, for good
  accounts delete ${REF} --yes                          remove it and its secrets

\`accounts <command> --help\` says more. ${REF}: the account's id (UUID) or its client_id.
Exit status: 0 done, 1 failed (not found, refused), 2 bad usage or configuration.
`;

export function accountsCommand(args: string[]): Promise<number> {
  return runGroup('accounts', HELP, { list, create, show, disable, enable, revoke, delete: remove }, args);
}

async function list(args: string[]): Promise<number> {
  const parsed = parseCommand(args, LIST);
  if (!parsed) return 0;
  const { values } = parsed;
  const status = choiceFlag(values.status, '--status', ['active', 'disabled', 'revoked'], LIST.usage);
  const limit = intFlag(values.limit, '--limit', 1, 10_000, LIST.usage) ?? 50;
  const q = values.q?.trim();
  const config = loadConfig();
  const { items, more } = await withCliContext(config, async (cli) => {
    const found: AccountWithSecrets[] = [];
    let cursor: string | undefined;
    do {
      const page = await listAccounts(cli.accounts, {
        limit: Math.min(100, limit - found.length),
        cursor,
        status,
        q: q || undefined,
      });
      found.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor && found.length < limit);
    return { items: found, more: cursor !== undefined };
  });
  const views = items.map(accountViewOf(config));
  if (values.json) printJson(views);
  else if (views.length === 0) note('no service accounts match');
  else {
    const now = Date.now();
    printTable(
      ['ID', 'CLIENT_ID', 'NAME', 'STATUS', 'SECRETS', 'SCOPES', 'CREATED', 'LAST USED'],
      views.map((a) => [
        a.id,
        a.client_id,
        a.name,
        a.status,
        `${a.secrets.filter((s) => s.status === 'active' && Date.parse(s.expires_at!) > now).length} active`,
        listCell(a.scopes),
        timeCell(a.created_at),
        timeCell(a.last_used_at),
      ]),
    );
  }
  if (more) note(`(more service accounts match: showing the newest ${limit}; raise --limit or filter)`);
  return 0;
}

/** Splits "a b" into two values, so that `--scope "a b"` works as OAuth's space-separated scope does. */
const words = (values: readonly string[] | undefined) => values?.flatMap((v) => v.split(/\s+/).filter(Boolean));

function numberFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}

async function create(args: string[]): Promise<number> {
  const parsed = parseCommand(args, CREATE);
  if (!parsed) return 0;
  const { values } = parsed;
  if (values.name === undefined) throw new UsageError('--name is required', CREATE.usage);
  const config = loadConfig();
  const body = {
    name: values.name,
    description: values.description,
    scopes: words(values.scope),
    audiences: values.audience,
    rate_limit_per_minute: numberFlag(values['rate-limit']),
    allowed_ips: values['allowed-ip'],
    token_ttl_seconds: numberFlag(values['token-ttl']),
    token_endpoint_auth_methods: values['auth-method'],
    require_dpop: values['require-dpop'],
  };
  const checked = accountSchemas(config.maxTokenTtlSeconds).create.safeParse(
    Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined)),
  );
  if (!checked.success) throw flagProblems(checked.error, CREATE_FLAGS, CREATE.usage);
  const input = checked.data;
  const result = await withCliContext(config, async (cli) => {
    const created = await createAccount(cli.accounts, { ...accountFieldsOf(input), name: input.name });
    // As the admin API records it (the same details: the validated input and the secret's prefix).
    await cli.audit({
      action: 'service_account.created',
      accountId: created.account.id,
      clientId: created.account.clientId,
      secretId: created.secret?.row.id,
      details: { ...input, ...(created.secret ? { secret_prefix: created.secret.row.prefix } : {}) },
    });
    return created;
  });
  const view = { ...accountViewOf(config)(result), secret: result.secret ? newSecretView(result.secret, new Date()) : null };
  if (values.json) {
    printJson(view);
  } else {
    process.stdout.write(`created service account ${view.name}\n`);
    printFields([
      ['id', view.id],
      ['client_id', view.client_id],
      ['client_secret', view.secret?.secret ?? '(none: the account authenticates with private_key_jwt only)'],
      ['secret_id', view.secret?.id],
      ['secret expires', view.secret?.expires_at],
      ['scopes', listCell(view.scopes)],
      ['audiences', listCell(view.audiences)],
    ]);
  }
  if (view.secret) note('warning: the client secret is shown this once and cannot be shown again: store it now.');
  return 0;
}

async function show(args: string[]): Promise<number> {
  const parsed = parseCommand(args, SHOW);
  if (!parsed) return 0;
  const config = loadConfig();
  const found = await withCliContext(config, (cli) => findAccountByRef(cli.accounts, parsed.positionals[0]!));
  const view = accountViewOf(config)(found);
  if (parsed.values.json) {
    printJson(view);
    return 0;
  }
  printFields([
    ['id', view.id],
    ['client_id', view.client_id],
    ['name', view.name],
    ['description', view.description],
    ['status', view.status],
    ['scopes', listCell(view.scopes)],
    ['audiences', listCell(view.audiences)],
    ['token ttl', view.token_ttl_seconds === null ? 'default' : `${view.token_ttl_seconds} s`],
    ['rate limit', `${view.rate_limit_per_minute}/min`],
    ['allowed ips', view.allowed_ips.length ? view.allowed_ips.join(' ') : 'any'],
    ['auth methods', listCell(view.token_endpoint_auth_methods)],
    ['require dpop', view.require_dpop ? 'yes' : 'no'],
    ['created', timeCell(view.created_at)],
    ['updated', timeCell(view.updated_at)],
    ['last used', view.last_used_at ? `${timeCell(view.last_used_at)} from ${view.last_used_ip ?? '?'}` : null],
  ]);
  process.stdout.write('\n');
  if (view.secrets.length === 0) process.stdout.write('no secrets\n');
  else printSecretsTable(view.secrets);
  return 0;
}

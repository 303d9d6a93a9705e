import { parseArgs } from 'node:util';
import { loadConfig, SIGNING_ALGS, type Config, type SigningAlg } from '../config';
import type { KeyRecord } from '../tokens/key-file';
import { folderKeys, KeyActionRefused, retireKey, rotateKey, type KeyFolder } from '../tokens/key-rotation';
import { signingStatus, type KeyStatus } from '../tokens/key-schedule';
import { UsageError } from './usage';

const HELP = `usage: npm run cli -- keys <list|rotate|retire> [options]

  keys list [--json]
      Every signing key of KEYS_DIR (and SIGNING_KEY's, if set) with its state:
        next     in the JWKS, not signing yet (until activates_at)
        active   may sign: the active key of SIGNING_ALG signs
        retired  signs no more; stays in the JWKS until its tokens have expired (in_jwks_until)
      --json: an array of {kid, alg, state, signing, source, created_at, activates_at, retired_at,
      in_jwks, in_jwks_until}. Never a private member.

  keys rotate [--alg RS256|ES256|EdDSA] [--json]
      Adds a next key (of SIGNING_ALG by default). It is published at once and becomes active after
      KEY_PROPAGATION_SECONDS, when every resource API that caches the JWKS holds it; the key it replaces
      then retires by itself. With no key active, the new key is active at once.

  keys retire KID [--json]
      Retires a key now: a next key leaves the JWKS at once (it never signed); an active key stops signing
      and stays in the JWKS until every token it signed has expired. Refused for the only active key:
      rotate first, and it retires by itself.

Running instances pick changes up by themselves (folder watch; SIGHUP to re-read at once).
Exit status: 0 done, 1 refused or failed, 2 bad usage or configuration.
`;

interface KeyRow {
  kid: string;
  alg: string;
  state: KeyStatus['state'];
  /** Whether an instance with this environment signs with it now. */
  signing: boolean;
  source: 'file' | 'SIGNING_KEY';
  created_at: string | null;
  activates_at: string | null;
  /** When it stopped, or will stop, signing (retirement or a newer key's activation). */
  retired_at: string | null;
  in_jwks: boolean;
  in_jwks_until: string | null;
}

export async function keysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      json: { type: 'boolean' },
      alg: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [action, ...operands] = positionals;
  if (values.help || action === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (action === undefined) {
    process.stderr.write(HELP);
    return 2;
  }
  const expect = (count: number, what: string) => {
    if (operands.length !== count) throw new UsageError(`keys ${action} takes ${what}`);
  };
  if (values.alg !== undefined && action !== 'rotate') throw new UsageError('--alg goes with keys rotate');
  if (action === 'list') {
    expect(0, 'no argument');
    return list(loadConfig(), values.json === true);
  }
  if (action === 'rotate') {
    expect(0, 'no argument');
    if (values.alg !== undefined && !SIGNING_ALGS.includes(values.alg as SigningAlg)) {
      throw new UsageError(`--alg must be one of ${SIGNING_ALGS.join(', ')}`);
    }
    return rotate(loadConfig(), values.alg as SigningAlg | undefined, values.json === true);
  }
  if (action === 'retire') {
    expect(1, 'one KID (see keys list)');
    return retire(loadConfig(), operands[0]!, values.json === true);
  }
  throw new UsageError(`unknown keys command: ${action}`);
}

const folderOf = (config: Config): KeyFolder => ({ dir: config.keysDir, maxTokenTtlSeconds: config.maxTokenTtlSeconds });
const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

function rowOf(status: KeyStatus<KeyRecord>, signing: boolean): KeyRow {
  return {
    kid: status.key.kid,
    alg: status.key.alg,
    state: status.state,
    signing,
    source: 'file',
    created_at: iso(status.key.createdAt),
    activates_at: iso(status.key.activatesAt),
    retired_at: iso(status.endsAt),
    in_jwks: status.published,
    in_jwks_until: iso(status.publishedUntil),
  };
}

async function list(config: Config, json: boolean): Promise<number> {
  const { statuses, problems } = await folderKeys(folderOf(config), new Date());
  for (const p of problems) process.stderr.write(`warning: ${config.keysDir}/${p.file} ${p.message}; ignored\n`);
  const signing = config.signingKey ? undefined : signingStatus(statuses, config.signingAlg);
  const rows = statuses
    .slice()
    .sort((a, b) => a.key.activatesAt - b.key.activatesAt || a.key.createdAt - b.key.createdAt)
    .map((s) => rowOf(s, s === signing));
  if (config.signingKey) {
    const { kid, alg } = config.signingKey;
    rows.push({
      kid, alg, state: 'active', signing: true, source: 'SIGNING_KEY',
      created_at: null, activates_at: null, retired_at: null, in_jwks: true, in_jwks_until: null,
    });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    process.stdout.write(`no keys in ${config.keysDir} (the service creates one at start)\n`);
    return 0;
  }
  const table = [
    ['KID', 'ALG', 'STATE', 'SIGNING', 'CREATED', 'ACTIVATES', 'RETIRED', 'IN JWKS UNTIL'],
    ...rows.map((r) => [
      r.kid,
      r.alg,
      r.state,
      r.signing ? 'yes' : '',
      r.source === 'SIGNING_KEY' ? '(SIGNING_KEY)' : (r.created_at ?? ''),
      r.activates_at ?? '',
      r.retired_at ?? '',
      r.in_jwks ? (r.in_jwks_until ?? '') : 'removed',
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()}\n`);
  return 0;
}

async function rotate(config: Config, alg: SigningAlg | undefined, json: boolean): Promise<number> {
  const now = new Date();
  const status = await rotateKey(folderOf(config), {
    alg: alg ?? config.signingAlg,
    propagationSeconds: config.keyPropagationSeconds,
    now,
  });
  if (json) {
    process.stdout.write(`${JSON.stringify(rowOf(status, false), null, 2)}\n`);
  } else if (status.state === 'active') {
    process.stdout.write(`added ${status.key.kid} (${status.key.alg}): active now, as no key was active\n`);
  } else {
    const seconds = Math.round((status.key.activatesAt - now.getTime()) / 1000);
    process.stdout.write(
      `added ${status.key.kid} (${status.key.alg}): in the JWKS now, signing from ` +
        `${new Date(status.key.activatesAt).toISOString()} (in ${seconds} s)\n`,
    );
  }
  if (config.signingKey) {
    process.stderr.write('note: SIGNING_KEY is set, so instances with this environment keep signing with it\n');
  } else if (status.key.alg !== config.signingAlg) {
    process.stderr.write(
      `note: instances sign with it once they run with SIGNING_ALG=${status.key.alg} (now ${config.signingAlg})\n`,
    );
  }
  return 0;
}

async function retire(config: Config, kid: string, json: boolean): Promise<number> {
  let result;
  try {
    result = await retireKey(folderOf(config), kid, { now: new Date(), otherSigner: config.signingKey !== undefined });
  } catch (error) {
    if (!(error instanceof KeyActionRefused)) throw error;
    process.stderr.write(`error: ${error.message}\n`);
    return 1;
  }
  const { status, changed } = result;
  if (json) {
    process.stdout.write(`${JSON.stringify(rowOf(status, false), null, 2)}\n`);
  } else if (!changed) {
    process.stdout.write(`${kid} was already retired (since ${iso(status.endsAt)})\n`);
  } else if (!status.published) {
    process.stdout.write(`retired ${kid}: it never signed, so it left the JWKS\n`);
  } else {
    process.stdout.write(`retired ${kid}: signs no more; in the JWKS until ${iso(status.publishedUntil)}\n`);
  }
  return 0;
}

import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A command line the CLI cannot make sense of: exit status 2, with the command's usage (or a pointer to --help). */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** The synopsis of the command that was misused, printed after the message. */
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** UsageError, or one of node:util parseArgs' errors (unknown option, missing value, stray argument). */
export function isUsageError(error: unknown): error is Error {
  if (error instanceof UsageError) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** The values parseArgs returns for `O` (strict, no defaults): each flag may be absent. */
export type Values<O extends Options> = {
  [K in keyof O]?: O[K] extends { type: 'boolean' }
    ? O[K] extends { multiple: true }
      ? boolean[]
      : boolean
    : O[K] extends { multiple: true }
      ? string[]
      : string;
};

export interface CommandSpec<O extends Options> {
  /** One line per form, e.g. "accounts show ID|CLIENT_ID [--json]"; shown with every usage error. */
  usage: string;
  /** The whole --help text. */
  help: string;
  options: O;
  /** How many operands (positional arguments) the command takes, and what they are called. */
  operands: { min: number; max: number; what: string };
}

/**
 * Parses a subcommand's arguments (strictly: an unknown flag or a missing value is a usage error carrying
 * the command's usage). Returns undefined when --help was asked for, after printing the help on stdout.
 */
export function parseCommand<const O extends Options>(args: string[], spec: CommandSpec<O>) {
  let parsed: { values: Values<O> & { help?: boolean }; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      options: { ...spec.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    }) as typeof parsed;
  } catch (error) {
    if (isUsageError(error)) throw new UsageError(error.message, spec.usage);
    throw error;
  }
  if (parsed.values.help) {
    process.stdout.write(spec.help);
    return undefined;
  }
  const { min, max, what } = spec.operands;
  const count = parsed.positionals.length;
  if (count < min || count > max) {
    const expected = max === 0 ? 'no argument' : what;
    throw new UsageError(`expected ${expected}, got ${count === 0 ? 'none' : count}`, spec.usage);
  }
  return parsed;
}

/** A whole number flag within bounds; undefined when absent. */
export function intFlag(value: string | undefined, flag: string, min: number, max: number, usage: string): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`, usage);
  }
  return n;
}

/** One of the allowed values; undefined when absent. */
export function choiceFlag<const C extends string>(
  value: string | undefined,
  flag: string,
  choices: readonly C[],
  usage: string,
): C | undefined {
  if (value === undefined) return undefined;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`${flag} must be one of ${choices.join(', ')}`, usage);
  }
  return value as C;
}

/**
 * Dispatches `group <sub> …` to its subcommands. `group`, `group --help` and `group help` print the
 * group's help; an unknown subcommand is a usage error.
 */
export async function runGroup(
  group: string,
  help: string,
  subcommands: Record<string, (args: string[]) => Promise<number>>,
  args: string[],
): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    if (sub === 'help' && rest[0] && subcommands[rest[0]]) return subcommands[rest[0]]!(['--help']);
    process.stdout.write(help);
    return 0;
  }
  if (sub === undefined) {
    process.stderr.write(help);
    return 2;
  }
  const run = Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined;
  if (!run) throw new UsageError(`unknown ${group} command: ${sub}`, help);
  return run(rest);
}

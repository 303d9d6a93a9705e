import { setTimeout as sleep } from 'node:timers/promises';
import { isUuid } from '../accounts/errors';
import { listAuditEvents, type AuditQuery } from '../audit/audit-events';
import { auditEventView } from '../admin/presenters';
import { loadConfig } from '../config';
import type { AuditEventRow } from '../db/schema';
import { findAccountByRef } from './account-ref';
import { withCliContext } from './cli-context';
import { note, printJson, timeCell } from './output';
import { choiceFlag, intFlag, parseCommand, runGroup } from './usage';

const TAIL = {
  usage:
    'usage: audit tail [--account ID|CLIENT_ID] [--action A] [--outcome success|failure] [--limit N]\n' +
    '         [--follow [--interval SECONDS]] [--json]\n',
  help: `usage: npm run cli -- audit tail [options]

The newest events of the audit trail, oldest of them first (as tail shows a file): token requests granted
and denied, and every change made through the admin API or this CLI (actor cli:<user>).
  --account REF      only events of this account: its id (also after it was deleted) or its client_id
  --action A         only this action, e.g. token.issued, token.denied, service_account.created, secret.revoked
  --outcome O        success or failure
  --limit N          how many of the newest events (default 20, at most 1000)
  --follow           then keep printing new events as they are written, until interrupted (Ctrl-C: exit 0).
                     Instances write their events in batches (FLUSH_INTERVAL_MS), so they show up within
                     about that long. On PGlite this holds the data folder: the service cannot start meanwhile.
  --interval SECONDS how often --follow looks for new events (default 1)
  --json             a JSON array of events as GET /admin/v1/audit-events shows them; with --follow, one
                     event per line (JSON Lines) instead, as they come
`,
  options: {
    account: { type: 'string' },
    action: { type: 'string' },
    outcome: { type: 'string' },
    limit: { type: 'string' },
    follow: { type: 'boolean' },
    interval: { type: 'string' },
    json: { type: 'boolean' },
  },
  operands: { min: 0, max: 0, what: '' },
} as const;

const HELP = `usage: npm run cli -- audit <command> [options]

  audit tail [--account REF] [--action A] [--outcome O] [--limit N] [--follow] [--json]
      the newest events of the audit trail; --follow keeps printing new ones

\`audit tail --help\` says more. Exit status: 0 done, 1 failed, 2 bad usage or configuration.
`;

export function auditCommand(args: string[]): Promise<number> {
  return runGroup('audit', HELP, { tail }, args);
}

type Filters = Pick<AuditQuery, 'accountId' | 'action' | 'outcome'>;

async function tail(args: string[]): Promise<number> {
  const parsed = parseCommand(args, TAIL);
  if (!parsed) return 0;
  const { values } = parsed;
  const outcome = choiceFlag(values.outcome, '--outcome', ['success', 'failure'], TAIL.usage);
  const limit = intFlag(values.limit, '--limit', 1, 1000, TAIL.usage) ?? 20;
  const intervalSeconds = intFlag(values.interval, '--interval', 1, 3600, TAIL.usage) ?? 1;
  const json = values.json === true;
  const follow = values.follow === true;
  const config = loadConfig();
  return withCliContext(config, async (cli) => {
    const ref = values.account;
    // A UUID is taken as is: the trail outlives the account it speaks of.
    const accountId =
      ref === undefined ? undefined : isUuid(ref) ? ref.toLowerCase() : (await findAccountByRef(cli.accounts, ref)).account.id;
    const filters: Filters = { accountId, action: values.action, outcome };
    const newest = await listAuditEvents(cli.database.db, { limit, ...filters });
    const rows = newest.items.reverse();
    if (!follow) {
      if (json) printJson(rows.map(auditEventView));
      else if (rows.length === 0) note('no audit events match');
      else {
        printHeader();
        for (const row of rows) printLine(row);
      }
      return 0;
    }
    if (!json) printHeader();
    const print = (row: AuditEventRow) =>
      json ? process.stdout.write(`${JSON.stringify(auditEventView(row))}\n`) : printLine(row);
    for (const row of rows) print(row);
    await followTrail(cli.database.db, filters, rows, {
      intervalMs: intervalSeconds * 1000,
      // How late an event may be written after it happened and still be shown: a batch of an instance's
      // buffer (FLUSH_INTERVAL_MS), with room for clock differences between hosts.
      lateMs: 2 * config.flushIntervalMs + 5000,
      print,
    });
    return 0;
  });
}

/**
 * Polls for events written since the last look, until SIGINT or SIGTERM. Instances buffer events and write
 * them in batches, so a new row can be older (occurred_at) than one already shown: each poll re-reads the
 * last `lateMs` and prints only the ids it has not printed yet, in time order.
 */
async function followTrail(
  db: Parameters<typeof listAuditEvents>[0],
  filters: Filters,
  shown: AuditEventRow[],
  options: { intervalMs: number; lateMs: number; print: (row: AuditEventRow) => void },
): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const seen = new Map<number, number>(shown.map((r) => [r.id, r.occurredAt.getTime()]));
  let watermark = Math.max(Date.now(), ...seen.values());
  let failing = false;
  try {
    while (!stop.signal.aborted) {
      try {
        await sleep(options.intervalMs, undefined, { signal: stop.signal });
      } catch {
        break; // interrupted
      }
      try {
        const polledAt = Date.now();
        const from = new Date(watermark - options.lateMs);
        const fresh: AuditEventRow[] = [];
        let cursor: string | undefined;
        do {
          const page = await listAuditEvents(db, { limit: 500, cursor, from, ...filters });
          fresh.push(...page.items.filter((r) => !seen.has(r.id)));
          cursor = page.nextCursor ?? undefined;
        } while (cursor && !stop.signal.aborted);
        fresh.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.id - b.id);
        for (const row of fresh) {
          options.print(row);
          seen.set(row.id, row.occurredAt.getTime());
          watermark = Math.max(watermark, row.occurredAt.getTime());
        }
        watermark = Math.max(watermark, polledAt);
        for (const [id, at] of seen) if (at < watermark - options.lateMs) seen.delete(id);
        if (failing) note('reading the audit trail again');
        failing = false;
      } catch (error) {
        if (!failing) note(`warning: cannot read the audit trail (${(error as Error).message.split('\n')[0]}); retrying`);
        failing = true;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const WIDTHS = { time: 20, action: 26, outcome: 7, actor: 22 };

function printHeader(): void {
  process.stdout.write(
    `${'TIME'.padEnd(WIDTHS.time)}  ${'ACTION'.padEnd(WIDTHS.action)}  ${'OUTCOME'.padEnd(WIDTHS.outcome)}  ${'ACTOR'.padEnd(WIDTHS.actor)}  DETAILS\n`,
  );
}

/** One event on one line, columns aligned (fixed widths, so that --follow's lines align with the first ones). */
function printLine(row: AuditEventRow): void {
  const rest = [
    row.clientId ? `client=${row.clientId}` : row.accountId ? `account=${row.accountId}` : '',
    row.secretId ? `secret=${row.secretId}` : '',
    row.reason ? `reason=${row.reason}` : '',
    row.httpStatus ? `status=${row.httpStatus}` : '',
    row.sourceIp ? `ip=${row.sourceIp}` : '',
    Object.keys(row.details).length ? JSON.stringify(row.details) : '',
  ]
    .filter(Boolean)
    .join(' ');
  const line = [
    timeCell(row.occurredAt.toISOString()).padEnd(WIDTHS.time),
    row.action.padEnd(WIDTHS.action),
    row.outcome.padEnd(WIDTHS.outcome),
    (row.actor ?? '-').padEnd(WIDTHS.actor),
    rest,
  ].join('  ');
  process.stdout.write(`${line.trimEnd()}\n`);
}

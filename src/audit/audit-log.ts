import type { Logger } from 'pino';
import type { Database } from '../db/connect';
import { auditEvents } from '../db/schema';

export type AuditOutcome = 'success' | 'failure';

/** One entry of the audit trail. Never carries a secret, a token or an Authorization header. */
export interface AuditEvent {
  occurredAt: Date;
  action: string;
  outcome: AuditOutcome;
  reason?: string | undefined;
  actor?: string | undefined;
  accountId?: string | undefined;
  clientId?: string | undefined;
  secretId?: string | undefined;
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  httpStatus?: number | undefined;
  details?: Record<string, unknown> | undefined;
}

const BATCH_SIZE = 500;

/**
 * The audit trail's buffered writer. `record` costs no I/O: events wait in memory and are written in
 * batches by `flush` (called on a timer, after admin changes, and at shutdown). A failed write keeps the
 * events for the next flush; past `maxBuffered` the oldest unwritten events are dropped and counted, so a
 * long database outage cannot exhaust memory.
 */
export class AuditLog {
  private buffer: AuditEvent[] = [];
  private writing: Promise<void> = Promise.resolve();
  private dropped = 0;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    private readonly maxBuffered = 100_000,
  ) {}

  record(event: AuditEvent): void {
    this.buffer.push(event);
    if (this.buffer.length > this.maxBuffered) {
      const excess = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
  }

  /** Events waiting to be written. */
  get pending(): number {
    return this.buffer.length;
  }

  /** Writes everything recorded so far. Concurrent calls queue behind each other; never throws. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.writeAll());
    return this.writing;
  }

  private async writeAll(): Promise<void> {
    if (this.dropped > 0) {
      this.logger.error({ dropped: this.dropped }, 'audit buffer overflowed: events were dropped');
      this.dropped = 0;
    }
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, BATCH_SIZE);
      try {
        await this.db.insert(auditEvents).values(batch.map(toRow));
      } catch (error) {
        this.logger.warn({ err: { message: (error as Error).message }, pending: this.buffer.length }, 'audit write failed; will retry');
        return;
      }
      // Only now drop them: what was recorded meanwhile stays behind them.
      this.buffer.splice(0, batch.length);
    }
  }
}

const clip = (value: string | undefined, max: number) =>
  value === undefined ? null : value.length > max ? value.slice(0, max) : value;

function toRow(e: AuditEvent): typeof auditEvents.$inferInsert {
  return {
    occurredAt: e.occurredAt,
    action: e.action,
    outcome: e.outcome,
    reason: clip(e.reason, 100),
    actor: clip(e.actor, 200),
    accountId: e.accountId ?? null,
    clientId: clip(e.clientId, 200),
    secretId: e.secretId ?? null,
    sourceIp: clip(e.sourceIp, 64),
    userAgent: clip(e.userAgent, 512),
    httpStatus: e.httpStatus ?? null,
    details: e.details ?? {},
  };
}

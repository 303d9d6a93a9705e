/**
 * What the soak (bench/soak.ts) knows of an account or secret it changes while clients use it: when each
 * change was sent and when its answer came back. A token request is judged only when no change of its
 * account or secret was under way between its sending and its answer; then the credential was usable, or
 * not, throughout, and the answer must say so. Times are performance.now() readings of the soak process.
 */
export type SubjectStatus = 'active' | 'disabled' | 'revoked' | 'deleted';

interface Change {
  sent: number;
  /** Infinity while the change awaits its answer. */
  returned: number;
}

export class Subject {
  private readonly history: Array<{ at: number; status: SubjectStatus }>;
  private readonly changes: Change[] = [];

  /** `createdAt`: when the answer that created it came back. */
  constructor(createdAt: number, status: SubjectStatus = 'active') {
    this.history = [{ at: createdAt, status }];
  }

  get status(): SubjectStatus {
    return this.history[this.history.length - 1]!.status;
  }

  /** Marks a change as under way; `done` records its answer and, if it succeeded, the new status. */
  begin(now: number): { done(now: number, status?: SubjectStatus): void } {
    const change: Change = { sent: now, returned: Infinity };
    this.changes.push(change);
    return {
      done: (at, status) => {
        change.returned = at;
        if (status !== undefined) this.history.push({ at, status });
      },
    };
  }

  /** The status as of `t` (the last answered change before it). */
  statusAt(t: number): SubjectStatus {
    let status = this.history[0]!.status;
    for (const entry of this.history) if (entry.at <= t) status = entry.status;
    return status;
  }

  /** Whether a change was under way at some moment between `from` and `to`. */
  changingBetween(from: number, to: number): boolean {
    return this.changes.some((c) => c.sent < to && c.returned > from);
  }
}

export type Verdict = 'usable' | 'unusable' | 'in_flight';

/** What a token request sent at `sent` and answered at `received` should have got. */
export function verdict(account: Subject, secret: Subject, sent: number, received: number): Verdict {
  if (account.changingBetween(sent, received) || secret.changingBetween(sent, received)) return 'in_flight';
  return account.statusAt(sent) === 'active' && secret.statusAt(sent) === 'active' ? 'usable' : 'unusable';
}

/**
 * The soak's admin churn (bench/soak.ts): one loop changing a handful of accounts and their secrets at random
 * through the admin API, while other loops ask for tokens with those credentials. Every token answer is
 * judged against the changes' send and answer times (credential-timeline.ts): a credential that was
 * unusable (disabled, revoked, deleted) from before the request was sent must not get a token; one that was
 * usable throughout must.
 */
import { randomBytes } from 'node:crypto';
import { Subject, verdict, type SubjectStatus } from './credential-timeline';
import { bump, type SoakClient } from './soak-client';

interface ChurnAccount {
  id: string;
  clientId: string;
  subject: Subject;
  secrets: ChurnSecret[];
}

interface ChurnSecret {
  id: string;
  secret: string;
  subject: Subject;
  account: ChurnAccount;
}

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)]!;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const now = () => performance.now();

export class Churn {
  private readonly live: ChurnAccount[] = [];
  /** Every churn secret, dead or alive (the last 300): the token loops try the dead ones too. */
  private readonly all: ChurnSecret[] = [];
  /** "verdict → status" → count. */
  readonly verdicts = new Map<string, number>();

  constructor(
    private readonly client: SoakClient,
    private readonly settings: { accounts: number; maxActiveSecrets: number; pauseMs: number },
  ) {}

  async adminLoop(running: () => boolean): Promise<void> {
    while (running()) {
      await this.step();
      await sleep(this.settings.pauseMs);
    }
  }

  /** Token requests with churn credentials: mostly live ones, some dead. */
  async tokenLoop(running: () => boolean): Promise<void> {
    while (running()) {
      const live = this.live.flatMap((a) => a.secrets);
      const s = live.length > 0 && Math.random() < 0.8 ? pick(live) : this.all.length > 0 ? pick(this.all) : undefined;
      if (s) await this.judgedToken(s, 'churn');
      else await sleep(10);
    }
  }

  /** A token request with a churn credential, judged against what the admin loop had done by then. */
  private async judgedToken(s: ChurnSecret, kind: string): Promise<void> {
    const sent = now();
    const res = await this.client.token(kind, s.account.clientId, s.secret);
    if (!res) return;
    const v = verdict(s.account.subject, s.subject, sent, now());
    bump(this.verdicts, `${v} → ${res.status}`);
    if (v === 'unusable' && res.status === 200) {
      const state = `account ${s.account.subject.statusAt(sent)}, secret ${s.subject.statusAt(sent)}`;
      this.client.flag('unusable credential got a token', `${kind}: ${state}`);
    } else if (v === 'usable' && res.status !== 200) {
      this.client.flag('usable credential refused', `${kind} ${s.account.clientId}: ${res.status} ${res.text}`);
    } else if (res.status !== 200 && res.status !== 401) {
      this.client.flag('unexpected token answer', `${kind}: ${res.status} ${res.text}`);
    }
    if (res.status === 200) await this.client.verifyToken(res.json.access_token, s.account.clientId);
  }

  private addSecret(account: ChurnAccount, id: string, secret: string): void {
    const s: ChurnSecret = { id, secret, subject: new Subject(now()), account };
    account.secrets.push(s);
    this.all.push(s);
    if (this.all.length > 300) this.all.shift();
  }

  private async createAccount(): Promise<void> {
    const res = await this.client.change('service_account.created', 'POST', '/service-accounts', {
      name: `soak-${randomBytes(6).toString('hex')}`,
      scopes: ['soak:read'],
      audiences: [this.client.audience],
    });
    if (res?.status !== 201) return void this.client.flag('admin change failed', `create: ${res?.status} ${res?.text}`);
    const account: ChurnAccount = { id: res.json.id, clientId: res.json.client_id, subject: new Subject(now()), secrets: [] };
    this.addSecret(account, res.json.secret.id, res.json.secret.secret);
    this.live.push(account);
  }

  /** An admin change of `subject`: when it was under way and, if it succeeded, the status it left. */
  private async changeSubject(
    subject: Subject,
    action: string,
    expected: number,
    to: SubjectStatus | undefined,
    request: { method: string; path: string; body?: unknown },
  ): Promise<boolean> {
    const under = subject.begin(now());
    const res = await this.client.change(action, request.method, request.path, request.body);
    const ok = res?.status === expected;
    under.done(now(), ok ? to : undefined);
    if (!ok && res) this.client.flag('admin change failed', `${action}: ${res.status} ${res.text}`);
    return ok;
  }

  /** One admin change chosen at random, then a token request with each credential it made unusable. */
  private async step(): Promise<void> {
    if (this.live.length < this.settings.accounts) return this.createAccount();
    const a = pick(this.live);
    const path = `/service-accounts/${a.id}`;
    const usable = a.secrets.filter((s) => s.subject.status === 'active');
    const unrevoked = a.secrets.filter((s) => s.subject.status !== 'revoked');
    const roll = Math.random();
    let killed: ChurnSecret[] = [];
    if (roll < 0.2) {
      await this.changeSubject(a.subject, 'service_account.updated', 200, undefined, {
        method: 'PATCH',
        path,
        body: { description: `soak ${randomBytes(4).toString('hex')}`, scopes: ['soak:read', `soak:${Math.floor(Math.random() * 5)}`] },
      });
    } else if (roll < 0.35) {
      const to = a.subject.status === 'active' ? 'disabled' : 'active';
      const action = to === 'disabled' ? 'service_account.disabled' : 'service_account.enabled';
      if (await this.changeSubject(a.subject, action, 200, to, { method: 'PATCH', path, body: { status: to } })) {
        if (to === 'disabled') killed = usable;
      }
    } else if (roll < 0.55) {
      if (usable.length >= this.settings.maxActiveSecrets - 1) return;
      const res = await this.client.change('secret.created', 'POST', `${path}/secrets`, { description: 'soak' });
      if (res?.status === 201) this.addSecret(a, res.json.id, res.json.secret);
      else this.client.flag('admin change failed', `add secret: ${res?.status} ${res?.text}`);
    } else if (roll < 0.7) {
      if (unrevoked.length === 0) return;
      const s = pick(unrevoked);
      const request = { method: 'DELETE', path: `${path}/secrets/${s.id}` };
      if (await this.changeSubject(s.subject, 'secret.revoked', 204, 'revoked', request)) {
        killed = [s];
        a.secrets = a.secrets.filter((x) => x !== s);
      }
    } else if (roll < 0.85) {
      if (unrevoked.length === 0) return;
      const s = pick(unrevoked);
      const to = s.subject.status === 'active' ? 'disabled' : 'active';
      if (to === 'active' && usable.length >= this.settings.maxActiveSecrets) return;
      const action = to === 'disabled' ? 'secret.disabled' : 'secret.enabled';
      if (await this.changeSubject(s.subject, action, 200, to, { method: 'PATCH', path: `${path}/secrets/${s.id}`, body: { status: to } })) {
        if (to === 'disabled') killed = [s];
      }
    } else if (roll < 0.97) {
      const revoke = roll < 0.92;
      const done = revoke
        ? await this.changeSubject(a.subject, 'service_account.revoked', 200, 'revoked', { method: 'POST', path: `${path}/revoke` })
        : await this.changeSubject(a.subject, 'service_account.deleted', 204, 'deleted', { method: 'DELETE', path });
      if (done) {
        killed = a.secrets;
        this.live.splice(this.live.indexOf(a), 1);
      }
    } else {
      const res = await this.client.admin('admin list', 'GET', '/service-accounts?limit=20');
      if (res?.status !== 200) this.client.flag('admin read failed', `${res?.status} ${res?.text}`);
    }
    // Sent after the change's answer came back: each must be refused.
    await Promise.all(killed.map((s) => this.judgedToken(s, 'right after a change')));
  }
}

import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_BLOCK, QuotaLeases } from '../src/limits/quota-lease';
import { DATABASE_KINDS, freshDatabase, secondConnection, type TestDatabase } from './support/database';
import { startTestService, TestClock, type HttpResult, type TestService } from './support/service';

/**
 * With RATE_LIMIT_STORE=database each instance leases quota from the shared counter in blocks instead of
 * writing it once per request (src/limits/quota-lease.ts). What clients and operators must still see: never
 * more than the limit per minute, exactly the limit on a single instance, a shortfall across instances no
 * larger than what one instance may hold near the end, and far fewer counter writes than requests.
 */

const grant = { grant_type: 'client_credentials' };
const MINUTE = 60_000;
const CONCURRENCY = 16;
/** What the block rule lets an instance hold beyond its waiting requests, for a limit: see QuotaLeases. */
const mostHeld = (limit: number) => Math.max(1, Math.min(MAX_BLOCK, Math.floor(limit / 16)));

type Creds = { id: string; secret: string };
const credsOf = (account: any): Creds => ({ id: account.client_id, secret: account.secret.secret });

/** Sends `count` requests, `concurrency` at a time; the results in the order the requests were made. */
async function burst(count: number, send: (i: number) => Promise<HttpResult>, concurrency = CONCURRENCY) {
  const results: HttpResult[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await send(i);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

const statuses = (results: HttpResult[]) => results.map((r) => r.status);
const count = (results: HttpResult[], status: number) => results.filter((r) => r.status === status).length;
const remaining = (res: HttpResult) => Number(res.headers.get('ratelimit-remaining'));

/** Rows of `db.execute`, whichever driver: PGlite answers `{rows}`, postgres.js an array. */
const rowsOf = (result: unknown) =>
  (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as Array<Record<string, any>>;

/**
 * Records every write to the shared counters, and the points it added, with a trigger in the test's own
 * database: the honest count of reservations, whatever the statistics collector's delay.
 */
async function recordCounterWrites(database: TestDatabase): Promise<void> {
  const { db } = database.handle;
  await db.execute(sql`create table rate_limit_writes (id bigserial primary key, key text not null, added integer not null)`);
  await db.execute(sql.raw(`create function log_rate_limit_write() returns trigger language plpgsql as $$
    begin
      insert into rate_limit_writes (key, added)
        values (new.key, new.points - case when tg_op = 'UPDATE' then old.points else 0 end);
      return null;
    end $$`));
  await db.execute(sql`create trigger rate_limit_writes after insert or update on rate_limits
    for each row execute function log_rate_limit_write()`);
}

/** The blocks reserved for an account, in order, and the points its counter of the current minute holds. */
async function countersOf(database: TestDatabase, accountId: string, clock: TestClock) {
  const key = `account:${accountId}:${Math.floor(clock.now().getTime() / MINUTE)}`;
  const { db } = database.handle;
  const blocks = rowsOf(await db.execute(sql`select added from rate_limit_writes where key = ${key} order by id`));
  const [row] = rowsOf(await db.execute(sql`select points from rate_limits where key = ${key}`));
  return { blocks: blocks.map((b) => Number(b.added)), points: Number(row?.points ?? 0) };
}

describe.each(DATABASE_KINDS)('rate-limit leases on one instance (%s, database store)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind, { RATE_LIMIT_STORE: 'database' });
    expect(h.config.rateLimitStore).toBe('database');
    await recordCounterWrites(h.database);
  });
  afterAll(() => h?.close());

  const startOfNextMinute = () => {
    h.clock.current = new Date((Math.floor(h.clock.now().getTime() / MINUTE) + 1) * MINUTE);
  };

  it('a burst far beyond the limit: exactly the limit succeeds, the rest get 429 with Retry-After, and the next minute starts afresh', async () => {
    startOfNextMinute();
    const limit = 50;
    const account = await h.createAccount({ rate_limit_per_minute: limit });
    const creds = credsOf(account);

    const first = await burst(200, () => h.token(grant, creds));
    expect(count(first, 200), statuses(first).join()).toBe(limit);
    expect(count(first, 429)).toBe(200 - limit);
    for (const res of first.filter((r) => r.status === 429)) {
      expect(res.body.error).toBe('too_many_requests');
      expect(res.headers.get('retry-after')).toBe('60');
      expect(remaining(res)).toBe(0);
    }
    // The counter was written far fewer times than requests were made, and refusals wrote nothing.
    const { blocks, points } = await countersOf(h.database, account.id, h.clock);
    expect(points).toBeGreaterThanOrEqual(limit);
    expect(blocks.reduce((a, b) => a + b, 0)).toBe(points);
    expect(blocks.length).toBeLessThan(limit);

    // 59 s later, still the same minute: refused without a look at the database.
    h.clock.advance(59_000);
    const late = await h.token(grant, creds);
    expect(late.status).toBe(429);
    expect(late.headers.get('retry-after')).toBe('1');

    // The next minute of the service clock: a fresh allowance, exact again.
    h.clock.advance(1_000);
    const second = await burst(80, () => h.token(grant, creds));
    expect(count(second, 200), statuses(second).join()).toBe(limit);
    expect(count(second, 429)).toBe(80 - limit);
  });

  it('RateLimit-Remaining counts down one by one and reads 0 once refused', async () => {
    startOfNextMinute();
    const limit = 8;
    const creds = credsOf(await h.createAccount({ rate_limit_per_minute: limit }));
    for (let i = 1; i <= limit; i++) {
      const res = await h.token(grant, creds);
      expect(res.status, res.text).toBe(200);
      expect(remaining(res)).toBe(limit - i);
    }
    for (let i = 0; i < 3; i++) {
      const refused = await h.token(grant, creds);
      expect(refused.status).toBe(429);
      expect(remaining(refused)).toBe(0);
    }
  });

  it('a high-traffic account writes its counter once per block: 1,000 tokens cost at most 30 writes', async () => {
    startOfNextMinute();
    const account = await h.createAccount({ rate_limit_per_minute: 1_000_000 });
    const creds = credsOf(account);

    // One client, one request at a time: each reservation doubles the last, up to 128.
    for (let i = 0; i < 255; i++) expect((await h.token(grant, creds)).status).toBe(200);
    expect((await countersOf(h.database, account.id, h.clock)).blocks).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);

    // Then many at once.
    const rest = await burst(745, () => h.token(grant, creds));
    expect(count(rest, 200)).toBe(745);
    const { blocks, points } = await countersOf(h.database, account.id, h.clock);
    expect(blocks.length).toBeLessThanOrEqual(30);
    expect(Math.max(...blocks)).toBeLessThanOrEqual(MAX_BLOCK);
    // The counter holds exactly what was reserved: every token issued, plus at most one block unused.
    expect(blocks.reduce((a, b) => a + b, 0)).toBe(points);
    expect(points).toBeGreaterThanOrEqual(1000);
    expect(points).toBeLessThanOrEqual(1000 + MAX_BLOCK);
  });
});

describe.skipIf(!DATABASE_KINDS.includes('postgres'))('rate-limit leases across two instances (postgres)', () => {
  let database: TestDatabase;
  let bDatabase: TestDatabase;
  let a: TestService;
  let b: TestService;
  /** One clock for both: the instances agree on the minute, as real ones do. */
  const clock = new TestClock();

  beforeAll(async () => {
    database = await freshDatabase('postgres');
    bDatabase = await secondConnection(database);
    await recordCounterWrites(database);
    a = await startTestService('postgres', { RATE_LIMIT_STORE: 'database' }, { database, clock });
    b = await startTestService(
      'postgres',
      { RATE_LIMIT_STORE: 'database', ISSUER: a.config.issuer },
      { database: bDatabase, clock, keysDir: a.config.keysDir, adminSecret: a.adminSecret },
    );
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await bDatabase?.destroy();
    await database?.destroy();
  });

  const startOfNextMinute = () => {
    clock.current = new Date((Math.floor(clock.now().getTime() / MINUTE) + 1) * MINUTE);
  };

  it('500 concurrent requests spread over both: never more than the limit, and short of it by at most what one instance may hold', async () => {
    startOfNextMinute();
    const limit = 300;
    const account = await a.createAccount({ rate_limit_per_minute: limit });
    const creds = credsOf(account);

    const results = await burst(500, (i) => (i % 2 === 0 ? a : b).token(grant, creds));
    const issued = count(results, 200);
    expect(count(results, 429) + issued, statuses(results).join()).toBe(500);
    // Never over: each token took a distinct position of the shared counter at or below the limit.
    expect(issued).toBeLessThanOrEqual(limit);
    // Short only by points the other instance still holds: an instance that refused once holds none and
    // reserves no more this minute, so at most one of the two holds any, at most limit/16 of them.
    expect(issued).toBeGreaterThanOrEqual(limit - mostHeld(limit));
    for (const res of results.filter((r) => r.status === 429)) expect(res.headers.get('retry-after')).toBe('60');

    const { blocks, points } = await countersOf(database, account.id, clock);
    expect(points).toBeGreaterThanOrEqual(limit);
    expect(blocks.reduce((x, y) => x + y, 0)).toBe(points);
  });

  it('RateLimit-Remaining counts down on each instance, reads 0 once refused, and the next minute is fresh on both', async () => {
    startOfNextMinute();
    const limit = 40;
    const creds = credsOf(await a.createAccount({ rate_limit_per_minute: limit }));

    const seen = { a: [] as HttpResult[], b: [] as HttpResult[] };
    for (let i = 0; i < 60; i++) {
      const [name, instance] = i % 2 === 0 ? (['a', a] as const) : (['b', b] as const);
      seen[name].push(await instance.token(grant, creds));
    }
    for (const results of [seen.a, seen.b]) {
      const firstRefusal = results.findIndex((r) => r.status === 429);
      expect(firstRefusal, 'each instance sees the limit reached').toBeGreaterThan(0);
      const granted = results.slice(0, firstRefusal);
      expect(granted.every((r) => r.status === 200)).toBe(true);
      // Strictly decreasing: each token spends one, a reservation adds what the other instance spent.
      for (let i = 1; i < granted.length; i++) expect(remaining(granted[i]!)).toBeLessThan(remaining(granted[i - 1]!));
      // Once refused, always refused this minute, with nothing remaining.
      for (const res of results.slice(firstRefusal)) expect({ status: res.status, remaining: remaining(res) }).toEqual({ status: 429, remaining: 0 });
    }
    const issued = count([...seen.a, ...seen.b], 200);
    expect(issued).toBeLessThanOrEqual(limit);
    expect(issued).toBeGreaterThanOrEqual(limit - mostHeld(limit));

    startOfNextMinute();
    expect(remaining(await a.token(grant, creds))).toBe(limit - 1);
    expect(remaining(await b.token(grant, creds))).toBeLessThanOrEqual(limit - 2);
  });
});

describe('quota leases, the reservation itself', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('32 requests arriving together share reservations: the first reserves 1, the 31 waiting for it one block of 31', async () => {
    const blocks: number[] = [];
    let total = 0;
    const leases = new QuotaLeases(async (_key, points) => {
      blocks.push(points);
      await sleep(20);
      return (total += points);
    });
    const takes = await Promise.all(Array.from({ length: 32 }, () => leases.take('k:1', 1000, 1)));
    expect(takes.every((t) => t.granted)).toBe(true);
    expect(blocks).toEqual([1, 31]);
    expect(total).toBe(32);
  });

  it('a reservation that fails fails every request waiting for it, and the next request reserves afresh', async () => {
    let fail = true;
    let total = 0;
    const leases = new QuotaLeases(async (_key, points) => {
      await sleep(10);
      if (fail) throw new Error('database unreachable');
      return (total += points);
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 5 }, () => leases.take('k:1', 10, 1)));
    expect(outcomes.map((o) => o.status)).toEqual(Array(5).fill('rejected'));
    fail = false;
    expect(await leases.take('k:1', 10, 1)).toEqual({ granted: true, used: 1 });
  });
});

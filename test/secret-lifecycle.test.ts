import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/database';
import { startTestService, startTwoInstances, TestClock, type TestService } from './support/service';

const grant = { grant_type: 'client_credentials' };
const DAY = 86_400_000;

describe.each(DATABASE_KINDS)('credential lifecycle (%s)', (kind) => {
  let h: TestService;
  beforeAll(async () => {
    h = await startTestService(kind);
  });
  afterAll(() => h?.close());

  it('create → token → disable → refused → enable → works → revoke → refused for good', async () => {
    const account = await h.createAccount({ scopes: ['jobs:run'] });
    const creds = { id: account.client_id, secret: account.secret.secret };
    const path = `/service-accounts/${account.id}`;

    expect((await h.token(grant, creds)).status).toBe(200);

    expect((await h.admin('PATCH', path, { status: 'disabled' })).body.status).toBe('disabled');
    const refused = await h.token(grant, creds);
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');

    expect((await h.admin('PATCH', path, { status: 'active' })).body.status).toBe('active');
    expect((await h.token(grant, creds)).status).toBe(200);

    expect((await h.admin('POST', `${path}/revoke`)).body.status).toBe('revoked');
    expect((await h.token(grant, creds)).body.error).toBe('invalid_client');
    expect((await h.admin('PATCH', path, { status: 'active' })).status).toBe(409);
    expect((await h.token(grant, creds)).body.error).toBe('invalid_client');
  });

  it('gives the same invalid_client answer for every kind of refusal', async () => {
    const account = await h.createAccount();
    const good = { id: account.client_id, secret: account.secret.secret };
    const second = (await h.admin('POST', `/service-accounts/${account.id}/secrets`, {})).body;
    await h.admin('PATCH', `/service-accounts/${account.id}/secrets/${second.id}`, { status: 'disabled' });

    const answers = [
      await h.token(grant, { id: 'sa_000000000000000000000000', secret: good.secret }), // unknown client
      await h.token(grant, { id: good.id, secret: `${good.secret.slice(0, -1)}${good.secret.endsWith('A') ? 'B' : 'A'}` }), // wrong secret
      await h.token(grant, { id: good.id, secret: second.secret }), // disabled secret
      await h.token(grant, { id: good.id, secret: 'not-even-our-format' }),
    ];
    for (const a of answers) {
      expect(a.status).toBe(401);
      expect(a.text).toBe(answers[0]!.text);
    }
    expect(answers[0]!.body.error).toBe('invalid_client');
  });

  it('deleting an account removes it and its secrets', async () => {
    const account = await h.createAccount();
    const creds = { id: account.client_id, secret: account.secret.secret };
    expect((await h.admin('DELETE', `/service-accounts/${account.id}`)).status).toBe(204);
    expect((await h.token(grant, creds)).body.error).toBe('invalid_client');
    expect((await h.admin('GET', `/service-accounts/${account.id}/secrets`)).status).toBe(404);
  });
});

describe.each(DATABASE_KINDS)('secret expiry, on an injected clock (%s)', (kind) => {
  it('a secret works until its expires_at and is refused from then on', async () => {
    const clock = new TestClock();
    const h = await startTestService(kind, {}, { clock });
    try {
      const account = await h.createAccount();
      const creds = { id: account.client_id, secret: account.secret.secret };
      const expiresAt = new Date(account.secret.expires_at).getTime();
      expect(expiresAt - clock.now().getTime()).toBe(730 * DAY);

      clock.current = new Date(expiresAt - 1000);
      expect((await h.token(grant, creds)).status).toBe(200);

      clock.current = new Date(expiresAt);
      const refused = await h.token(grant, creds);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe('invalid_client');
    } finally {
      await h.close();
    }
  });
});

describe.each(DATABASE_KINDS)('two instances sharing one database (%s)', (kind) => {
  let pair: Awaited<ReturnType<typeof startTwoInstances>>;
  let a: TestService;
  let b: TestService;
  beforeAll(async () => {
    pair = await startTwoInstances(kind);
    ({ a, b } = pair);
  });
  afterAll(() => pair?.close());

  it('a revoke through one instance is refused by the other on the very next request', async () => {
    const account = await a.createAccount();
    const creds = { id: account.client_id, secret: account.secret.secret };
    // Warm both instances: each has verified (and memoised) this secret.
    expect((await a.token(grant, creds)).status).toBe(200);
    expect((await b.token(grant, creds)).status).toBe(200);

    expect((await a.admin('DELETE', `/service-accounts/${account.id}/secrets/${account.secret.id}`)).status).toBe(204);
    expect((await b.token(grant, creds)).body.error).toBe('invalid_client');
  });

  it('a disable through one instance is refused by the other at once, and re-enabling works everywhere', async () => {
    const account = await b.createAccount();
    const creds = { id: account.client_id, secret: account.secret.secret };
    expect((await a.token(grant, creds)).status).toBe(200);
    await b.admin('PATCH', `/service-accounts/${account.id}`, { status: 'disabled' });
    expect((await a.token(grant, creds)).status).toBe(401);
    await b.admin('PATCH', `/service-accounts/${account.id}`, { status: 'active' });
    expect((await a.token(grant, creds)).status).toBe(200);
  });
});

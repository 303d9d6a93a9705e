import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ServiceAccountRow, StoredPermission } from '../src/db/schema';
import { authorizationDetailsFor, type TokenAuthorizationDetail } from '../src/oauth/authorization-details';
import { OAuthError } from '../src/oauth/errors';
import { TokenParams } from '../src/oauth/token-request';
import { can, type AuthorizationDetail } from '../src/verify';

// `can(token, type, key, action, context?)`: what a resource API asks of a token's authorization_details.
// Then, as properties, that the token endpoint's narrowing never grants a use the account's permissions do not.

const token = (...authorization_details: AuthorizationDetail[]) => ({ authorization_details });

describe('can()', () => {
  it('matches the type, the key and the action of an entry', () => {
    const t = token({ type: 'report', identifier: 'r1', actions: ['read', 'export'] });
    expect(can(t, 'report', 'r1', 'read')).toBe(true);
    expect(can(t, 'report', 'r1', 'export')).toBe(true);
    expect(can(t, 'report', 'r1', 'write')).toBe(false);
    expect(can(t, 'report', 'r2', 'read')).toBe(false);
    expect(can(t, 'invoice', 'r1', 'read')).toBe(false);
    expect(can({}, 'report', 'r1', 'read')).toBe(false);
  });

  it('honours `*` in the token, and matches a `*` asked for only with a `*`', () => {
    const anyKey = token({ type: 'report', identifier: '*', actions: ['read'] });
    expect(can(anyKey, 'report', 'r42', 'read')).toBe(true);
    expect(can(anyKey, 'report', '*', 'read')).toBe(true);
    expect(can(anyKey, 'report', 'r42', 'write')).toBe(false);
    const anyAction = token({ type: 'report', identifier: 'r1', actions: ['*'] });
    expect(can(anyAction, 'report', 'r1', 'delete')).toBe(true);
    expect(can(anyAction, 'report', 'r2', 'delete')).toBe(false);
    const one = token({ type: 'report', identifier: 'r1', actions: ['read'] });
    expect(can(one, 'report', '*', 'read')).toBe(false);
    expect(can(one, 'report', 'r1', '*')).toBe(false);
    // Not a pattern: `r*` is a key like any other.
    expect(can(token({ type: 'report', identifier: 'r*', actions: ['read'] }), 'report', 'r1', 'read')).toBe(false);
  });

  it('allows a limited entry only in a context that has every member of one of its objects', () => {
    const t = token({ type: 'report', identifier: '*', actions: ['read'], limiter: [{ region: 'eu', tenant: 't1' }, { region: 'us' }] });
    expect(can(t, 'report', 'r1', 'read')).toBe(false);
    expect(can(t, 'report', 'r1', 'read', {})).toBe(false);
    expect(can(t, 'report', 'r1', 'read', { region: 'eu' })).toBe(false);
    expect(can(t, 'report', 'r1', 'read', { region: 'eu', tenant: 't1' })).toBe(true);
    expect(can(t, 'report', 'r1', 'read', { region: 'eu', tenant: 't1', team: 'x' })).toBe(true);
    expect(can(t, 'report', 'r1', 'read', { region: 'us', tenant: 't9' })).toBe(true);
    expect(can(t, 'report', 'r1', 'read', { region: 'fr' })).toBe(false);
    // An entry without a limiter allows any context; another entry may allow what a limited one does not.
    const both = token(
      { type: 'report', identifier: 'r1', actions: ['read'], limiter: [{ region: 'eu' }] },
      { type: 'report', identifier: 'r2', actions: ['read'] },
    );
    expect(can(both, 'report', 'r2', 'read', { region: 'us' })).toBe(true);
    expect(can(both, 'report', 'r1', 'read', { region: 'us' })).toBe(false);
  });

  it('treats an entry of another shape as no match, and never throws', () => {
    const odd: unknown[] = [
      null,
      'report',
      { type: 'report', identifier: 'r1' },
      { type: 'report', identifier: 'r1', actions: 'read' },
      { type: 'report', identifier: ['r1'], actions: ['read'] },
      { type: 'report', identifier: 'r1', actions: ['read'], limiter: null },
      { type: 'report', identifier: 'r1', actions: ['read'], limiter: { region: 'eu' } },
      { type: 'report', identifier: 'r1', actions: ['read'], limiter: [null, 'x', [{ region: 'eu' }]] },
      { type: 'report', identifier: 'r1', actions: ['read'], limiter: [{ toString: 'x' }] },
    ];
    for (const entry of odd) expect(can(token(entry as AuthorizationDetail), 'report', 'r1', 'read', { region: 'eu' })).toBe(false);
    expect(can({ authorization_details: 'report' as never }, 'report', 'r1', 'read')).toBe(false);
    // Members of Object.prototype are not the context's.
    expect(can(token({ type: 'r', identifier: 'k', actions: ['a'], limiter: [{ constructor: 'x' }] }), 'r', 'k', 'a', {})).toBe(false);
  });
});

// ---- Narrowing (oauth/authorization-details.ts) against can() ----

const TYPES = ['report', 'invoice'];
const KEYS = ['r1', 'r2', '*'];
const ACTIONS = ['read', 'write', '*'];
const limiterObject = fc.dictionary(fc.constantFrom('region', 'tenant'), fc.constantFrom('eu', 'us'), { minKeys: 1 });
const limiter = fc.array(limiterObject, { minLength: 1, maxLength: 3 });
const permission: fc.Arbitrary<StoredPermission> = fc.record(
  {
    id: fc.uuid(),
    resource_type: fc.constantFrom(...TYPES),
    resource_key: fc.constantFrom(...KEYS),
    action: fc.constantFrom(...ACTIONS),
    limiter,
    created_at: fc.constant('2026-06-01T12:00:00.000Z'),
  },
  { requiredKeys: ['id', 'resource_type', 'resource_key', 'action', 'created_at'] },
);
const permissions = fc.array(permission, { maxLength: 5 });
const requestedEntry = fc.record(
  {
    type: fc.constantFrom(...TYPES),
    identifier: fc.constantFrom(...KEYS),
    actions: fc.uniqueArray(fc.constantFrom(...ACTIONS), { minLength: 1 }),
    limiter,
  },
  { requiredKeys: ['type'] },
);
const query = fc.record({
  type: fc.constantFrom(...TYPES),
  key: fc.constantFrom(...KEYS),
  action: fc.constantFrom(...ACTIONS),
  context: fc.option(fc.dictionary(fc.constantFrom('region', 'tenant', 'team'), fc.constantFrom('eu', 'us')), { nil: undefined }),
});

const accountWith = (held: StoredPermission[]) => ({ permissions: held }) as ServiceAccountRow;
const form = (details?: unknown) =>
  TokenParams.parse(
    'application/x-www-form-urlencoded',
    new URLSearchParams({ grant_type: 'client_credentials', ...(details ? { authorization_details: JSON.stringify(details) } : {}) }).toString(),
  );
/** The token's authorization_details for this request, or undefined when it is refused. */
function narrowed(held: StoredPermission[], asked: unknown): { authorization_details?: TokenAuthorizationDetail[] } | undefined {
  try {
    const details = authorizationDetailsFor(accountWith(held), form(asked));
    return details ? { authorization_details: details } : {};
  } catch (error) {
    if (error instanceof OAuthError && error.error === 'invalid_authorization_details') return undefined;
    throw error;
  }
}

/** What the permissions themselves allow, written independently of both. */
function allowed(held: StoredPermission[], q: { type: string; key: string; action: string; context?: Record<string, string> | undefined }) {
  return held.some(
    (p) =>
      p.resource_type === q.type &&
      (p.resource_key === '*' || p.resource_key === q.key) &&
      (p.action === '*' || p.action === q.action) &&
      (!p.limiter || (q.context !== undefined && p.limiter.some((o) => Object.entries(o).every(([k, v]) => q.context![k] === v)))),
  );
}

describe('narrowed authorization_details and can() agree', () => {
  it('a token with every permission allows exactly what the permissions allow', () => {
    fc.assert(
      fc.property(permissions, query, (held, q) => {
        const t = narrowed(held, undefined)!;
        expect(can(t, q.type, q.key, q.action, q.context)).toBe(allowed(held, q));
      }),
      { numRuns: 500 },
    );
  });

  it('a narrowed token never allows what the permissions do not', () => {
    let accepted = 0;
    fc.assert(
      fc.property(permissions, fc.array(requestedEntry, { maxLength: 3 }), fc.array(query, { minLength: 1, maxLength: 20 }), (held, asked, queries) => {
        const t = narrowed(held, asked);
        if (!t) return;
        accepted++;
        for (const q of queries) if (can(t, q.type, q.key, q.action, q.context)) expect(allowed(held, q), JSON.stringify({ held, asked, q })).toBe(true);
      }),
      { numRuns: 1000 },
    );
    // The property says something only if many requests were granted.
    expect(accepted).toBeGreaterThan(100);
  });

  it('grants any request made of the account’s own entries, or of narrower ones', () => {
    // One entry per permission, narrowed: a key under its `*`, an action under its `*`, limiter objects with more members.
    const extraMembers = fc.dictionary(fc.constantFrom('team'), fc.constantFrom('a', 'b'));
    const narrower = (p: StoredPermission) =>
      fc.record({
        type: fc.constant(p.resource_type),
        identifier: p.resource_key === '*' ? fc.constantFrom(...KEYS) : fc.constant(p.resource_key),
        actions: p.action === '*' ? fc.uniqueArray(fc.constantFrom(...ACTIONS), { minLength: 1 }) : fc.constant([p.action]),
        limiter: p.limiter
          ? fc
              .array(fc.tuple(fc.constantFrom(...p.limiter), extraMembers), { minLength: 1, maxLength: 3 })
              .map((alternatives) => alternatives.map(([object, extra]) => ({ ...extra, ...object })))
          : fc.option(limiter, { nil: undefined }),
      });
    const case_ = permissions
      .filter((held) => held.length > 0)
      .chain((held) => fc.tuple(fc.constant(held), fc.tuple(...held.map(narrower))));
    fc.assert(
      fc.property(case_, ([held, asked]) => {
        const own = held.map((p) => ({
          type: p.resource_type,
          identifier: p.resource_key,
          actions: [p.action],
          ...(p.limiter ? { limiter: p.limiter } : {}),
        }));
        expect(narrowed(held, own)).toEqual(narrowed(held, undefined));
        const entries = asked.map(({ limiter: l, ...rest }) => (l ? { ...rest, limiter: l } : rest));
        expect(narrowed(held, entries)?.authorization_details).toEqual(entries);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses what is not a list of entries of our shape, and never throws anything else', () => {
    fc.assert(
      fc.property(permissions, fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.string()), (held, raw) => {
        const body = new URLSearchParams({ authorization_details: typeof raw === 'string' ? raw : JSON.stringify(raw) }).toString();
        const params = TokenParams.parse('application/x-www-form-urlencoded', body);
        try {
          authorizationDetailsFor(accountWith(held), params);
        } catch (error) {
          expect(error).toBeInstanceOf(OAuthError);
          expect(['invalid_request', 'invalid_authorization_details']).toContain((error as OAuthError).error);
        }
      }),
      { numRuns: 500 },
    );
  });
});

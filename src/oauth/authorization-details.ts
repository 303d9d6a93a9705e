import { MAX_PERMISSIONS, WILDCARD, permissionFields, type Limiter } from '../accounts/permissions';
import type { AuthenticatedAccount } from '../accounts/credential-cache';
import type { StoredPermission } from '../db/schema';
import { InvalidAuthorizationDetails, InvalidRequest } from './errors';
import type { TokenParams } from './token-request';

/** One RFC 9396 authorization_details entry as our tokens carry it. */
export interface TokenAuthorizationDetail {
  type: string;
  identifier: string;
  actions: string[];
  limiter?: Record<string, string>[];
}

/** The members a requested entry may have: those of our one shape (RFC 9396 §2.2 `identifier` and `actions`). */
const MEMBERS = new Set(['type', 'identifier', 'actions', 'limiter']);
const MAX_ACTIONS = 20;

/**
 * The authorization_details a token gets: the account's permissions, one entry each, or, when the request has
 * an `authorization_details` parameter (RFC 9396 §2: a JSON array), exactly the entries it asks for, each of
 * which must be covered by the permissions (else invalid_authorization_details). Undefined: none (the claim is
 * left out). A requested entry without `identifier` or `actions` asks for every one (`*`).
 */
export function authorizationDetailsFor(account: AuthenticatedAccount, params: TokenParams): TokenAuthorizationDetail[] | undefined {
  const raw = params.get('authorization_details');
  if (raw === undefined) return account.permissions.length === 0 ? undefined : account.permissions.map(entryOf);
  const requested = parseRequested(raw);
  requested.forEach((entry, i) => {
    if (!covered(entry, account.permissions)) {
      throw new InvalidAuthorizationDetails(`authorization_details entry ${i} asks for more than the client's permissions allow`);
    }
  });
  return requested.length === 0 ? undefined : requested;
}

const entryOf = (p: StoredPermission): TokenAuthorizationDetail => ({
  type: p.resource_type,
  identifier: p.resource_key,
  actions: [p.action],
  ...(p.limiter ? { limiter: p.limiter } : {}),
});

/**
 * Whether the permissions grant every use the entry would: each of its actions, for each of its limiter's
 * objects (or with no limiter at all), by some permission of the same type whose key and action are the
 * requested ones or `*`, and whose limiter, if it has one, has an object the requested one contains. A token
 * holding the entry then lets `can()` (verify/can.ts) say yes only where a permission does.
 */
function covered(entry: TokenAuthorizationDetail, permissions: StoredPermission[]): boolean {
  const alternatives: (Record<string, string> | undefined)[] = entry.limiter ?? [undefined];
  return entry.actions.every((action) =>
    alternatives.every((alternative) => permissions.some((p) => grants(p, entry, action, alternative))),
  );
}

function grants(
  p: StoredPermission,
  entry: TokenAuthorizationDetail,
  action: string,
  alternative: Record<string, string> | undefined,
): boolean {
  return (
    p.resource_type === entry.type &&
    (p.resource_key === WILDCARD || p.resource_key === entry.identifier) &&
    (p.action === WILDCARD || p.action === action) &&
    (!p.limiter || (alternative !== undefined && p.limiter.some((object) => contains(alternative, object))))
  );
}

/** Every member of `inner` is in `outer`, with the same value. */
const contains = (outer: Record<string, string>, inner: Record<string, string>) =>
  Object.entries(inner).every(([key, value]) => Object.hasOwn(outer, key) && outer[key] === value);

/**
 * The parameter's entries in our shape. Not JSON, or not an array: invalid_request (a malformed parameter);
 * an entry that is not of our shape (RFC 9396 §5): invalid_authorization_details. Never echoes a value.
 */
function parseRequested(raw: string): TokenAuthorizationDetail[] {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new InvalidRequest('authorization_details must be a JSON array (RFC 9396)');
  }
  if (!Array.isArray(value)) throw new InvalidRequest('authorization_details must be a JSON array (RFC 9396)');
  if (value.length > MAX_PERMISSIONS) {
    throw new InvalidAuthorizationDetails(`authorization_details may have at most ${MAX_PERMISSIONS} entries`);
  }
  return value.map(parseEntry);
}

function parseEntry(entry: unknown, i: number): TokenAuthorizationDetail {
  const refuse = (what: string) => new InvalidAuthorizationDetails(`authorization_details entry ${i}: ${what}`);
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw refuse('must be an object');
  const members = entry as Record<string, unknown>;
  for (const member of Object.keys(members)) {
    if (!MEMBERS.has(member)) throw refuse(`the member ${safeName(member)} is not supported (only ${[...MEMBERS].join(', ')})`);
  }
  if (!permissionFields.resource_type.safeParse(members.type).success) throw refuse('type must be a resource type');
  const identifier = members.identifier ?? WILDCARD;
  if (!permissionFields.resource_key.safeParse(identifier).success) throw refuse('identifier must be 1-200 printable characters');
  const actions = members.actions ?? [WILDCARD];
  if (
    !Array.isArray(actions) ||
    actions.length === 0 ||
    actions.length > MAX_ACTIONS ||
    !actions.every((a) => permissionFields.action.safeParse(a).success)
  ) {
    throw refuse(`actions must be an array of 1-${MAX_ACTIONS} actions`);
  }
  let limiter: Limiter | undefined;
  if (members.limiter !== undefined) {
    const parsed = permissionFields.limiter.safeParse(members.limiter);
    if (!parsed.success) throw refuse('limiter must be an array of 1-10 objects of 1-20 string members');
    limiter = parsed.data;
  }
  return {
    type: members.type as string,
    identifier: identifier as string,
    actions: [...new Set(actions as string[])],
    ...(limiter ? { limiter } : {}),
  };
}

/** Echo a member name only when it is short and plain; never echo values. */
const safeName = (name: string) => (/^[A-Za-z0-9_.-]{1,40}$/.test(name) ? name : '(unnamed)');

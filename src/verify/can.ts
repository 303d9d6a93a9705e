/** What a limiter is matched against: the use's attributes, e.g. `{ region: 'eu' }`. */
export type PermissionContext = Readonly<Record<string, string>>;

const WILDCARD = '*';

/**
 * Whether the token's RFC 9396 `authorization_details` let its client do `action` to the resource `key` of
 * `type`. True when one entry has that `type`, an `identifier` equal to `key` or `*`, `actions` naming
 * `action` or `*`, and either no `limiter` or one with an object whose every member `context` has, with the
 * same value. Wildcards are not patterns: `*` in a token matches any key or action; `*` asked for matches
 * only `*`. An entry of another shape is no match; never throws. `token`: a VerifiedToken, or any JWT payload
 * (e.g. jose's `jwtVerify` result's), whose `authorization_details` is checked here.
 *
 * ```ts
 * if (!can(c.var.token, 'report', reportId, 'read', { region: 'eu' })) return c.json({ error: 'forbidden' }, 403);
 * ```
 */
export function can(
  token: { readonly authorization_details?: unknown },
  type: string,
  key: string,
  action: string,
  context?: PermissionContext,
): boolean {
  const details: unknown = token.authorization_details;
  if (!Array.isArray(details)) return false;
  return details.some(
    (entry: unknown) =>
      isRecord(entry) &&
      entry.type === type &&
      (entry.identifier === key || entry.identifier === WILDCARD) &&
      Array.isArray(entry.actions) &&
      (entry.actions.includes(action) || entry.actions.includes(WILDCARD)) &&
      limiterAllows(entry.limiter, context),
  );
}

/** No limiter allows any use; a limiter allows a context that has every member of one of its objects. */
function limiterAllows(limiter: unknown, context: PermissionContext | undefined): boolean {
  if (limiter === undefined) return true;
  if (!Array.isArray(limiter) || context === undefined) return false;
  return limiter.some(
    (object: unknown) =>
      isRecord(object) && Object.entries(object).every(([name, value]) => Object.hasOwn(context, name) && context[name] === value),
  );
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

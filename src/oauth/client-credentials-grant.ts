import type { AuthenticatedAccount } from '../accounts/credential-cache';
import { InvalidRequest, InvalidScope, InvalidTarget } from './errors';
import type { TokenParams } from './token-request';

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
export const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export interface Grant {
  scope: string[];
  audience: string | string[];
}

export interface GrantSettings {
  defaultAudience: string;
}

/**
 * What the account may receive for this request. `scope` must be a subset of the account's scopes and those
 * of its roles, `roleScopes` (absent: all of them). `audience` (one value) or `resource` (RFC 8707, one or more absolute URIs) must name
 * audiences the account holds (absent: its first audience, else the configured default).
 */
export function grantFor(account: AuthenticatedAccount, params: TokenParams, settings: GrantSettings, roleScopes: string[] = []): Grant {
  const allowed = roleScopes.length === 0 ? account.scopes : [...new Set([...account.scopes, ...roleScopes])];
  return { scope: grantedScopes(allowed, params.get('scope')), audience: grantedAudience(account, params, settings) };
}

function grantedScopes(allowedScopes: string[], requested: string | undefined): string[] {
  if (requested === undefined) return [...allowedScopes];
  const tokens = requested.split(' ').filter(Boolean);
  if (tokens.length === 0 || !tokens.every((t) => SCOPE_TOKEN.test(t))) {
    throw new InvalidScope('scope is malformed');
  }
  const allowed = new Set(allowedScopes);
  const refused = tokens.filter((t) => !allowed.has(t));
  if (refused.length > 0) throw new InvalidScope('the client may not request some of the scopes');
  return [...new Set(tokens)];
}

function grantedAudience(account: AuthenticatedAccount, params: TokenParams, settings: GrantSettings): string | string[] {
  const audience = params.get('audience');
  const resources = params.all('resource');
  if (audience !== undefined && resources.length > 0) {
    throw new InvalidRequest('use either audience or resource, not both');
  }
  for (const r of resources) {
    if (!isAbsoluteUriWithoutFragment(r)) throw new InvalidTarget('resource must be an absolute URI without a fragment');
  }
  const requested = audience !== undefined ? [audience] : [...new Set(resources)];
  if (requested.length === 0) return account.audiences[0] ?? settings.defaultAudience;
  const allowed = new Set(account.audiences);
  if (!requested.every((a) => allowed.has(a))) throw new InvalidTarget('the client may not request this audience');
  return requested.length === 1 ? requested[0]! : requested;
}

function isAbsoluteUriWithoutFragment(value: string): boolean {
  if (value.includes('#') || !/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

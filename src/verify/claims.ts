import type { JWTPayload } from 'jose';
import { TokenVerificationError, type AuthScheme } from './errors';

/** One entry of RFC 9396 `authorization_details`: a `type` and whatever that type defines. */
export interface AuthorizationDetail {
  type: string;
  [member: string]: unknown;
}

/** The claims of an access token that passed every check, typed; `scope` split into its values. */
export interface VerifiedToken {
  iss: string;
  sub: string;
  client_id: string;
  aud: string | string[];
  /** The space-separated `scope` claim, split; empty when the token carries none. */
  scope: string[];
  exp: number;
  iat: number;
  jti: string;
  nbf?: number;
  /** RFC 7800 confirmation; `jkt` (RFC 9449) when the token is DPoP-bound. */
  cnf?: { jkt?: string; [member: string]: unknown };
  authorization_details?: AuthorizationDetail[];
  org_id?: string;
  [claim: string]: unknown;
}

const malformed = (message: string) => new TokenVerificationError('token_malformed', message);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Types the payload of a token whose signature, iss, aud, exp and nbf jose already checked: RFC 9068 §2.2
 * required claims of the right JSON types, `iat` not in the future, and the optional claims we name well formed.
 */
export function toVerifiedToken(payload: JWTPayload, now: Date, clockToleranceSeconds: number): VerifiedToken {
  for (const claim of ['sub', 'client_id', 'jti'] as const) {
    if (typeof payload[claim] !== 'string' || payload[claim] === '') throw malformed(`the token's ${claim} claim must be a non-empty string`);
  }
  for (const claim of ['exp', 'iat'] as const) {
    if (typeof payload[claim] !== 'number' || !Number.isFinite(payload[claim])) throw malformed(`the token's ${claim} claim must be a number`);
  }
  if (payload.iat! > Math.floor(now.getTime() / 1000) + clockToleranceSeconds) {
    throw new TokenVerificationError('token_not_yet_valid', 'the token was issued in the future (iat)');
  }
  if (payload.scope !== undefined && typeof payload.scope !== 'string') throw malformed("the token's scope claim must be a string");
  if (payload.cnf !== undefined && (!isRecord(payload.cnf) || (payload.cnf.jkt !== undefined && typeof payload.cnf.jkt !== 'string'))) {
    throw malformed("the token's cnf claim is malformed");
  }
  const details = payload.authorization_details;
  if (details !== undefined && (!Array.isArray(details) || !details.every((d) => isRecord(d) && typeof d.type === 'string'))) {
    throw malformed("the token's authorization_details claim must be an array of objects with a type");
  }
  if (payload.org_id !== undefined && typeof payload.org_id !== 'string') throw malformed("the token's org_id claim must be a string");

  const scope = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  return { ...payload, scope } as VerifiedToken;
}

/** Throws insufficient_scope (403) unless the token holds every one of `required`. */
export function requireScopes(token: VerifiedToken, required: readonly string[], scheme: AuthScheme): void {
  const held = new Set(token.scope);
  const missing = required.filter((s) => !held.has(s));
  if (missing.length > 0) {
    throw new TokenVerificationError('insufficient_scope', `the token lacks the scope ${missing.join(' ')}`, {
      scheme,
      requiredScopes: [...new Set(required)],
    });
  }
}

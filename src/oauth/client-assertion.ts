import { eq } from 'drizzle-orm';
import { decodeJwt, decodeProtectedHeader, errors, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { findAccountByClientId } from '../accounts/accounts';
import { accountState, failed, type ClientAuthResult, type Credential } from '../accounts/authenticate-client';
import { CLIENT_ASSERTION_ALGS } from '../accounts/client-keys';
import type { AccountsContext } from '../accounts/context';
import { clientKeys, type ClientKeyRow } from '../db/schema';
import type { JtiReplayGuard } from './jti-replay';

/** RFC 7523 §2.2 */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An assertion may be valid for at most this long from now: a short-lived proof, not a credential. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 30;
const MAX_JTI_LENGTH = 200;

export interface AssertionSettings {
  /** The audience an assertion must name (RFC 7523bis): our issuer identifier. */
  issuer: string;
  /** Also accepted as audience, for clients written against RFC 7523 as first published. */
  tokenEndpoint: string;
}

/**
 * The client_id an assertion claims, read before its signature is checked (to find the keys to check it
 * with): `iss` and `sub` must both be it. Undefined when the assertion is not a JWT saying so.
 */
export function assertionClientId(assertion: string): string | undefined {
  try {
    const claims = decodeJwt(assertion);
    return typeof claims.iss === 'string' && claims.iss !== '' && claims.iss === claims.sub ? claims.iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * private_key_jwt (RFC 7523 §2.2, RFC 7521 §4.2): the assertion must be signed by one of the account's
 * registered keys with an allowed algorithm, name us as audience, be short-lived, and carry a `jti` never
 * seen before it expires (on any instance). Every failure is a typed reason for the audit trail.
 */
export async function authenticateAssertion(
  ctx: AccountsContext,
  replay: JtiReplayGuard,
  settings: AssertionSettings,
  clientId: string,
  assertion: string,
): Promise<ClientAuthResult> {
  const account = await findAccountByClientId(ctx, clientId);
  if (!account) return { ok: false, reason: 'unknown_client', clientId };
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    return failed(account, undefined, 'assertion_invalid');
  }
  if (!(CLIENT_ASSERTION_ALGS as readonly unknown[]).includes(header.alg)) return failed(account, undefined, 'assertion_invalid');
  // Another kind of JWT of ours is never a client assertion.
  if (header.typ === 'at+jwt' || header.typ === 'dpop+jwt') return failed(account, undefined, 'assertion_invalid');

  const keys = await ctx.db.select().from(clientKeys).where(eq(clientKeys.accountId, account.id));
  const candidates = keys.filter((k) => k.alg === header.alg && (header.kid === undefined || k.kid === header.kid));
  if (candidates.length === 0) return failed(account, undefined, 'unknown_key');

  const now = ctx.clock();
  let verified: { key: ClientKeyRow; payload: JWTPayload } | undefined;
  let reason: 'assertion_invalid' | 'assertion_expired' = 'assertion_invalid';
  for (const key of candidates) {
    try {
      const { payload } = await jwtVerify(assertion, await importJWK(key.jwk as JWK, key.alg), {
        algorithms: [key.alg],
        issuer: clientId,
        subject: clientId,
        audience: [settings.issuer, settings.tokenEndpoint],
        requiredClaims: ['exp', 'jti'],
        currentDate: now,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      verified = { key, payload };
      break;
    } catch (error) {
      if (error instanceof errors.JWTExpired) reason = 'assertion_expired';
    }
  }
  if (!verified) return failed(account, undefined, reason);

  const { key, payload } = verified;
  const credential: Credential = { kind: 'key', id: key.id };
  const nowSeconds = Math.floor(now.getTime() / 1000);
  const exp = payload.exp!;
  const jti = payload.jti!;
  if (exp > nowSeconds + MAX_ASSERTION_LIFETIME_SECONDS || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    return failed(account, credential, 'assertion_invalid');
  }
  const accountProblem = accountState(account);
  if (accountProblem) return failed(account, credential, accountProblem);
  if (key.status !== 'active') return failed(account, credential, 'key_disabled');
  const expiresAt = new Date((exp + CLOCK_TOLERANCE_SECONDS) * 1000);
  if (!(await replay.firstUse(`assertion:${account.id}`, jti, expiresAt, now))) {
    return failed(account, credential, 'assertion_replayed');
  }
  return { ok: true, account, credential };
}

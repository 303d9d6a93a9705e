import { and, desc, eq } from 'drizzle-orm';
import { DatabaseUnavailable, isDatabaseUnavailable } from '../db/availability';
import { clientSecrets, serviceAccounts } from '../db/schema';
import type { AccountsContext } from './context';
import { CredentialCache, type AuthenticatedAccount, type VerifiedSecret } from './credential-cache';
import { secretIdOf } from './secret-format';

/** Why a client authentication failed. Clients only ever see `invalid_client`; the audit trail sees this. */
export type AuthFailureReason =
  | 'unknown_client'
  | 'bad_secret'
  | 'secret_disabled'
  | 'secret_revoked'
  | 'secret_expired'
  | 'account_disabled'
  | 'account_revoked'
  | 'unknown_key'
  | 'key_disabled'
  | 'assertion_invalid'
  | 'assertion_expired'
  | 'assertion_replayed';

/** What the client proved it holds: one of its secrets, or one of its registered keys (private_key_jwt). */
export interface Credential {
  kind: 'secret' | 'key';
  id: string;
}

export type ClientAuthResult =
  | { ok: true; account: AuthenticatedAccount; credential: Credential }
  | {
      ok: false;
      reason: AuthFailureReason;
      clientId: string;
      accountId?: string | undefined;
      /** The account's organization, when the account is known (for the audit trail). */
      orgId?: string | undefined;
      credential?: Credential | undefined;
    };

/**
 * Checks a client_id and secret. A credential this process verified recently is answered from the
 * credential cache: no database round trip, no argon2. Otherwise it costs one indexed query and at most one
 * argon2 verify; an unknown client costs the same argon2 work as a wrong secret. Status and expiry are
 * judged on every call, and every change to an account or secret drops the cached rows in every process
 * (see credential-cache.ts), so a disable or revoke takes effect on the very next request everywhere.
 * Throws DatabaseUnavailable when the database cannot be reached and the credential is not one verified
 * within the cache's TTL.
 */
export async function authenticateClient(
  ctx: AccountsContext,
  clientId: string,
  presented: string,
): Promise<ClientAuthResult> {
  const secretId = secretIdOf(presented);
  const key = CredentialCache.keyOf(secretId, clientId);
  const cached = ctx.credentials.get(key, presented);
  if (cached && cached.account.clientId === clientId) return judge(ctx, cached.account, cached.secret);

  const epoch = ctx.credentials.epoch;
  const read = () =>
    ctx.db
      .select({ account: serviceAccounts, secret: clientSecrets })
      .from(serviceAccounts)
      .leftJoin(
        clientSecrets,
        secretId
          ? and(eq(clientSecrets.accountId, serviceAccounts.id), eq(clientSecrets.id, secretId))
          : and(eq(clientSecrets.accountId, serviceAccounts.id), eq(clientSecrets.origin, 'supplied')),
      )
      .where(eq(serviceAccounts.clientId, clientId))
      .orderBy(desc(clientSecrets.createdAt))
      .limit(1);
  let found: Awaited<ReturnType<typeof read>>[number] | undefined;
  try {
    [found] = await (ctx.hotReads ? ctx.hotReads.read(read) : read());
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    // The database is out of reach: a credential verified within the cache's TTL still counts (the bound
    // and why it is safe: credential-cache.ts). Anything else fails as DatabaseUnavailable (503).
    const recent = ctx.credentials.getWhileUnreachable(key, presented);
    if (recent && recent.account.clientId === clientId) return judge(ctx, recent.account, recent.secret);
    throw error instanceof DatabaseUnavailable ? error : new DatabaseUnavailable(undefined, { cause: error });
  }

  if (!found?.secret) {
    await ctx.hasher.burn(presented);
    return { ok: false, reason: found ? 'bad_secret' : 'unknown_client', clientId, accountId: found?.account.id, orgId: found?.account.orgId };
  }
  const { account, secret } = found;
  if (!(await ctx.hasher.verify(secret.hash, presented, secret.id))) {
    return { ok: false, reason: 'bad_secret', clientId, accountId: account.id, orgId: account.orgId, credential: { kind: 'secret', id: secret.id } };
  }
  // Genuine, whatever its state: cached, so that a client retrying with a disabled secret costs no argon2.
  ctx.credentials.set(key, presented, { account, secret }, epoch);
  return judge(ctx, account, secret);
}

/** The states of a genuine credential, most permanent first. */
function judge(ctx: AccountsContext, account: AuthenticatedAccount, secret: VerifiedSecret): ClientAuthResult {
  const credential: Credential = { kind: 'secret', id: secret.id };
  const accountProblem = accountState(account);
  if (accountProblem === 'account_revoked') return failed(account, credential, accountProblem);
  if (secret.status === 'revoked') return failed(account, credential, 'secret_revoked');
  if (accountProblem) return failed(account, credential, accountProblem);
  if (secret.status === 'disabled') return failed(account, credential, 'secret_disabled');
  if (secret.expiresAt.getTime() <= ctx.clock().getTime()) return failed(account, credential, 'secret_expired');
  return { ok: true, account, credential };
}

/** Why an account may not authenticate at all, if it may not. */
export function accountState(account: AuthenticatedAccount): 'account_revoked' | 'account_disabled' | undefined {
  if (account.status === 'revoked') return 'account_revoked';
  if (account.status === 'disabled') return 'account_disabled';
  return undefined;
}

export function failed(account: AuthenticatedAccount, credential: Credential | undefined, reason: AuthFailureReason): ClientAuthResult {
  return { ok: false, reason, clientId: account.clientId, accountId: account.id, orgId: account.orgId, credential };
}

import { and, count, desc, eq, gt, ne } from 'drizzle-orm';
import { clientSecrets, serviceAccounts, type ClientSecretRow } from '../db/schema';
import type { AccountsContext } from './context';
import { ConflictError, InvalidFieldsError, NotFoundError, isUuid } from './errors';
import { generateSecret } from './secret-format';

export type SecretState = 'active' | 'disabled' | 'revoked' | 'expired';

/** The status a user sees: a revoked secret stays revoked; otherwise an expired one shows as expired. */
export function secretState(row: ClientSecretRow, now: Date): SecretState {
  if (row.status === 'revoked') return 'revoked';
  if (row.expiresAt.getTime() <= now.getTime()) return 'expired';
  return row.status;
}

export interface NewSecret {
  row: ClientSecretRow;
  /** Shown once to the caller; never stored. */
  plaintext: string;
}

export interface SecretInput {
  description?: string | undefined;
  expiresAt?: Date | undefined;
}

/** Builds a secret row (hashing off the event loop) without writing it. */
export async function prepareSecret(
  ctx: AccountsContext,
  accountId: string,
  input: SecretInput & { supplied?: string },
): Promise<NewSecret> {
  const now = ctx.clock();
  const expiresAt = input.expiresAt ?? new Date(now.getTime() + ctx.settings.secretTtlDays * 86_400_000);
  if (expiresAt.getTime() <= now.getTime()) {
    throw new InvalidFieldsError([{ field: 'expires_at', message: 'must be in the future' }]);
  }
  const generated = generateSecret();
  const plaintext = input.supplied ?? generated.plaintext;
  const row: ClientSecretRow = {
    id: generated.id,
    accountId,
    // An operator-chosen secret may be weak: show none of it.
    prefix: input.supplied ? 'supplied' : generated.prefix,
    hash: await ctx.hasher.hash(plaintext),
    origin: input.supplied ? 'supplied' : 'generated',
    description: input.description ?? '',
    status: 'active',
    expiresAt,
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
  };
  return { row, plaintext };
}

/** Adds a secret to an account, respecting the cap on usable secrets even under concurrent calls. */
export async function addSecret(ctx: AccountsContext, accountId: string, input: SecretInput): Promise<NewSecret> {
  if (!isUuid(accountId)) throw new NotFoundError('service account');
  const secret = await prepareSecret(ctx, accountId, input);
  await ctx.db.transaction(async (tx) => {
    await lockUsableAccount(ctx, tx, accountId);
    await tx.insert(clientSecrets).values(secret.row);
    await tx.update(serviceAccounts).set({ updatedAt: ctx.clock() }).where(eq(serviceAccounts.id, accountId));
  });
  return secret;
}

export async function listSecrets(ctx: AccountsContext, accountId: string): Promise<ClientSecretRow[]> {
  await requireAccount(ctx, accountId);
  return ctx.db
    .select()
    .from(clientSecrets)
    .where(eq(clientSecrets.accountId, accountId))
    .orderBy(desc(clientSecrets.createdAt), desc(clientSecrets.id));
}

/** Enables or disables a secret. A revoked secret stays revoked (409). */
export async function setSecretStatus(
  ctx: AccountsContext,
  accountId: string,
  secretId: string,
  status: 'active' | 'disabled',
): Promise<ClientSecretRow> {
  const current = await requireSecret(ctx, accountId, secretId);
  if (current.status === 'revoked') throw new ConflictError('the secret is revoked; revocation is permanent');
  return ctx.db.transaction(async (tx) => {
    if (status === 'active' && current.status !== 'active') await lockUsableAccount(ctx, tx, accountId);
    const [row] = await tx
      .update(clientSecrets)
      .set({ status, updatedAt: ctx.clock() })
      .where(
        and(eq(clientSecrets.id, secretId), eq(clientSecrets.accountId, accountId), ne(clientSecrets.status, 'revoked')),
      )
      .returning();
    if (!row) throw new ConflictError('the secret is revoked; revocation is permanent');
    return row;
  });
}

type Tx = Parameters<Parameters<AccountsContext['db']['transaction']>[0]>[0];

/**
 * Locks the account row for the rest of the transaction and checks that it may gain one more usable secret:
 * it exists, is not revoked, and holds fewer than the cap of active, unexpired secrets.
 */
async function lockUsableAccount(ctx: AccountsContext, tx: Tx, accountId: string): Promise<void> {
  const [account] = await tx
    .select({ status: serviceAccounts.status })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, accountId))
    .for('update');
  if (!account) throw new NotFoundError('service account');
  if (account.status === 'revoked') throw new ConflictError('the service account is revoked');
  const [usable] = await tx
    .select({ n: count() })
    .from(clientSecrets)
    .where(
      and(
        eq(clientSecrets.accountId, accountId),
        eq(clientSecrets.status, 'active'),
        gt(clientSecrets.expiresAt, ctx.clock()),
      ),
    );
  if ((usable?.n ?? 0) >= ctx.settings.maxActiveSecrets) {
    throw new ConflictError(
      `the account already has ${ctx.settings.maxActiveSecrets} active secrets; disable or revoke one first`,
    );
  }
}

/** Revokes a secret for good. Revoking twice is harmless. */
export async function revokeSecret(ctx: AccountsContext, accountId: string, secretId: string): Promise<void> {
  await requireSecret(ctx, accountId, secretId);
  await ctx.db
    .update(clientSecrets)
    .set({ status: 'revoked', updatedAt: ctx.clock() })
    .where(and(eq(clientSecrets.id, secretId), eq(clientSecrets.accountId, accountId)));
  ctx.hasher.forget(secretId);
}

async function requireAccount(ctx: AccountsContext, accountId: string): Promise<void> {
  if (!isUuid(accountId)) throw new NotFoundError('service account');
  const [found] = await ctx.db
    .select({ id: serviceAccounts.id })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, accountId));
  if (!found) throw new NotFoundError('service account');
}

async function requireSecret(ctx: AccountsContext, accountId: string, secretId: string): Promise<ClientSecretRow> {
  await requireAccount(ctx, accountId);
  if (!isUuid(secretId)) throw new NotFoundError('secret');
  const [row] = await ctx.db
    .select()
    .from(clientSecrets)
    .where(and(eq(clientSecrets.id, secretId), eq(clientSecrets.accountId, accountId)));
  if (!row) throw new NotFoundError('secret');
  return row;
}

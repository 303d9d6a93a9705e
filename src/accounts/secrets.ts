import { and, asc, count, eq, gt, ne, type SQL } from 'drizzle-orm';
import { descNullsLast, keysetAfter } from '../db/order';
import { clientSecrets, serviceAccounts, type ClientSecretRow, type ServiceAccountRow } from '../db/schema';
import { changeAccount } from './account-changes';
import type { AccountsContext, Tx } from './context';
import { decodeCursor, encodeCursor } from './cursor';
import { ConflictError, InvalidFieldsError, NotFoundError, isUuid } from './errors';
import {
  expirationCondition,
  secretStateCondition,
  type ExpirationFilter,
  type SecretStateFilter,
} from './secret-filters';
import { generateSecret } from './secret-format';

/** The latest instant a timestamp column holds as a four-digit year: later dates are refused, not stored. */
const LATEST_EXPIRY = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

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
  if (expiresAt.getTime() > LATEST_EXPIRY) {
    throw new InvalidFieldsError([{ field: 'expires_at', message: 'must be no later than 9999-12-31T23:59:59Z' }]);
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
    lastUsedIp: null,
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

export interface SecretQuery {
  limit: number;
  cursor?: string | undefined;
  status?: SecretStateFilter | undefined;
  expiration?: ExpirationFilter | undefined;
  /** listAllSecrets: only this organization's accounts. */
  orgId?: string | undefined;
}

function filters(ctx: AccountsContext, query: SecretQuery): SQL[] {
  const now = ctx.clock();
  const conditions: SQL[] = [];
  if (query.status) conditions.push(secretStateCondition(query.status, now));
  if (query.expiration) conditions.push(expirationCondition(query.expiration, now, ctx.settings.expiringSoonDays));
  return conditions;
}

/** One account's secrets, newest first, keyset-paginated on (created_at, id). */
export async function listSecrets(
  ctx: AccountsContext,
  accountId: string,
  query: SecretQuery,
): Promise<{ items: ClientSecretRow[]; nextCursor: string | null }> {
  await requireAccount(ctx, accountId);
  const conditions = [eq(clientSecrets.accountId, accountId), ...filters(ctx, query)];
  if (query.cursor) {
    const after = decodeCursor(query.cursor, 'uuid');
    conditions.push(keysetAfter('desc', clientSecrets.createdAt, clientSecrets.id, after));
  }
  const rows = await ctx.db
    .select()
    .from(clientSecrets)
    .where(and(...conditions))
    .orderBy(descNullsLast(clientSecrets.createdAt), descNullsLast(clientSecrets.id))
    .limit(query.limit + 1);
  const items = rows.slice(0, query.limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null };
}

export interface SecretWithAccount {
  secret: ClientSecretRow;
  account: Pick<ServiceAccountRow, 'id' | 'clientId' | 'name' | 'status'>;
}

/**
 * Secrets of every account, soonest expiry first (keyset on (expires_at, id)): the list a rotation review
 * walks through, e.g. with expiration=expiring_soon.
 */
export async function listAllSecrets(
  ctx: AccountsContext,
  query: SecretQuery,
): Promise<{ items: SecretWithAccount[]; nextCursor: string | null }> {
  const conditions = filters(ctx, query);
  if (query.orgId !== undefined) conditions.push(eq(serviceAccounts.orgId, query.orgId));
  if (query.cursor) {
    const after = decodeCursor(query.cursor, 'uuid');
    conditions.push(keysetAfter('asc', clientSecrets.expiresAt, clientSecrets.id, after));
  }
  const rows = await ctx.db
    .select({
      secret: clientSecrets,
      account: {
        id: serviceAccounts.id,
        clientId: serviceAccounts.clientId,
        name: serviceAccounts.name,
        status: serviceAccounts.status,
      },
    })
    .from(clientSecrets)
    .innerJoin(serviceAccounts, eq(serviceAccounts.id, clientSecrets.accountId))
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(asc(clientSecrets.expiresAt), asc(clientSecrets.id))
    .limit(query.limit + 1);
  const items = rows.slice(0, query.limit);
  const last = items[items.length - 1];
  return {
    items,
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.secret.expiresAt, last.secret.id) : null,
  };
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
  return changeAccount(ctx, accountId, async (tx) => {
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

/**
 * Locks the account row for the rest of the transaction and checks that it may gain one more usable secret:
 * it exists, is not revoked, and holds fewer than the cap of active, unexpired secrets.
 */
async function lockUsableAccount(ctx: AccountsContext, tx: Tx, accountId: string): Promise<void> {
  const [account] = await tx
    .select({ status: serviceAccounts.status, methods: serviceAccounts.tokenEndpointAuthMethods })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, accountId))
    .for('update');
  if (!account) throw new NotFoundError('service account');
  if (account.status === 'revoked') throw new ConflictError('the service account is revoked');
  if (!account.methods.includes('client_secret_basic') && !account.methods.includes('client_secret_post')) {
    throw new ConflictError('the account authenticates with private_key_jwt only and holds no secrets');
  }
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
export async function revokeSecret(ctx: AccountsContext, accountId: string, secretId: string): Promise<ClientSecretRow> {
  const current = await requireSecret(ctx, accountId, secretId);
  const [row] = await changeAccount(ctx, accountId, (tx) =>
    tx
      .update(clientSecrets)
      .set({ status: 'revoked', updatedAt: ctx.clock() })
      .where(and(eq(clientSecrets.id, secretId), eq(clientSecrets.accountId, accountId)))
      .returning(),
  );
  return row ?? current;
}

/** Throws NotFoundError unless the account exists; its client_id and organization (for the audit trail). */
export async function requireAccount(ctx: AccountsContext, accountId: string): Promise<{ clientId: string; orgId: string }> {
  if (!isUuid(accountId)) throw new NotFoundError('service account');
  const [found] = await ctx.db
    .select({ clientId: serviceAccounts.clientId, orgId: serviceAccounts.orgId })
    .from(serviceAccounts)
    .where(eq(serviceAccounts.id, accountId));
  if (!found) throw new NotFoundError('service account');
  return found;
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

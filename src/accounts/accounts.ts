import { randomUUID } from 'node:crypto';
import { descNullsLast, keysetAfter } from '../db/order';
import { and, count, eq, exists, ilike, inArray, ne, or, sql, type SQL } from 'drizzle-orm';
import { clientSecrets, serviceAccounts, type ClientSecretRow, type ServiceAccountRow } from '../db/schema';
import { changeAccount } from './account-changes';
import type { AccountsContext } from './context';
import { decodeCursor, encodeCursor } from './cursor';
import { ConflictError, NotFoundError, isUuid, uniqueViolation } from './errors';
import { expirationCondition, type ExpirationFilter } from './secret-filters';
import { generateClientId } from './secret-format';
import { prepareSecret, type NewSecret } from './secrets';

export type AccountStatus = ServiceAccountRow['status'];

export interface AccountWithSecrets {
  account: ServiceAccountRow;
  secrets: ClientSecretRow[];
}

export interface AccountInput {
  name: string;
  description?: string | undefined;
  scopes?: string[] | undefined;
  audiences?: string[] | undefined;
  tokenTtlSeconds?: number | null | undefined;
  /** null: the configured default. */
  rateLimitPerMinute?: number | null | undefined;
  /** Canonical addresses and CIDR ranges (validated at the edge); empty: any address. */
  allowedIps?: string[] | undefined;
  /** Default: the two secret methods. An account with only private_key_jwt holds no secret. */
  tokenEndpointAuthMethods?: AuthMethod[] | undefined;
  requireDpop?: boolean | undefined;
  /** Default: `default`. Fixed once the account exists. */
  orgId?: string | undefined;
  /** Role names (checked at the edge: built-in, or of this organization). */
  roles?: string[] | undefined;
}

export const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
const DEFAULT_AUTH_METHODS: AuthMethod[] = ['client_secret_basic', 'client_secret_post'];

/** The organization of an account created without one. */
export const DEFAULT_ORG = 'default';

/** Whether an account may hold secrets at all: it accepts at least one secret method. */
export const usesSecrets = (methods: readonly string[]) =>
  methods.includes('client_secret_basic') || methods.includes('client_secret_post');

export interface CreateAccountOptions {
  /** For the bootstrap admin: a client_id and secret chosen by the operator. */
  clientId?: string;
  suppliedSecret?: string;
}

/**
 * Creates an account with its first secret, in one transaction; an account that accepts only
 * private_key_jwt gets no secret (its keys are registered afterwards).
 */
export async function createAccount(
  ctx: AccountsContext,
  input: AccountInput,
  options: CreateAccountOptions = {},
): Promise<AccountWithSecrets & { secret: NewSecret | undefined }> {
  const now = ctx.clock();
  const id = randomUUID();
  const methods = unique(input.tokenEndpointAuthMethods ?? DEFAULT_AUTH_METHODS);
  const secret = usesSecrets(methods)
    ? await prepareSecret(ctx, id, { ...(options.suppliedSecret ? { supplied: options.suppliedSecret } : {}) })
    : undefined;
  const row: ServiceAccountRow = {
    id,
    clientId: options.clientId ?? generateClientId(),
    name: input.name,
    description: input.description ?? '',
    status: 'active',
    scopes: unique(input.scopes ?? []),
    audiences: unique(input.audiences ?? []),
    tokenTtlSeconds: input.tokenTtlSeconds ?? null,
    rateLimitPerMinute: input.rateLimitPerMinute ?? null,
    allowedIps: unique(input.allowedIps ?? []),
    tokenEndpointAuthMethods: methods,
    requireDpop: input.requireDpop ?? false,
    orgId: input.orgId ?? DEFAULT_ORG,
    roles: unique(input.roles ?? []),
    permissions: [],
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
    lastUsedIp: null,
  };
  try {
    // Announced too: documents derived from every account (the metadata's scopes_supported) are refreshed.
    await changeAccount(ctx, id, async (tx) => {
      await tx.insert(serviceAccounts).values(row);
      if (secret) await tx.insert(clientSecrets).values(secret.row);
    });
  } catch (error) {
    throw conflictOr(error);
  }
  return { account: row, secrets: secret ? [secret.row] : [], secret };
}

export async function getAccount(ctx: AccountsContext, id: string): Promise<AccountWithSecrets> {
  const account = await findAccount(ctx, id);
  const secrets = await secretsOf(ctx, [account.id]);
  return { account, secrets: secrets.get(account.id) ?? [] };
}

export async function findAccountByClientId(
  ctx: Pick<AccountsContext, 'db'>,
  clientId: string,
): Promise<ServiceAccountRow | undefined> {
  const [row] = await ctx.db.select().from(serviceAccounts).where(eq(serviceAccounts.clientId, clientId));
  return row;
}

export interface ListAccountsQuery {
  limit: number;
  /** Only this organization's accounts. */
  orgId?: string | undefined;
  cursor?: string | undefined;
  status?: AccountStatus | undefined;
  q?: string | undefined;
  /** Accounts holding at least one secret in this expiration state. */
  expiration?: ExpirationFilter | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function listAccounts(ctx: AccountsContext, query: ListAccountsQuery): Promise<Page<AccountWithSecrets>> {
  const conditions: SQL[] = [];
  if (query.orgId !== undefined) conditions.push(eq(serviceAccounts.orgId, query.orgId));
  if (query.status) conditions.push(eq(serviceAccounts.status, query.status));
  if (query.q) {
    const pattern = `%${query.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conditions.push(or(ilike(serviceAccounts.name, pattern), ilike(serviceAccounts.description, pattern))!);
  }
  if (query.expiration) {
    conditions.push(
      exists(
        ctx.db
          .select({ one: sql`1` })
          .from(clientSecrets)
          .where(
            and(
              eq(clientSecrets.accountId, serviceAccounts.id),
              expirationCondition(query.expiration, ctx.clock(), ctx.settings.expiringSoonDays),
            ),
          ),
      ),
    );
  }
  if (query.cursor) {
    const after = decodeCursor(query.cursor, 'uuid');
    conditions.push(keysetAfter('desc', serviceAccounts.createdAt, serviceAccounts.id, after));
  }
  const rows = await ctx.db
    .select()
    .from(serviceAccounts)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(descNullsLast(serviceAccounts.createdAt), descNullsLast(serviceAccounts.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  const secrets = await secretsOf(
    ctx,
    page.map((a) => a.id),
  );
  return {
    items: page.map((account) => ({ account, secrets: secrets.get(account.id) ?? [] })),
    nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null,
  };
}

export interface AccountPatch {
  name?: string | undefined;
  description?: string | undefined;
  scopes?: string[] | undefined;
  audiences?: string[] | undefined;
  tokenTtlSeconds?: number | null | undefined;
  rateLimitPerMinute?: number | null | undefined;
  allowedIps?: string[] | undefined;
  tokenEndpointAuthMethods?: AuthMethod[] | undefined;
  requireDpop?: boolean | undefined;
  roles?: string[] | undefined;
  status?: 'active' | 'disabled' | undefined;
}

/** Edits an account. Its secrets keep working. A revoked account can no longer be changed (409). */
export async function updateAccount(ctx: AccountsContext, id: string, patch: AccountPatch): Promise<AccountWithSecrets> {
  const current = await findAccount(ctx, id);
  if (current.status === 'revoked') throw new ConflictError('the service account is revoked; revocation is permanent');
  const changes: Partial<ServiceAccountRow> = { updatedAt: ctx.clock() };
  if (patch.name !== undefined) changes.name = patch.name;
  if (patch.description !== undefined) changes.description = patch.description;
  if (patch.scopes !== undefined) changes.scopes = unique(patch.scopes);
  if (patch.audiences !== undefined) changes.audiences = unique(patch.audiences);
  if (patch.tokenTtlSeconds !== undefined) changes.tokenTtlSeconds = patch.tokenTtlSeconds;
  if (patch.rateLimitPerMinute !== undefined) changes.rateLimitPerMinute = patch.rateLimitPerMinute;
  if (patch.allowedIps !== undefined) changes.allowedIps = unique(patch.allowedIps);
  if (patch.tokenEndpointAuthMethods !== undefined) changes.tokenEndpointAuthMethods = unique(patch.tokenEndpointAuthMethods);
  if (patch.requireDpop !== undefined) changes.requireDpop = patch.requireDpop;
  if (patch.roles !== undefined) changes.roles = unique(patch.roles);
  if (patch.status !== undefined) changes.status = patch.status;
  let updated: ServiceAccountRow | undefined;
  try {
    [updated] = await changeAccount(ctx, id, async (tx) => {
      const rows = await tx
        .update(serviceAccounts)
        .set(changes)
        .where(and(eq(serviceAccounts.id, id), sql`${serviceAccounts.status} <> 'revoked'`))
        .returning();
      if (changes.tokenEndpointAuthMethods && !usesSecrets(changes.tokenEndpointAuthMethods)) {
        // The row is locked by the update: no secret can be added meanwhile.
        const [held] = await tx
          .select({ n: count() })
          .from(clientSecrets)
          .where(and(eq(clientSecrets.accountId, id), ne(clientSecrets.status, 'revoked')));
        if ((held?.n ?? 0) > 0) {
          throw new ConflictError('the account still holds secrets: revoke them before allowing only private_key_jwt');
        }
      }
      return rows;
    });
  } catch (error) {
    throw conflictOr(error);
  }
  if (!updated) throw new ConflictError('the service account is revoked; revocation is permanent');
  const secrets = await secretsOf(ctx, [id]);
  return { account: updated, secrets: secrets.get(id) ?? [] };
}

/** Revokes an account for good: no secret of it will ever get a token again. */
export async function revokeAccount(ctx: AccountsContext, id: string): Promise<AccountWithSecrets> {
  await findAccount(ctx, id);
  const [account] = await changeAccount(ctx, id, (tx) =>
    tx.update(serviceAccounts).set({ status: 'revoked', updatedAt: ctx.clock() }).where(eq(serviceAccounts.id, id)).returning(),
  );
  if (!account) throw new NotFoundError('service account');
  const secrets = await secretsOf(ctx, [id]);
  return { account, secrets: secrets.get(id) ?? [] };
}

/** Deletes an account and its secrets; returns what it was, for the audit trail. */
export async function deleteAccount(
  ctx: AccountsContext,
  id: string,
): Promise<Pick<ServiceAccountRow, 'id' | 'clientId' | 'name' | 'orgId'>> {
  if (!isUuid(id)) throw new NotFoundError('service account');
  const [deleted] = await changeAccount(ctx, id, (tx) =>
    tx
      .delete(serviceAccounts)
      .where(eq(serviceAccounts.id, id))
      .returning({ id: serviceAccounts.id, clientId: serviceAccounts.clientId, name: serviceAccounts.name, orgId: serviceAccounts.orgId }),
  );
  if (!deleted) throw new NotFoundError('service account');
  return deleted;
}

async function findAccount(ctx: AccountsContext, id: string): Promise<ServiceAccountRow> {
  if (!isUuid(id)) throw new NotFoundError('service account');
  const [row] = await ctx.db.select().from(serviceAccounts).where(eq(serviceAccounts.id, id));
  if (!row) throw new NotFoundError('service account');
  return row;
}

async function secretsOf(ctx: AccountsContext, accountIds: string[]): Promise<Map<string, ClientSecretRow[]>> {
  const byAccount = new Map<string, ClientSecretRow[]>();
  if (accountIds.length === 0) return byAccount;
  const rows = await ctx.db
    .select()
    .from(clientSecrets)
    .where(inArray(clientSecrets.accountId, accountIds))
    .orderBy(descNullsLast(clientSecrets.createdAt), descNullsLast(clientSecrets.id));
  for (const row of rows) {
    const list = byAccount.get(row.accountId) ?? [];
    list.push(row);
    byAccount.set(row.accountId, list);
  }
  return byAccount;
}

function conflictOr(error: unknown): unknown {
  const violation = uniqueViolation(error);
  if (!violation) return error;
  if (violation.constraint.includes('client_id')) return new ConflictError('client_id is already in use');
  return new ConflictError('name is already in use');
}

const unique = (values: string[]) => [...new Set(values)];

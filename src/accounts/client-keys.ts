import { randomUUID } from 'node:crypto';
import { and, count, desc, eq } from 'drizzle-orm';
import { calculateJwkThumbprint, importJWK, type JWK } from 'jose';
import { clientKeys, serviceAccounts, type ClientKeyRow } from '../db/schema';
import { changeAccount } from './account-changes';
import type { AccountsContext } from './context';
import { requireAccount } from './secrets';
import { PRIVATE_MEMBERS, PUBLIC_MEMBERS } from '../tokens/public-jwk';
import { ConflictError, InvalidFieldsError, NotFoundError, isUuid, uniqueViolation } from './errors';

/** Algorithms a client may sign private_key_jwt assertions with: asymmetric only, never `none` or HMAC. */
export const CLIENT_ASSERTION_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type ClientAssertionAlg = (typeof CLIENT_ASSERTION_ALGS)[number];

/** Keys one account may register. */
export const MAX_CLIENT_KEYS = 10;


export interface ClientKeyInput {
  jwk: Record<string, unknown>;
  description?: string | undefined;
}

/**
 * Checks a JWK offered as a client's public key and reduces it to its public members, its kid and its alg.
 * Refuses private material, symmetric keys, weak RSA, curves and algorithms outside the allow-list.
 */
export async function validatePublicJwk(
  input: Record<string, unknown>,
): Promise<{ jwk: Record<string, unknown>; kid: string; alg: ClientAssertionAlg; thumbprint: string }> {
  const bad = (message: string): never => {
    throw new InvalidFieldsError([{ field: 'jwk', message }]);
  };
  const kty = typeof input.kty === 'string' ? input.kty : bad('must have a kty');
  if (PRIVATE_MEMBERS.some((m) => m in input)) bad('must be a public key: remove the private members');
  const members = PUBLIC_MEMBERS[kty] ?? bad('kty must be RSA, EC or OKP (symmetric keys are refused)');
  for (const m of members) if (typeof input[m] !== 'string') bad(`must have the ${m} member`);
  if (input.use !== undefined && input.use !== 'sig') bad('use must be "sig"');
  const alg = algFor(kty, input, bad);
  const jwk: Record<string, unknown> = {};
  for (const m of members) jwk[m] = input[m];
  if (kty === 'RSA' && Buffer.from(String(jwk.n), 'base64url').length * 8 < 2048) bad('an RSA key must have at least 2048 bits');
  try {
    await importJWK(jwk as JWK, alg);
  } catch {
    bad(`is not a valid ${alg} public key`);
  }
  const thumbprint = await calculateJwkThumbprint(jwk as JWK);
  const kid = input.kid === undefined ? thumbprint : typeof input.kid === 'string' && /^[\x21-\x7e]{1,200}$/.test(input.kid) ? input.kid : bad('kid must be 1-200 printable ASCII characters');
  return { jwk: { ...jwk, kid, alg, use: 'sig' }, kid, alg, thumbprint };
}

function algFor(kty: string, jwk: Record<string, unknown>, bad: (m: string) => never): ClientAssertionAlg {
  const alg = jwk.alg;
  if (alg !== undefined && !(CLIENT_ASSERTION_ALGS as readonly unknown[]).includes(alg)) {
    bad(`alg must be one of ${CLIENT_ASSERTION_ALGS.join(', ')}`);
  }
  if (kty === 'RSA') return alg === 'PS256' ? 'PS256' : alg === undefined || alg === 'RS256' ? 'RS256' : bad('alg does not fit an RSA key');
  if (kty === 'EC') {
    if (jwk.crv !== 'P-256') bad('an EC key must be on curve P-256 (ES256)');
    return alg === undefined || alg === 'ES256' ? 'ES256' : bad('alg does not fit an EC key');
  }
  if (jwk.crv !== 'Ed25519') bad('an OKP key must be Ed25519 (EdDSA)');
  return alg === undefined || alg === 'EdDSA' ? 'EdDSA' : bad('alg does not fit an OKP key');
}

/** Registers a public key on an account, for private_key_jwt. */
export async function addClientKey(ctx: AccountsContext, accountId: string, input: ClientKeyInput): Promise<ClientKeyRow> {
  if (!isUuid(accountId)) throw new NotFoundError('service account');
  const key = await validatePublicJwk(input.jwk);
  const now = ctx.clock();
  const row: ClientKeyRow = {
    id: randomUUID(),
    accountId,
    kid: key.kid,
    alg: key.alg,
    jwk: key.jwk,
    thumbprint: key.thumbprint,
    description: input.description ?? '',
    status: 'active',
    createdAt: now,
    updatedAt: now,
    lastUsedAt: null,
    lastUsedIp: null,
  };
  try {
    await changeAccount(ctx, accountId, async (tx) => {
      const [account] = await tx
        .select({ status: serviceAccounts.status })
        .from(serviceAccounts)
        .where(eq(serviceAccounts.id, accountId))
        .for('update');
      if (!account) throw new NotFoundError('service account');
      if (account.status === 'revoked') throw new ConflictError('the service account is revoked');
      const [held] = await tx.select({ n: count() }).from(clientKeys).where(eq(clientKeys.accountId, accountId));
      if ((held?.n ?? 0) >= MAX_CLIENT_KEYS) {
        throw new ConflictError(`the account already has ${MAX_CLIENT_KEYS} keys; delete one first`);
      }
      await tx.insert(clientKeys).values(row);
    });
  } catch (error) {
    if (uniqueViolation(error)) throw new ConflictError(`the account already has a key with kid ${JSON.stringify(key.kid)}`);
    throw error;
  }
  return row;
}

export async function listClientKeys(ctx: AccountsContext, accountId: string): Promise<ClientKeyRow[]> {
  await requireAccount(ctx, accountId);
  return ctx.db
    .select()
    .from(clientKeys)
    .where(eq(clientKeys.accountId, accountId))
    .orderBy(desc(clientKeys.createdAt), desc(clientKeys.id));
}

export async function setClientKeyStatus(
  ctx: AccountsContext,
  accountId: string,
  keyId: string,
  status: 'active' | 'disabled',
): Promise<ClientKeyRow> {
  await requireKey(ctx, accountId, keyId);
  const [row] = await changeAccount(ctx, accountId, (tx) =>
    tx
      .update(clientKeys)
      .set({ status, updatedAt: ctx.clock() })
      .where(and(eq(clientKeys.id, keyId), eq(clientKeys.accountId, accountId)))
      .returning(),
  );
  if (!row) throw new NotFoundError('key');
  return row;
}

/** Removes a key for good; assertions signed by it are refused from the next request on. */
export async function deleteClientKey(ctx: AccountsContext, accountId: string, keyId: string): Promise<ClientKeyRow> {
  await requireKey(ctx, accountId, keyId);
  const [row] = await changeAccount(ctx, accountId, (tx) =>
    tx.delete(clientKeys).where(and(eq(clientKeys.id, keyId), eq(clientKeys.accountId, accountId))).returning(),
  );
  if (!row) throw new NotFoundError('key');
  return row;
}

async function requireKey(ctx: AccountsContext, accountId: string, keyId: string): Promise<void> {
  await requireAccount(ctx, accountId);
  if (!isUuid(keyId)) throw new NotFoundError('key');
  const [found] = await ctx.db
    .select({ id: clientKeys.id })
    .from(clientKeys)
    .where(and(eq(clientKeys.id, keyId), eq(clientKeys.accountId, accountId)));
  if (!found) throw new NotFoundError('key');
}

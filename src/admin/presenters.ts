import type { AccountWithSecrets } from '../accounts/accounts';
import type { NewSecret } from '../accounts/secrets';
import { secretState } from '../accounts/secrets';
import type { ClientSecretRow } from '../db/schema';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A secret as the admin API shows it: metadata only, never the hash or the plaintext. */
export function secretView(row: ClientSecretRow, now: Date) {
  return {
    id: row.id,
    prefix: row.prefix,
    description: row.description,
    status: secretState(row, now),
    expires_at: iso(row.expiresAt),
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    last_used_at: iso(row.lastUsedAt),
  };
}

/** The one response that carries a plaintext secret: the answer to its creation. */
export function newSecretView(secret: NewSecret, now: Date) {
  return { ...secretView(secret.row, now), secret: secret.plaintext };
}

export function accountView({ account, secrets }: AccountWithSecrets, now: Date) {
  return {
    id: account.id,
    client_id: account.clientId,
    name: account.name,
    description: account.description,
    status: account.status,
    scopes: account.scopes,
    audiences: account.audiences,
    token_ttl_seconds: account.tokenTtlSeconds,
    created_at: iso(account.createdAt),
    updated_at: iso(account.updatedAt),
    last_used_at: iso(account.lastUsedAt),
    secrets: secrets.map((s) => secretView(s, now)),
  };
}

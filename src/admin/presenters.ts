import type { AccountWithSecrets } from '../accounts/accounts';
import type { NewSecret } from '../accounts/secrets';
import { secretState } from '../accounts/secrets';
import type { SecretWithAccount } from '../accounts/secrets';
import type { AuditEventRow, ClientKeyRow, ClientSecretRow } from '../db/schema';

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
    last_used_ip: row.lastUsedIp,
  };
}

/** A secret in the cross-account list, with the account it belongs to. */
export function secretWithAccountView({ secret, account }: SecretWithAccount, now: Date) {
  return {
    ...secretView(secret, now),
    service_account: { id: account.id, client_id: account.clientId, name: account.name, status: account.status },
  };
}

/** The one response that carries a plaintext secret: the answer to its creation. */
export function newSecretView(secret: NewSecret, now: Date) {
  return { ...secretView(secret.row, now), secret: secret.plaintext };
}

/** `defaultRateLimit` is shown for an account that sets no limit of its own. */
export function accountView({ account, secrets }: AccountWithSecrets, now: Date, defaultRateLimit: number) {
  return {
    id: account.id,
    client_id: account.clientId,
    name: account.name,
    description: account.description,
    status: account.status,
    scopes: account.scopes,
    audiences: account.audiences,
    token_ttl_seconds: account.tokenTtlSeconds,
    rate_limit_per_minute: account.rateLimitPerMinute ?? defaultRateLimit,
    allowed_ips: account.allowedIps,
    token_endpoint_auth_methods: account.tokenEndpointAuthMethods,
    require_dpop: account.requireDpop,
    created_at: iso(account.createdAt),
    updated_at: iso(account.updatedAt),
    last_used_at: iso(account.lastUsedAt),
    last_used_ip: account.lastUsedIp,
    secrets: secrets.map((s) => secretView(s, now)),
  };
}

/** A registered client key: its public JWK and metadata. */
export function clientKeyView(row: ClientKeyRow) {
  return {
    id: row.id,
    kid: row.kid,
    alg: row.alg,
    thumbprint: row.thumbprint,
    jwk: row.jwk,
    description: row.description,
    status: row.status,
    created_at: iso(row.createdAt),
    updated_at: iso(row.updatedAt),
    last_used_at: iso(row.lastUsedAt),
    last_used_ip: row.lastUsedIp,
  };
}

export function auditEventView(row: AuditEventRow) {
  return {
    id: String(row.id),
    occurred_at: iso(row.occurredAt),
    action: row.action,
    outcome: row.outcome,
    reason: row.reason,
    actor: row.actor,
    service_account_id: row.accountId,
    client_id: row.clientId,
    secret_id: row.secretId,
    source_ip: row.sourceIp,
    user_agent: row.userAgent,
    http_status: row.httpStatus,
    details: row.details,
  };
}

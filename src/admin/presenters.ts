import { z } from 'zod';
import { AUTH_METHODS, type AccountWithSecrets, type AuthMethod } from '../accounts/accounts';
import type { NewSecret } from '../accounts/secrets';
import { secretState } from '../accounts/secrets';
import type { SecretWithAccount } from '../accounts/secrets';
import type { AuditEventRow, ClientKeyRow, ClientSecretRow } from '../db/schema';

// What the admin API answers. Each view's schema documents it in the OpenAPI document, and the presenter
// is typed by that schema: a member added to one and not the other fails the type check.

function iso(d: Date): string;
function iso(d: Date | null): string | null;
function iso(d: Date | null): string | null {
  return d ? d.toISOString() : null;
}

const timestamp = z.iso.datetime().meta({ examples: ['2026-06-01T12:00:00.000Z'] });
const uuid = z.uuid();
const lastUse = {
  last_used_at: timestamp.nullable().meta({ description: 'Last successful use (written in batches, so a few seconds late).' }),
  last_used_ip: z.string().nullable(),
};

/** A page of a list; `next_cursor` (null on the last page) is the `cursor` parameter of the next. */
export const pageOf = <Item extends z.ZodType>(item: Item) =>
  z.object({ items: z.array(item), next_cursor: z.string().nullable() });

export const SecretSchema = z
  .object({
    id: uuid,
    prefix: z.string().meta({ description: 'The secret’s first characters, to tell it apart.', examples: ['ccs_0196f0a5'] }),
    description: z.string(),
    status: z.enum(['active', 'disabled', 'revoked', 'expired']),
    expires_at: timestamp,
    created_at: timestamp,
    updated_at: timestamp,
    ...lastUse,
  })
  .meta({ id: 'Secret', description: 'A client secret’s metadata: never its hash, never its plaintext.' });

export const NewSecretSchema = SecretSchema.extend({
  secret: z.string().meta({ description: 'The plaintext, shown this once and never again.' }),
}).meta({ id: 'NewSecret' });

export const SecretWithAccountSchema = SecretSchema.extend({
  service_account: z.object({
    id: uuid,
    client_id: z.string(),
    name: z.string(),
    status: z.enum(['active', 'disabled', 'revoked']),
  }),
}).meta({ id: 'SecretWithAccount' });

export const AccountSchema = z
  .object({
    id: uuid,
    client_id: z.string().meta({ description: 'What the client authenticates as.', examples: ['sa_3f9c2b7e1d4a6c8b0e2f4a6c'] }),
    name: z.string(),
    description: z.string(),
    status: z.enum(['active', 'disabled', 'revoked']),
    scopes: z.array(z.string()),
    audiences: z.array(z.string()),
    token_ttl_seconds: z.number().int().nullable().meta({ description: '`null`: TOKEN_TTL_SECONDS.' }),
    rate_limit_per_minute: z.number().int().meta({ description: 'Its own limit, or the configured default.' }),
    allowed_ips: z.array(z.string()),
    token_endpoint_auth_methods: z.array(z.enum(AUTH_METHODS)),
    require_dpop: z.boolean(),
    org_id: z.string().meta({ description: 'Its organization.' }),
    roles: z.array(z.string()).meta({ description: 'Its roles; it holds their scopes as well as its own.' }),
    created_at: timestamp,
    updated_at: timestamp,
    ...lastUse,
    secrets: z.array(SecretSchema),
  })
  .meta({ id: 'ServiceAccount' });

export const CreatedAccountSchema = AccountSchema.extend({
  secret: NewSecretSchema.nullable().meta({
    description: 'The first secret, shown once; `null` for an account that allows only private_key_jwt.',
  }),
}).meta({ id: 'CreatedServiceAccount' });

export const ClientKeySchema = z
  .object({
    id: uuid,
    kid: z.string().meta({ description: 'The JWK’s kid, or its RFC 7638 thumbprint when it has none.' }),
    alg: z.string().meta({ examples: ['ES256'] }),
    thumbprint: z.string().meta({ description: 'RFC 7638 SHA-256 thumbprint.' }),
    jwk: z.record(z.string(), z.unknown()).meta({ description: 'The public JWK as registered.' }),
    description: z.string(),
    status: z.enum(['active', 'disabled']),
    created_at: timestamp,
    updated_at: timestamp,
    ...lastUse,
  })
  .meta({ id: 'ClientKey', description: 'A public key the account signs private_key_jwt client assertions with.' });

export const AuditEventSchema = z
  .object({
    id: z.string(),
    occurred_at: timestamp,
    action: z.string().meta({ examples: ['token.issued', 'secret.revoked'] }),
    outcome: z.enum(['success', 'failure']),
    reason: z.string().nullable().meta({ description: 'Why a request was denied (e.g. bad_secret, ip_not_allowed).' }),
    actor: z.string().nullable().meta({ description: 'The admin’s client_id for changes, the client’s for token requests.' }),
    service_account_id: uuid.nullable(),
    client_id: z.string().nullable(),
    secret_id: uuid.nullable(),
    source_ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    http_status: z.number().int().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEvent' });

/** A secret as the admin API shows it: metadata only, never the hash or the plaintext. */
export function secretView(row: ClientSecretRow, now: Date): z.infer<typeof SecretSchema> {
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
export function secretWithAccountView({ secret, account }: SecretWithAccount, now: Date): z.infer<typeof SecretWithAccountSchema> {
  return {
    ...secretView(secret, now),
    service_account: { id: account.id, client_id: account.clientId, name: account.name, status: account.status },
  };
}

/** The one response that carries a plaintext secret: the answer to its creation. */
export function newSecretView(secret: NewSecret, now: Date): z.infer<typeof NewSecretSchema> {
  return { ...secretView(secret.row, now), secret: secret.plaintext };
}

/** `defaultRateLimit` is shown for an account that sets no limit of its own. */
export function accountView(
  { account, secrets }: AccountWithSecrets,
  now: Date,
  defaultRateLimit: number,
): z.infer<typeof AccountSchema> {
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
    // Only values from AUTH_METHODS are ever stored (the schemas and createAccount see to it).
    token_endpoint_auth_methods: account.tokenEndpointAuthMethods as AuthMethod[],
    require_dpop: account.requireDpop,
    org_id: account.orgId,
    roles: account.roles,
    created_at: iso(account.createdAt),
    updated_at: iso(account.updatedAt),
    last_used_at: iso(account.lastUsedAt),
    last_used_ip: account.lastUsedIp,
    secrets: secrets.map((s) => secretView(s, now)),
  };
}

/** A registered client key: its public JWK and metadata. */
export function clientKeyView(row: ClientKeyRow): z.infer<typeof ClientKeySchema> {
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

export function auditEventView(row: AuditEventRow): z.infer<typeof AuditEventSchema> {
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

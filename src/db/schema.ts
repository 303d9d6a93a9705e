import { sql } from 'drizzle-orm';
import { bigint, boolean, check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const serviceAccounts = pgTable(
  'service_accounts',
  {
    id: uuid('id').primaryKey(),
    clientId: text('client_id').notNull().unique(),
    /** The organization the account belongs to; admins of an organization see only its accounts. */
    orgId: text('org_id').notNull().default('default'),
    /** Unique within its organization. */
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    status: text('status', { enum: ['active', 'disabled', 'revoked'] }).notNull().default('active'),
    scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
    audiences: text('audiences').array().notNull().default(sql`'{}'::text[]`),
    tokenTtlSeconds: integer('token_ttl_seconds'),
    /** Token requests per minute; null means the configured default. */
    rateLimitPerMinute: integer('rate_limit_per_minute'),
    /** IPv4/IPv6 addresses and CIDR ranges a token request may come from; empty means any. */
    allowedIps: text('allowed_ips').array().notNull().default(sql`'{}'::text[]`),
    /** Client authentication methods this account may use at the token endpoint. */
    tokenEndpointAuthMethods: text('token_endpoint_auth_methods')
      .array()
      .notNull()
      .default(sql`'{client_secret_basic,client_secret_post}'::text[]`),
    /** Every token request must carry a DPoP proof (RFC 9449), so every token is sender-constrained. */
    requireDpop: boolean('require_dpop').notNull().default(false),
    /** Names of roles (built-in, or of the account's organization) whose scopes the account also holds. */
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    /** Fine-grained permissions, carried by its tokens as RFC 9396 authorization_details. */
    permissions: jsonb('permissions').$type<StoredPermission[]>().notNull().default([]),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    lastUsedAt: ts('last_used_at'),
    lastUsedIp: text('last_used_ip'),
  },
  (t) => [
    check('service_accounts_status_check', sql`${t.status} in ('active', 'disabled', 'revoked')`),
    uniqueIndex('service_accounts_org_name_idx').on(t.orgId, t.name),
    index('service_accounts_org_created_idx').on(t.orgId, t.createdAt.desc(), t.id.desc()),
    index('service_accounts_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('service_accounts_status_created_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
    // `q=` searches: name or description ILIKE '%…%' (needs pg_trgm: migration 0003).
    index('service_accounts_name_trgm_idx').using('gin', t.name.op('gin_trgm_ops')),
    index('service_accounts_description_trgm_idx').using('gin', t.description.op('gin_trgm_ops')),
  ],
);

/**
 * How many service accounts hold each scope, kept by triggers on service_accounts (migrations 0006-0007): the
 * discovery document's scopes_supported reads this small table instead of unnesting every account's scopes.
 * A scope no account holds any more has no row.
 */
export const scopeUsage = pgTable('scope_usage', {
  scope: text('scope').primaryKey(),
  accounts: integer('accounts').notNull(),
});

/** A permission as stored in service_accounts.permissions (see accounts/permissions.ts). */
export interface StoredPermission {
  id: string;
  resource_type: string;
  /** A resource key, or `*` for all. */
  resource_key: string;
  /** An action, or `*` for all. */
  action: string;
  /** Narrows the permission: it applies where one of these objects matches (every key equal). */
  limiter?: Record<string, string>[] | undefined;
  created_at: string;
}

/** Custom roles: named bundles of scopes, per organization. Built-in roles live in code (accounts/roles.ts). */
export const roles = pgTable(
  'roles',
  {
    id: uuid('id').primaryKey(),
    orgId: text('org_id').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
  },
  (t) => [uniqueIndex('roles_org_name_idx').on(t.orgId, t.name)],
);

export const clientSecrets = pgTable(
  'client_secrets',
  {
    id: uuid('id').primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    /** The first characters of the plaintext: enough to tell secrets apart, useless to an attacker. */
    prefix: text('prefix').notNull(),
    /** argon2id PHC string. The plaintext is never stored. */
    hash: text('hash').notNull(),
    /** generated: our format, names its own row. supplied: a bootstrap secret chosen by the operator. */
    origin: text('origin', { enum: ['generated', 'supplied'] }).notNull().default('generated'),
    description: text('description').notNull().default(''),
    status: text('status', { enum: ['active', 'disabled', 'revoked'] }).notNull().default('active'),
    expiresAt: ts('expires_at').notNull(),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    lastUsedAt: ts('last_used_at'),
    lastUsedIp: text('last_used_ip'),
  },
  (t) => [
    check('client_secrets_status_check', sql`${t.status} in ('active', 'disabled', 'revoked')`),
    check('client_secrets_origin_check', sql`${t.origin} in ('generated', 'supplied')`),
    index('client_secrets_account_idx').on(t.accountId, t.createdAt.desc()),
    // Rotation reviews across all accounts: soonest expiry first.
    index('client_secrets_expires_idx').on(t.expiresAt, t.id),
  ],
);

/** Public keys an account signs private_key_jwt client assertions with (RFC 7523). Never a private member. */
export const clientKeys = pgTable(
  'client_keys',
  {
    id: uuid('id').primaryKey(),
    accountId: uuid('account_id')
      .notNull()
      .references(() => serviceAccounts.id, { onDelete: 'cascade' }),
    /** The JWK's kid, or its RFC 7638 thumbprint when it has none. Unique per account. */
    kid: text('kid').notNull(),
    alg: text('alg').notNull(),
    /** The public JWK as registered (public members only). */
    jwk: jsonb('jwk').$type<Record<string, unknown>>().notNull(),
    /** RFC 7638 SHA-256 thumbprint, to tell keys apart in a list. */
    thumbprint: text('thumbprint').notNull(),
    description: text('description').notNull().default(''),
    status: text('status', { enum: ['active', 'disabled'] }).notNull().default('active'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    lastUsedAt: ts('last_used_at'),
    lastUsedIp: text('last_used_ip'),
  },
  (t) => [
    check('client_keys_status_check', sql`${t.status} in ('active', 'disabled')`),
    uniqueIndex('client_keys_account_kid_idx').on(t.accountId, t.kid),
  ],
);

/**
 * One-time values seen recently: private_key_jwt assertion jti and DPoP proof jti. Shared by every instance,
 * so a replay is refused whichever instance it reaches. Rows are purged once expired.
 */
export const usedJtis = pgTable(
  'used_jtis',
  {
    key: text('key').primaryKey(),
    expiresAt: ts('expires_at').notNull(),
  },
  (t) => [index('used_jtis_expires_idx').on(t.expiresAt)],
);

/**
 * The audit trail: one row per token request outcome and per admin change. No foreign key to the account,
 * so the history outlives a deleted account. Never holds a secret or a token.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: ts('occurred_at').notNull(),
    /** token.issued, token.denied, service_account.created, secret.revoked, … */
    action: text('action').notNull(),
    outcome: text('outcome', { enum: ['success', 'failure'] }).notNull(),
    /** Why a request was denied: bad_secret, ip_not_allowed, rate_limited, … */
    reason: text('reason'),
    /** Who acted: the admin's client_id for admin changes, the client's for token requests. */
    actor: text('actor'),
    accountId: uuid('account_id'),
    clientId: text('client_id'),
    /** The organization of the account the event concerns (null: none known, e.g. an unknown client). */
    orgId: text('org_id'),
    secretId: uuid('secret_id'),
    sourceIp: text('source_ip'),
    userAgent: text('user_agent'),
    httpStatus: integer('http_status'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    check('audit_events_outcome_check', sql`${t.outcome} in ('success', 'failure')`),
    index('audit_events_occurred_idx').on(t.occurredAt.desc(), t.id.desc()),
    index('audit_events_account_idx').on(t.accountId, t.occurredAt.desc(), t.id.desc()),
    index('audit_events_action_idx').on(t.action, t.occurredAt.desc(), t.id.desc()),
    index('audit_events_outcome_idx').on(t.outcome, t.occurredAt.desc(), t.id.desc()),
    index('audit_events_org_idx').on(t.orgId, t.occurredAt.desc(), t.id.desc()),
  ],
);

/** rate-limiter-flexible's Drizzle store: counters shared by every instance on the database. */
export const rateLimits = pgTable(
  'rate_limits',
  {
    key: text('key').primaryKey(),
    points: integer('points').notNull().default(0),
    expire: ts('expire'),
  },
  (t) => [index('rate_limits_expire_idx').on(t.expire)],
);

export type ServiceAccountRow = typeof serviceAccounts.$inferSelect;
export type ClientSecretRow = typeof clientSecrets.$inferSelect;
export type AuditEventRow = typeof auditEvents.$inferSelect;
export type RoleRow = typeof roles.$inferSelect;
export type ClientKeyRow = typeof clientKeys.$inferSelect;

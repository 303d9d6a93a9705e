import { sql } from 'drizzle-orm';
import { check, index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const serviceAccounts = pgTable(
  'service_accounts',
  {
    id: uuid('id').primaryKey(),
    clientId: text('client_id').notNull().unique(),
    name: text('name').notNull().unique(),
    description: text('description').notNull().default(''),
    status: text('status', { enum: ['active', 'disabled', 'revoked'] }).notNull().default('active'),
    scopes: text('scopes').array().notNull().default(sql`'{}'::text[]`),
    audiences: text('audiences').array().notNull().default(sql`'{}'::text[]`),
    tokenTtlSeconds: integer('token_ttl_seconds'),
    createdAt: ts('created_at').notNull(),
    updatedAt: ts('updated_at').notNull(),
    lastUsedAt: ts('last_used_at'),
  },
  (t) => [
    check('service_accounts_status_check', sql`${t.status} in ('active', 'disabled', 'revoked')`),
    index('service_accounts_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('service_accounts_status_created_idx').on(t.status, t.createdAt.desc(), t.id.desc()),
  ],
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
  },
  (t) => [
    check('client_secrets_status_check', sql`${t.status} in ('active', 'disabled', 'revoked')`),
    check('client_secrets_origin_check', sql`${t.origin} in ('generated', 'supplied')`),
    index('client_secrets_account_idx').on(t.accountId, t.createdAt.desc()),
  ],
);

export type ServiceAccountRow = typeof serviceAccounts.$inferSelect;
export type ClientSecretRow = typeof clientSecrets.$inferSelect;

import { z } from 'zod';
import { AUTH_METHODS } from '../accounts/accounts';
import { parseIpRange } from '../limits/ip-ranges';
import { SCOPE_TOKEN } from '../oauth/client-credentials-grant';

// What the admin API accepts. Each schema validates requests (admin/routes.ts, the CLI) and, through its
// `.meta()`, describes itself in the OpenAPI document (admin/operations.ts): one definition for both.

export const scope = z
  .string()
  .max(200, 'must be at most 200 characters')
  .regex(SCOPE_TOKEN, 'must be a scope token (RFC 6749 §3.3): printable ASCII without spaces, quotes or backslashes')
  .meta({ examples: ['orders:read'] });
const audience = z
  .string()
  .min(1)
  .max(2000)
  .regex(/^\S+$/, 'must not contain whitespace')
  .meta({ examples: ['https://orders.example.com'] });
const name = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(200, 'must be at most 200 characters')
  .meta({ description: 'Unique among service accounts.', examples: ['billing-worker'] });
export const description = z.string().max(1000, 'must be at most 1000 characters').meta({ description: 'Free text for people.' });
/** An address or CIDR range, stored in canonical form; a bad one is named in the error. */
const allowedIp = z
  .string()
  .max(100, 'must be at most 100 characters')
  .transform((value, ctx) => {
    const parsed = parseIpRange(value);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(value)} is not an IPv4 or IPv6 address or CIDR range` });
      return z.NEVER;
    }
    return parsed.text;
  })
  .meta({ description: 'An IPv4 or IPv6 address or CIDR range.', examples: ['10.0.0.0/8'] });
/** An organization: a short slug. */
export const orgId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 lowercase letters, digits, - or _, starting with a letter or digit')
  .meta({ examples: ['acme'] });
/** A role name (built-in or of the organization); the same rule as an organization's. */
export const roleName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_.:-]{0,99}$/, 'must be 1-100 lowercase letters, digits, ., :, - or _, starting with a letter or digit')
  .meta({ examples: ['billing-reader'] });
const rateLimit = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(1_000_000, 'must be at most 1000000');
const iso = (what: string) =>
  z.iso.datetime({ offset: true, error: `${what} must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z` });
const enabled = (deleteInstead: string) =>
  z.enum(['active', 'disabled'], { error: `must be "active" or "disabled" (${deleteInstead})` });

export function accountSchemas(maxTokenTtlSeconds: number) {
  const tokenTtl = z
    .number()
    .int('must be a whole number of seconds')
    .min(1)
    .max(maxTokenTtlSeconds, `must be at most ${maxTokenTtlSeconds} (MAX_TOKEN_TTL_SECONDS)`);
  const fields = {
    name,
    description,
    scopes: z
      .array(scope)
      .max(100, 'at most 100 scopes')
      .meta({ description: 'Scopes the account may request; a token request without `scope` gets them all.' }),
    audiences: z.array(audience).max(50, 'at most 50 audiences').meta({
      description: 'Audiences the account may request (`audience` or `resource`); the first is the default.',
    }),
    token_ttl_seconds: tokenTtl
      .nullable()
      .meta({ description: 'Lifetime of its tokens; `null`: TOKEN_TTL_SECONDS.', examples: [900] }),
    rate_limit_per_minute: rateLimit
      .nullable()
      .meta({ description: 'Token requests per minute; `null`: RATE_LIMIT_PER_MINUTE.', examples: [600] }),
    allowed_ips: z
      .array(allowedIp)
      .max(100, 'at most 100 entries')
      .meta({ description: 'Where token requests may come from; empty: anywhere.' }),
    token_endpoint_auth_methods: z
      .array(z.enum(AUTH_METHODS, { error: `must be one of ${AUTH_METHODS.join(', ')}` }))
      .min(1, 'name at least one method')
      .max(AUTH_METHODS.length)
      .meta({ description: 'How the client may authenticate; by default client_secret_basic and client_secret_post.' }),
    require_dpop: z.boolean().meta({ description: 'Every token request must carry a DPoP proof (RFC 9449).' }),
    roles: z.array(roleName).max(50, 'at most 50 roles').meta({
      description: 'Roles (built-in, or of the account’s organization) whose scopes the account also holds.',
    }),
  };
  const create = z
    .strictObject({
      name: fields.name,
      description: fields.description.optional(),
      scopes: fields.scopes.optional(),
      audiences: fields.audiences.optional(),
      token_ttl_seconds: fields.token_ttl_seconds.optional(),
      rate_limit_per_minute: fields.rate_limit_per_minute.optional(),
      allowed_ips: fields.allowed_ips.optional(),
      token_endpoint_auth_methods: fields.token_endpoint_auth_methods.optional(),
      require_dpop: fields.require_dpop.optional(),
      roles: fields.roles.optional(),
      org_id: orgId.optional().meta({
        description: 'Its organization, fixed for good (default: the admin’s own; only a platform admin may name another).',
      }),
    })
    .meta({ id: 'ServiceAccountCreate' });
  return {
    create,
    update: create
      .omit({ org_id: true })
      .partial()
      .extend({
        status: z
          .enum(['active', 'disabled'], { error: 'must be "active" or "disabled" (use POST …/revoke to revoke)' })
          .optional()
          .meta({ description: 'Disable or re-enable the account (revoking is POST …/revoke).' }),
      })
      .meta({ id: 'ServiceAccountUpdate', description: 'Only the members sent change.' }),
  };
}

export type AccountSchemas = ReturnType<typeof accountSchemas>;

/**
 * An account body as validated (snake_case, the admin API's and the CLI's) as the domain's fields
 * (camelCase): for createAccount (adding the required name) and updateAccount (adding status).
 */
export function accountFieldsOf(body: Omit<z.infer<AccountSchemas['update']>, 'status'>) {
  return {
    name: body.name,
    description: body.description,
    scopes: body.scopes,
    audiences: body.audiences,
    tokenTtlSeconds: body.token_ttl_seconds,
    rateLimitPerMinute: body.rate_limit_per_minute,
    allowedIps: body.allowed_ips,
    tokenEndpointAuthMethods: body.token_endpoint_auth_methods,
    requireDpop: body.require_dpop,
    roles: body.roles,
  };
}

export const createSecretSchema = z
  .strictObject({
    description: description.optional(),
    expires_at: z.iso
      .datetime({ offset: true, error: 'must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z' })
      .optional()
      .meta({ description: 'Default: SECRET_TTL_DAYS from now.', examples: ['2027-01-31T00:00:00Z'] }),
  })
  .meta({ id: 'SecretCreate', description: 'The body may also be empty.' });

export const createKeySchema = z
  .strictObject({
    jwk: z.record(z.string(), z.unknown(), { error: 'must be a public JWK object' }).meta({
      description:
        'A public JWK: RSA ≥ 2048 bits (RS256, or PS256 when `alg` says so), EC P-256 (ES256) or Ed25519 (EdDSA). Private members and symmetric keys are refused.',
      examples: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', kid: 'worker-2026' }],
    }),
    description: description.optional(),
  })
  .meta({ id: 'ClientKeyCreate' });

export const updateKeySchema = z
  .strictObject({ status: enabled('DELETE the key to remove it') })
  .meta({ id: 'ClientKeyUpdate' });

export const updateSecretSchema = z
  .strictObject({ status: enabled('DELETE the secret to revoke it') })
  .meta({ id: 'SecretUpdate' });

/**
 * A query parameter as OpenAPIHono's validator hands it over: repeated, it arrives as an array, of which the
 * first value counts (as with `c.req.query()`).
 */
export const single = <S extends z.ZodType>(schema: S) => z.preprocess((value) => (Array.isArray(value) ? value[0] : value), schema);

const limit = single(z.coerce.number().int().min(1).max(100).default(20).meta({ description: 'Items per page.' }));
const cursor = single(
  z.string().max(500).optional().meta({ description: 'The previous page’s `next_cursor`, for the next page.' }),
);
const expiration = (description: string) =>
  single(
    z
      .enum(['valid', 'expired', 'expiring_soon'], { error: 'must be "valid", "expired" or "expiring_soon"' })
      .optional()
      .meta({ description }),
  );

/** Pins a list to one organization (a platform admin's choice; an organization's admin sees only its own). */
const orgQuery = single(
  orgId.optional().meta({ description: 'Only this organization (an admin of one organization sees only its own; another gives an empty list).' }),
);

export const listAccountsQuery = z.object({
  limit,
  cursor,
  org_id: orgQuery,
  status: single(z.enum(['active', 'disabled', 'revoked']).optional()),
  q: single(z.string().trim().max(200).optional().meta({ description: 'Text in the name or description (case-insensitive).' })),
  expiration: expiration('Accounts holding a secret that is valid, expired, or expiring within EXPIRING_SOON_DAYS.'),
});

export const listSecretsQuery = z.object({
  limit,
  cursor,
  status: single(
    z
      .enum(['active', 'disabled', 'revoked', 'expired'], { error: 'must be "active", "disabled", "revoked" or "expired"' })
      .optional(),
  ),
  expiration: expiration('Secrets that are valid, expired, or expiring within EXPIRING_SOON_DAYS.'),
});

export const listAllSecretsQuery = listSecretsQuery.extend({ org_id: orgQuery });

export const auditEventsQuery = z.object({
  limit,
  cursor,
  org_id: orgQuery,
  service_account_id: single(
    z
      .uuid('must be a service account id')
      .optional()
      .meta({ description: 'Only this account’s events (under /service-accounts/{id}, the path decides).' }),
  ),
  action: single(z.string().max(100).optional().meta({ examples: ['token.denied'] })),
  outcome: single(z.enum(['success', 'failure']).optional()),
  from: single(iso('from').optional().meta({ description: 'Events at or after this time.' })),
  to: single(iso('to').optional().meta({ description: 'Events at or before this time.' })),
});

/** Path parameters: any text reaches the domain, which answers 404 for an id that is not one of ours. */
const id = (what: string) =>
  z.string().meta({ description: `The ${what}’s id.`, format: 'uuid', examples: ['0196f0a5-3c1e-7b2a-9d4f-2b8e6c1a5d30'] });

export const accountPath = z.object({ id: id('service account') });
export const secretPath = z.object({ id: id('service account'), secretId: id('secret') });
export const keyPath = z.object({ id: id('service account'), keyId: id('key') });

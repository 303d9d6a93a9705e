import { z } from 'zod';
import { AUTH_METHODS } from '../accounts/accounts';
import { parseIpRange } from '../limits/ip-ranges';
import { SCOPE_TOKEN } from '../oauth/client-credentials-grant';

const scope = z.string().max(200, 'must be at most 200 characters').regex(SCOPE_TOKEN, 'must be a scope token (RFC 6749 §3.3): printable ASCII without spaces, quotes or backslashes');
const audience = z.string().min(1).max(2000).regex(/^\S+$/, 'must not contain whitespace');
const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const description = z.string().max(1000, 'must be at most 1000 characters');
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
  });
const rateLimit = z
  .number()
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(1_000_000, 'must be at most 1000000');
const iso = (what: string) =>
  z.iso.datetime({ offset: true, error: `${what} must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z` });

export function accountSchemas(maxTokenTtlSeconds: number) {
  const tokenTtl = z
    .number()
    .int('must be a whole number of seconds')
    .min(1)
    .max(maxTokenTtlSeconds, `must be at most ${maxTokenTtlSeconds} (MAX_TOKEN_TTL_SECONDS)`);
  const fields = {
    name,
    description,
    scopes: z.array(scope).max(100, 'at most 100 scopes'),
    audiences: z.array(audience).max(50, 'at most 50 audiences'),
    token_ttl_seconds: tokenTtl.nullable(),
    rate_limit_per_minute: rateLimit.nullable(),
    allowed_ips: z.array(allowedIp).max(100, 'at most 100 entries'),
    token_endpoint_auth_methods: z
      .array(z.enum(AUTH_METHODS, { error: `must be one of ${AUTH_METHODS.join(', ')}` }))
      .min(1, 'name at least one method')
      .max(AUTH_METHODS.length),
    require_dpop: z.boolean(),
  };
  return {
    create: z.strictObject({
      name: fields.name,
      description: fields.description.optional(),
      scopes: fields.scopes.optional(),
      audiences: fields.audiences.optional(),
      token_ttl_seconds: fields.token_ttl_seconds.optional(),
      rate_limit_per_minute: fields.rate_limit_per_minute.optional(),
      allowed_ips: fields.allowed_ips.optional(),
      token_endpoint_auth_methods: fields.token_endpoint_auth_methods.optional(),
      require_dpop: fields.require_dpop.optional(),
    }),
    update: z.strictObject({
      name: fields.name.optional(),
      description: fields.description.optional(),
      scopes: fields.scopes.optional(),
      audiences: fields.audiences.optional(),
      token_ttl_seconds: fields.token_ttl_seconds.optional(),
      rate_limit_per_minute: fields.rate_limit_per_minute.optional(),
      allowed_ips: fields.allowed_ips.optional(),
      token_endpoint_auth_methods: fields.token_endpoint_auth_methods.optional(),
      require_dpop: fields.require_dpop.optional(),
      status: z.enum(['active', 'disabled'], { error: 'must be "active" or "disabled" (use POST …/revoke to revoke)' }).optional(),
    }),
  };
}

export const createSecretSchema = z.strictObject({
  description: description.optional(),
  expires_at: z.iso.datetime({ offset: true, error: 'must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z' }).optional(),
});

export const createKeySchema = z.strictObject({
  jwk: z.record(z.string(), z.unknown(), { error: 'must be a public JWK object' }),
  description: description.optional(),
});

export const updateKeySchema = z.strictObject({
  status: z.enum(['active', 'disabled'], { error: 'must be "active" or "disabled" (DELETE the key to remove it)' }),
});

export const updateSecretSchema = z.strictObject({
  status: z.enum(['active', 'disabled'], { error: 'must be "active" or "disabled" (DELETE the secret to revoke it)' }),
});

const limit = z.coerce.number().int().min(1).max(100).default(20);
const cursor = z.string().max(500).optional();
const expiration = z
  .enum(['valid', 'expired', 'expiring_soon'], { error: 'must be "valid", "expired" or "expiring_soon"' })
  .optional();

export const listAccountsQuery = z.object({
  limit,
  cursor,
  status: z.enum(['active', 'disabled', 'revoked']).optional(),
  q: z.string().trim().max(200).optional(),
  expiration,
});

export const listSecretsQuery = z.object({
  limit,
  cursor,
  status: z
    .enum(['active', 'disabled', 'revoked', 'expired'], { error: 'must be "active", "disabled", "revoked" or "expired"' })
    .optional(),
  expiration,
});

export const auditEventsQuery = z.object({
  limit,
  cursor,
  service_account_id: z.uuid('must be a service account id').optional(),
  action: z.string().max(100).optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  from: iso('from').optional(),
  to: iso('to').optional(),
});

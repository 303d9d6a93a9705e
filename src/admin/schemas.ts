import { z } from 'zod';
import { SCOPE_TOKEN } from '../oauth/client-credentials-grant';

const scope = z.string().max(200, 'must be at most 200 characters').regex(SCOPE_TOKEN, 'must be a scope token (RFC 6749 §3.3): printable ASCII without spaces, quotes or backslashes');
const audience = z.string().min(1).max(2000).regex(/^\S+$/, 'must not contain whitespace');
const name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const description = z.string().max(1000, 'must be at most 1000 characters');

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
  };
  return {
    create: z.strictObject({
      name: fields.name,
      description: fields.description.optional(),
      scopes: fields.scopes.optional(),
      audiences: fields.audiences.optional(),
      token_ttl_seconds: fields.token_ttl_seconds.optional(),
    }),
    update: z.strictObject({
      name: fields.name.optional(),
      description: fields.description.optional(),
      scopes: fields.scopes.optional(),
      audiences: fields.audiences.optional(),
      token_ttl_seconds: fields.token_ttl_seconds.optional(),
      status: z.enum(['active', 'disabled'], { error: 'must be "active" or "disabled" (use POST …/revoke to revoke)' }).optional(),
    }),
  };
}

export const createSecretSchema = z.strictObject({
  description: description.optional(),
  expires_at: z.iso.datetime({ offset: true, error: 'must be an RFC 3339 date-time, e.g. 2027-01-31T00:00:00Z' }).optional(),
});

export const updateSecretSchema = z.strictObject({
  status: z.enum(['active', 'disabled'], { error: 'must be "active" or "disabled" (DELETE the secret to revoke it)' }),
});

export const listAccountsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(500).optional(),
  status: z.enum(['active', 'disabled', 'revoked']).optional(),
  q: z.string().trim().max(200).optional(),
});

import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { AUTH_METHODS } from '../accounts/accounts';
import type { Agrees, SameKeys } from '../http/openapi';
import { JWT_BEARER_ASSERTION_TYPE } from './client-assertion';
import type { authorizationServerMetadata } from './discovery';
import type { oauthErrorBody } from './errors';
import { INTROSPECT_SCOPE } from './introspection';
import type { TokenResponse } from './token-endpoint';

// The OAuth endpoints in the OpenAPI document. Documentation only: these endpoints keep their own parsing
// (TokenParams: duplicate parameters, empty values, form or JSON) and their RFC 6749 error rendering, so the
// schemas below validate nothing. Where the code has a type for what it answers, a compile-time check below
// keeps the schema and the type in step.

/** The token endpoint's security scheme in the OpenAPI document: client_secret_basic. */
export const CLIENT_BASIC = 'clientBasic';

const clientAuthentication = {
  client_id: z.string().optional().meta({
    description: 'client_secret_post; with HTTP Basic or a client assertion it may be sent too, and must then match.',
  }),
  client_secret: z.string().optional().meta({ description: 'client_secret_post: the secret in the body instead of HTTP Basic.' }),
  client_assertion_type: z.literal(JWT_BEARER_ASSERTION_TYPE).optional().meta({ description: 'private_key_jwt (RFC 7523).' }),
  client_assertion: z.string().optional().meta({
    description:
      'private_key_jwt: a JWT signed with one of the account’s registered keys; `iss` and `sub` are the client_id, ' +
      '`aud` the issuer (or the token endpoint URL), with `exp` and a `jti` never used before.',
  }),
};

const TokenRequestSchema = z
  .object({
    grant_type: z.literal('client_credentials'),
    scope: z.string().optional().meta({
      description: 'Space-separated scopes, a subset of the account’s; absent: all of them.',
      examples: ['orders:read orders:write'],
    }),
    audience: z.string().optional().meta({ description: 'One audience the account holds (or use `resource`).' }),
    resource: z.array(z.string()).optional().meta({
      description: 'RFC 8707: one or more absolute URIs the account holds as audiences; may repeat.',
    }),
    authorization_details: z.string().optional().meta({
      description:
        'RFC 9396: a JSON array narrowing the token’s authorization_details to a subset of the account’s permissions. ' +
        'Each entry `{type, identifier, actions, limiter}` must be covered by a permission of that type whose ' +
        'resource_key and action are the ones asked for or `*`, and whose limiter (if any) has an object each requested ' +
        'limiter object contains; `identifier` or `actions` left out ask for `*`. Anything wider: invalid_authorization_details.',
      examples: ['[{"type":"report","identifier":"r1","actions":["read"]}]'],
    }),
    ...clientAuthentication,
  })
  .meta({
    id: 'TokenRequest',
    description:
      'Each parameter at most once (except `resource`); empty values count as absent. As a JSON body, the same members as strings (`resource` and `authorization_details` may be arrays).',
  });

const IntrospectionRequestSchema = z
  .object({ token: z.string().meta({ description: 'The access token to examine.' }), ...clientAuthentication })
  .meta({ id: 'IntrospectionRequest' });

const TokenResponseSchema = z
  .object({
    access_token: z.string().meta({ description: 'An RFC 9068 JWT (typ at+jwt), signed with a key from the JWKS.' }),
    token_type: z.enum(['Bearer', 'DPoP']).meta({ description: 'DPoP when the request carried a DPoP proof.' }),
    expires_in: z.number().int().meta({ examples: [900] }),
    scope: z.string().optional().meta({ description: 'The granted scopes, space-separated; absent when none.' }),
    authorization_details: z
      .array(
        z.object({
          type: z.string(),
          identifier: z.string(),
          actions: z.array(z.string()),
          limiter: z.array(z.record(z.string(), z.string())).optional(),
        }),
      )
      .optional()
      .meta({ description: 'RFC 9396 §7: what the token carries, when the request had `authorization_details`.' }),
  })
  .meta({ id: 'TokenResponse' });
true satisfies Agrees<TokenResponse, z.infer<typeof TokenResponseSchema>>;

export const OAuthErrorSchema = z
  .object({
    error: z.string().meta({
      description:
        'invalid_request, invalid_client, unsupported_grant_type, invalid_scope, invalid_target (RFC 8707), ' +
        'invalid_authorization_details (RFC 9396), invalid_dpop_proof (RFC 9449), insufficient_scope (introspection), ' +
        'too_many_requests, server_error.',
      examples: ['invalid_client'],
    }),
    error_description: z.string().meta({ examples: ['client authentication failed'] }),
  })
  .meta({ id: 'OAuthError', description: 'RFC 6749 §5.2 error response.' });
true satisfies Agrees<ReturnType<typeof oauthErrorBody>, z.infer<typeof OAuthErrorSchema>>;

const IntrospectionResponseSchema = z
  .looseObject({
    active: z.boolean(),
    iss: z.string().optional(),
    sub: z.string().optional(),
    aud: z.union([z.string(), z.array(z.string())]).optional(),
    exp: z.number().int().optional(),
    iat: z.number().int().optional(),
    jti: z.string().optional(),
    client_id: z.string().optional(),
    scope: z.string().optional(),
    token_type: z.enum(['Bearer', 'DPoP']).optional(),
    cnf: z.object({ jkt: z.string() }).optional().meta({ description: 'The DPoP key the token is bound to.' }),
  })
  .meta({
    id: 'IntrospectionResponse',
    description: 'RFC 7662. An inactive, unknown or malformed token is `{"active": false}` and nothing more.',
  });

const AuthorizationServerMetadataSchema = z
  .object({
    issuer: z.string(),
    token_endpoint: z.string(),
    jwks_uri: z.string(),
    response_types_supported: z.array(z.string()).meta({ description: 'Empty: there is no authorization endpoint.' }),
    grant_types_supported: z.array(z.literal('client_credentials')),
    token_endpoint_auth_methods_supported: z.array(z.enum(AUTH_METHODS)),
    token_endpoint_auth_signing_alg_values_supported: z.array(z.string()),
    introspection_endpoint: z.string(),
    introspection_endpoint_auth_methods_supported: z.array(z.enum(AUTH_METHODS)),
    introspection_endpoint_auth_signing_alg_values_supported: z.array(z.string()),
    dpop_signing_alg_values_supported: z.array(z.string()),
    scopes_supported: z.array(z.string()).meta({ description: 'Every scope some service account holds.' }),
    access_token_signing_alg_values_supported: z.array(z.string()),
  })
  .meta({ id: 'AuthorizationServerMetadata', description: 'RFC 8414 authorization server metadata.' });
true satisfies SameKeys<ReturnType<typeof authorizationServerMetadata>, z.infer<typeof AuthorizationServerMetadataSchema>>;

const JwksSchema = z
  .object({
    keys: z.array(
      z.looseObject({
        kty: z.string(),
        kid: z.string(),
        alg: z.string(),
        use: z.literal('sig'),
      }),
    ),
  })
  .meta({ id: 'JWKS', description: 'RFC 7517 JSON Web Key Set: the public signing keys, never a private member.' });

const header = (description: string) => ({ description, schema: { type: 'string' as const } });
const rateLimit = {
  'RateLimit-Limit': header('Token requests per minute this client may make.'),
  'RateLimit-Remaining': header('Requests left in the current window.'),
  'RateLimit-Reset': header('Seconds until the window resets.'),
};
const oauthError = (description: string, headers: Record<string, ReturnType<typeof header>> = {}) => ({
  description,
  headers,
  content: { 'application/json': { schema: OAuthErrorSchema } },
});
const form = <S extends z.ZodType>(schema: S) => ({
  required: true,
  content: { 'application/x-www-form-urlencoded': { schema }, 'application/json': { schema } },
});
const clientErrors = {
  400: oauthError('invalid_request (a missing, repeated or malformed parameter; a body neither form nor JSON), and the other RFC 6749 §5.2 errors.'),
  401: oauthError('invalid_client: the client could not be authenticated (one answer for every reason).', {
    'WWW-Authenticate': header('Basic realm="token", when HTTP Basic was used.'),
  }),
  413: oauthError('invalid_request: the body is larger than BODY_LIMIT_BYTES.'),
  429: oauthError('too_many_requests: the client’s rate limit, or too many failed authentications from it.', {
    'Retry-After': header('Seconds to wait.'),
  }),
  500: oauthError('server_error.'),
};
const cachedDocument = <S extends z.ZodType>(schema: S, description: string) => ({
  200: {
    description,
    headers: { ETag: header('Strong entity tag; send it back as If-None-Match.'), 'Cache-Control': header('public, max-age=JWKS_MAX_AGE_SECONDS') },
    content: { 'application/json': { schema } },
  },
  304: { description: 'Not modified (If-None-Match matched the ETag).' },
});
const ifNoneMatch = z.object({ 'if-none-match': z.string().optional().meta({ description: 'An ETag from an earlier answer.' }) });

/** Adds the OAuth endpoints (oauth/routes.ts) and the token endpoint's Basic scheme to `registry`. */
export function documentOAuthRoutes(registry: OpenAPIHono['openAPIRegistry']): void {
  registry.registerComponent('securitySchemes', CLIENT_BASIC, {
    type: 'http',
    scheme: 'basic',
    description:
      'client_secret_basic (RFC 6749 §2.3.1): client_id and secret, each form-urlencoded, as user and password. ' +
      'Or authenticate in the body instead: client_secret_post, or private_key_jwt with a client assertion.',
  });
  const anyClientAuthentication: Record<string, string[]>[] = [{ [CLIENT_BASIC]: [] }, {}];
  registry.registerPath({
    method: 'post',
    path: '/oauth/token',
    operationId: 'requestToken',
    tags: ['OAuth'],
    summary: 'Obtain an access token (client credentials grant)',
    description:
      'RFC 6749 §4.4. The client authenticates by client_secret_basic (Authorization: Basic), client_secret_post ' +
      '(client_id and client_secret in the body) or private_key_jwt (client_assertion); an optional DPoP proof ' +
      '(RFC 9449) binds the token to a key.',
    security: anyClientAuthentication,
    request: {
      headers: z.object({
        DPoP: z.string().optional().meta({
          description: 'A DPoP proof JWT (RFC 9449) for POST to this endpoint; required for accounts with require_dpop.',
        }),
      }),
      body: form(TokenRequestSchema),
    },
    responses: {
      200: {
        description: 'The token. Cache-Control: no-store.',
        headers: rateLimit,
        content: { 'application/json': { schema: TokenResponseSchema } },
      },
      ...clientErrors,
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/oauth/introspect',
    operationId: 'introspectToken',
    tags: ['OAuth'],
    summary: 'Introspect an access token (RFC 7662)',
    description: `The caller authenticates like a token client and must hold the scope \`${INTROSPECT_SCOPE}\`.`,
    security: anyClientAuthentication,
    request: { body: form(IntrospectionRequestSchema) },
    responses: {
      200: { description: 'What the token is, if active.', content: { 'application/json': { schema: IntrospectionResponseSchema } } },
      ...clientErrors,
      403: oauthError(`insufficient_scope: the caller lacks ${INTROSPECT_SCOPE}.`),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/.well-known/jwks.json',
    operationId: 'getJwks',
    tags: ['Discovery'],
    summary: 'The public signing keys',
    request: { headers: ifNoneMatch },
    responses: cachedDocument(JwksSchema, 'The key set.'),
  });
  for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
    registry.registerPath({
      method: 'get',
      path,
      operationId: path.endsWith('openid-configuration') ? 'getOpenIdConfiguration' : 'getAuthorizationServerMetadata',
      tags: ['Discovery'],
      summary: 'Authorization server metadata (RFC 8414)',
      request: { headers: ifNoneMatch },
      responses: cachedDocument(AuthorizationServerMetadataSchema, 'The metadata, the same at both paths.'),
    });
  }
}

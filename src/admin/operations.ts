import { createRoute, type RouteConfig } from '@hono/zod-openapi';
import { z } from 'zod';
import { ADMIN_SCOPES, type AdminScope } from '../accounts/admin-scopes';
import type { FieldProblem } from '../accounts/errors';
import type { Agrees } from '../http/openapi';
import { requireScope } from './admin-auth';
import {
  AccountSchema,
  AuditEventSchema,
  ClientKeySchema,
  CreatedAccountSchema,
  NewSecretSchema,
  SecretSchema,
  SecretWithAccountSchema,
  pageOf,
} from './presenters';
import {
  accountPath,
  auditEventsQuery,
  createKeySchema,
  createSecretSchema,
  keyPath,
  listAccountsQuery,
  listAllSecretsQuery,
  listSecretsQuery,
  secretPath,
  updateKeySchema,
  updateSecretSchema,
  type AccountSchemas,
} from './schemas';

/** The admin API's security schemes in the OpenAPI document: a Bearer token, or a DPoP-bound one. */
export const ADMIN_BEARER = 'adminBearer';
export const ADMIN_DPOP = 'adminDPoP';

export function adminSecuritySchemes(adminAudience: string) {
  const token =
    `access token from POST /oauth/token for the audience \`${adminAudience}\` (ADMIN_AUDIENCE), whose scopes ` +
    `include the one an operation names (${Object.values(ADMIN_SCOPES).join(', ')}). It stops working as soon ` +
    'as its account, or the secret or key it was obtained with, is disabled or revoked.';
  return {
    [ADMIN_BEARER]: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: `RFC 6750: an ${token}` },
    [ADMIN_DPOP]: {
      type: 'http',
      scheme: 'dpop',
      bearerFormat: 'JWT',
      description: `RFC 9449: a DPoP-bound ${token} Send \`Authorization: DPoP <token>\` with a \`DPoP\` proof header for this request.`,
    },
  } as const;
}

/** RFC 9457 problem details, as admin/problems.ts renders them. */
export const ProblemSchema = z
  .object({
    type: z.string().meta({ examples: ['about:blank'] }),
    title: z.string().meta({ examples: ['Invalid request'] }),
    status: z.number().int().meta({ examples: [400] }),
    detail: z.string().optional().meta({ examples: ['One or more fields are invalid.'] }),
    errors: z
      .array(z.object({ field: z.string().meta({ examples: ['scopes.0'] }), message: z.string() }))
      .optional()
      .meta({ description: 'With 400 Invalid request: each bad field (a JSON member or query parameter) and what is wrong.' }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details.' });

true satisfies Agrees<FieldProblem, NonNullable<z.infer<typeof ProblemSchema>['errors']>[number]>;

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});
const challenge = { 'WWW-Authenticate': { description: 'A Bearer or DPoP challenge (RFC 6750, RFC 9449).', schema: { type: 'string' as const } } };
export const guarded = {
  401: { ...problem('No bearer token, or one that is invalid or expired, or whose account, secret or key is no longer active.'), headers: challenge },
  403: { ...problem('The token lacks the scope this operation needs (error="insufficient_scope").'), headers: challenge },
  500: problem('An internal error (logged; the body has no detail).'),
};
export const invalid = { 400: problem('A field or query parameter is invalid: `errors` names each one.') };
export const jsonBodyErrors = {
  ...invalid,
  413: problem('The body is larger than BODY_LIMIT_BYTES.'),
  415: problem('The body is not application/json.'),
};
export const notFound = (what: string) => ({ 404: problem(`No such ${what}.`) });
export const conflict = (when: string) => ({ 409: problem(when) });

export const json = <S extends z.ZodType>(schema: S, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});
export const jsonBody = <S extends z.ZodType>(schema: S, required = true) => ({
  required,
  content: { 'application/json': { schema } },
});
export const created = <S extends z.ZodType>(schema: S, description: string) => ({
  ...json(schema, description),
  headers: { Location: { description: 'The new resource.', schema: { type: 'string' as const } } },
});
export const noContent = (description: string) => ({ description });

/**
 * An admin operation: its documentation, the scope it needs (documented as the bearer scheme's role list and
 * enforced by `requireScope`), and the validation of its path and query.
 */
export const operation = <R extends Omit<RouteConfig, 'security' | 'middleware' | 'hide'>>(scope: AdminScope, route: R) => {
  const security: Record<string, string[]>[] = [{ [ADMIN_BEARER]: [scope] }, { [ADMIN_DPOP]: [scope] }];
  return createRoute({ ...route, security, middleware: requireScope(scope) });
};

/** Every operation of the admin API, relative to /admin/v1. */
export function adminOperations(schemas: AccountSchemas) {
  const accounts = ['Service accounts'];
  const secrets = ['Secrets'];
  const keys = ['Client keys'];
  const audit = ['Audit trail'];
  return {
    createAccount: operation(ADMIN_SCOPES.create, {
      method: 'post',
      path: '/service-accounts',
      operationId: 'createServiceAccount',
      tags: accounts,
      summary: 'Create a service account',
      description: 'Answers with the account and its first secret, shown once.',
      request: { body: jsonBody(schemas.create) },
      responses: {
        201: created(CreatedAccountSchema, 'The new account, with its first secret.'),
        ...jsonBodyErrors,
        ...guarded,
        ...conflict('The name or client_id is already in use.'),
      },
    }),
    listAccounts: operation(ADMIN_SCOPES.read, {
      method: 'get',
      path: '/service-accounts',
      operationId: 'listServiceAccounts',
      tags: accounts,
      summary: 'List service accounts, newest first',
      request: { query: listAccountsQuery },
      responses: { 200: json(pageOf(AccountSchema), 'A page of accounts.'), ...invalid, ...guarded },
    }),
    getAccount: operation(ADMIN_SCOPES.read, {
      method: 'get',
      path: '/service-accounts/{id}',
      operationId: 'getServiceAccount',
      tags: accounts,
      summary: 'One service account, with its secrets’ metadata',
      request: { params: accountPath },
      responses: { 200: json(AccountSchema, 'The account.'), ...guarded, ...notFound('service account') },
    }),
    updateAccount: operation(ADMIN_SCOPES.update, {
      method: 'patch',
      path: '/service-accounts/{id}',
      operationId: 'updateServiceAccount',
      tags: accounts,
      summary: 'Edit a service account, or disable or re-enable it',
      request: { params: accountPath, body: jsonBody(schemas.update) },
      responses: {
        200: json(AccountSchema, 'The account as it now is.'),
        ...jsonBodyErrors,
        ...guarded,
        ...notFound('service account'),
        ...conflict('The account is revoked, the name is in use, or it still holds secrets while allowing only private_key_jwt.'),
      },
    }),
    revokeAccount: operation(ADMIN_SCOPES.update, {
      method: 'post',
      path: '/service-accounts/{id}/revoke',
      operationId: 'revokeServiceAccount',
      tags: accounts,
      summary: 'Revoke a service account for good',
      request: { params: accountPath },
      responses: { 200: json(AccountSchema, 'The revoked account.'), ...guarded, ...notFound('service account') },
    }),
    deleteAccount: operation(ADMIN_SCOPES.delete, {
      method: 'delete',
      path: '/service-accounts/{id}',
      operationId: 'deleteServiceAccount',
      tags: accounts,
      summary: 'Delete a service account and its secrets',
      description: 'Its audit events stay.',
      request: { params: accountPath },
      responses: { 204: noContent('Deleted.'), ...guarded, ...notFound('service account') },
    }),
    accountAuditEvents: operation(ADMIN_SCOPES.read, {
      method: 'get',
      path: '/service-accounts/{id}/audit-events',
      operationId: 'listServiceAccountAuditEvents',
      tags: audit,
      summary: 'One account’s audit trail, newest first',
      description: 'Its events stay listed after the account is deleted.',
      request: { params: accountPath, query: auditEventsQuery },
      responses: {
        200: json(pageOf(AuditEventSchema), 'A page of events.'),
        ...invalid,
        ...guarded,
        ...notFound('service account (the id is not a UUID)'),
      },
    }),
    createSecret: operation(ADMIN_SCOPES.update, {
      method: 'post',
      path: '/service-accounts/{id}/secrets',
      operationId: 'createSecret',
      tags: secrets,
      summary: 'Add a secret to a service account',
      request: { params: accountPath, body: jsonBody(createSecretSchema, false) },
      responses: {
        201: created(NewSecretSchema, 'The new secret, shown once.'),
        ...jsonBodyErrors,
        ...guarded,
        ...notFound('service account'),
        ...conflict('The account is revoked, allows only private_key_jwt, or has MAX_ACTIVE_SECRETS usable secrets already.'),
      },
    }),
    listSecrets: operation(ADMIN_SCOPES.read, {
      method: 'get',
      path: '/service-accounts/{id}/secrets',
      operationId: 'listSecrets',
      tags: secrets,
      summary: 'A service account’s secrets, newest first',
      request: { params: accountPath, query: listSecretsQuery },
      responses: {
        200: json(pageOf(SecretSchema), 'A page of secrets.'),
        ...invalid,
        ...guarded,
        ...notFound('service account'),
      },
    }),
    updateSecret: operation(ADMIN_SCOPES.update, {
      method: 'patch',
      path: '/service-accounts/{id}/secrets/{secretId}',
      operationId: 'updateSecret',
      tags: secrets,
      summary: 'Disable or re-enable a secret',
      request: { params: secretPath, body: jsonBody(updateSecretSchema) },
      responses: {
        200: json(SecretSchema, 'The secret as it now is.'),
        ...jsonBodyErrors,
        ...guarded,
        ...notFound('service account or secret'),
        ...conflict('The secret is revoked, or enabling it would exceed MAX_ACTIVE_SECRETS.'),
      },
    }),
    revokeSecret: operation(ADMIN_SCOPES.update, {
      method: 'delete',
      path: '/service-accounts/{id}/secrets/{secretId}',
      operationId: 'revokeSecret',
      tags: secrets,
      summary: 'Revoke a secret for good',
      request: { params: secretPath },
      responses: { 204: noContent('Revoked.'), ...guarded, ...notFound('service account or secret') },
    }),
    createKey: operation(ADMIN_SCOPES.update, {
      method: 'post',
      path: '/service-accounts/{id}/keys',
      operationId: 'createClientKey',
      tags: keys,
      summary: 'Register a public key for private_key_jwt',
      request: { params: accountPath, body: jsonBody(createKeySchema) },
      responses: {
        201: created(ClientKeySchema, 'The registered key.'),
        ...jsonBodyErrors,
        ...guarded,
        ...notFound('service account'),
        ...conflict('The account is revoked, already has a key with this kid, or has as many keys as it may.'),
      },
    }),
    listKeys: operation(ADMIN_SCOPES.read, {
      method: 'get',
      path: '/service-accounts/{id}/keys',
      operationId: 'listClientKeys',
      tags: keys,
      summary: 'A service account’s registered keys',
      request: { params: accountPath },
      responses: {
        200: json(z.object({ items: z.array(ClientKeySchema) }), 'The keys.'),
        ...guarded,
        ...notFound('service account'),
      },
    }),
    updateKey: operation(ADMIN_SCOPES.update, {
      method: 'patch',
      path: '/service-accounts/{id}/keys/{keyId}',
      operationId: 'updateClientKey',
      tags: keys,
      summary: 'Disable or re-enable a key',
      request: { params: keyPath, body: jsonBody(updateKeySchema) },
      responses: {
        200: json(ClientKeySchema, 'The key as it now is.'),
        ...jsonBodyErrors,
        ...guarded,
        ...notFound('service account or key'),
      },
    }),
    deleteKey: operation(ADMIN_SCOPES.update, {
      method: 'delete',
      path: '/service-accounts/{id}/keys/{keyId}',
      operationId: 'deleteClientKey',
      tags: keys,
      summary: 'Remove a key',
      request: { params: keyPath },
      responses: { 204: noContent('Removed.'), ...guarded, ...notFound('service account or key') },
    }),
    listAllSecrets: operation(ADMIN_SCOPES.read, {
      method: 'get',
      path: '/secrets',
      operationId: 'listAllSecrets',
      tags: secrets,
      summary: 'Secrets of every account, soonest expiry first',
      description: 'For a rotation review, e.g. `?expiration=expiring_soon`.',
      request: { query: listAllSecretsQuery },
      responses: { 200: json(pageOf(SecretWithAccountSchema), 'A page of secrets.'), ...invalid, ...guarded },
    }),
    auditEvents: operation(ADMIN_SCOPES.read, {
      method: 'get',
      path: '/audit-events',
      operationId: 'listAuditEvents',
      tags: audit,
      summary: 'The audit trail, newest first',
      request: { query: auditEventsQuery },
      responses: { 200: json(pageOf(AuditEventSchema), 'A page of events.'), ...invalid, ...guarded },
    }),
  };
}

import {
  createAccount,
  deleteAccount,
  revokeAccount,
  updateAccount,
  type AccountInput,
  type AccountPatch,
  type AccountWithSecrets,
} from '../accounts/accounts';
import { addClientKey, deleteClientKey, setClientKeyStatus } from '../accounts/client-keys';
import type { AccountsContext } from '../accounts/context';
import { addPermission, deletePermission, updatePermission, type PermissionInput, type PermissionPatch } from '../accounts/permissions';
import { createRole, deleteRole, updateRole, type RoleInput, type RolePatch } from '../accounts/role-store';
import { addSecret, requireAccount, revokeSecret, setSecretStatus, type NewSecret, type SecretInput } from '../accounts/secrets';
import type { AuditEvent, AuditLog } from '../audit/audit-log';

/** Who makes a change, as the audit trail names them. */
export interface Actor {
  /** The admin's client_id (REST API, console). */
  clientId: string;
  sourceIp: string | undefined;
  userAgent: string | undefined;
}

export interface AdminActionsDeps {
  accounts: AccountsContext;
  audit: AuditLog;
}

type Change = Pick<AuditEvent, 'action' | 'accountId' | 'clientId' | 'orgId' | 'secretId' | 'details'>;

/**
 * The changes an administrator makes, each a domain call followed by its audit event, written before the
 * caller answers: one definition for the admin REST API and the web console. `details` is what the admin
 * asked for, as the API names it (never a secret). `httpStatus` in the trail is the REST answer's.
 */
export function adminActions(deps: AdminActionsDeps, actor: Actor) {
  const ctx = deps.accounts;
  const audited = async (httpStatus: number, change: Change) => {
    deps.audit.record({
      occurredAt: ctx.clock(),
      outcome: 'success',
      actor: actor.clientId,
      sourceIp: actor.sourceIp,
      userAgent: actor.userAgent,
      httpStatus,
      ...change,
    });
    await deps.audit.flush();
  };

  /** The account's client_id, so the trail names the client a secret or key change concerns. */
  const ownerOf = (accountId: string) => requireAccount(ctx, accountId);

  return {
    async createAccount(input: AccountInput, details: Record<string, unknown>) {
      const created = await createAccount(ctx, input);
      const { account } = created;
      await audited(201, {
        action: 'service_account.created',
        accountId: account.id,
        clientId: account.clientId,
        orgId: account.orgId,
        secretId: created.secret?.row.id,
        details: { ...details, ...(created.secret ? { secret_prefix: created.secret.row.prefix } : {}) },
      });
      return created;
    },

    /** `changes`: the fields as the admin sent them, for the trail. */
    async updateAccount(id: string, patch: AccountPatch, changes: Record<string, unknown>): Promise<AccountWithSecrets> {
      const updated = await updateAccount(ctx, id, patch);
      const { account } = updated;
      const action =
        patch.status === 'disabled'
          ? 'service_account.disabled'
          : patch.status === 'active'
            ? 'service_account.enabled'
            : 'service_account.updated';
      await audited(200, { action, accountId: account.id, clientId: account.clientId, orgId: account.orgId, details: { changes } });
      return updated;
    },

    async revokeAccount(id: string): Promise<AccountWithSecrets> {
      const revoked = await revokeAccount(ctx, id);
      const { account } = revoked;
      await audited(200, {
        action: 'service_account.revoked',
        accountId: account.id,
        clientId: account.clientId,
        orgId: account.orgId,
        details: { name: account.name },
      });
      return revoked;
    },

    async deleteAccount(id: string) {
      const deleted = await deleteAccount(ctx, id);
      await audited(204, {
        action: 'service_account.deleted',
        accountId: deleted.id,
        clientId: deleted.clientId,
        orgId: deleted.orgId,
        details: { name: deleted.name },
      });
      return deleted;
    },

    async addSecret(accountId: string, input: SecretInput): Promise<NewSecret> {
      const { clientId, orgId } = await ownerOf(accountId);
      const secret = await addSecret(ctx, accountId, input);
      await audited(201, {
        action: 'secret.created',
        accountId: secret.row.accountId,
        clientId,
        orgId,
        secretId: secret.row.id,
        details: { prefix: secret.row.prefix, expires_at: secret.row.expiresAt.toISOString() },
      });
      return secret;
    },

    async setSecretStatus(accountId: string, secretId: string, status: 'active' | 'disabled') {
      const { clientId, orgId } = await ownerOf(accountId);
      const row = await setSecretStatus(ctx, accountId, secretId, status);
      await audited(200, {
        action: status === 'active' ? 'secret.enabled' : 'secret.disabled',
        accountId: row.accountId,
        clientId,
        orgId,
        secretId: row.id,
        details: { prefix: row.prefix },
      });
      return row;
    },

    async revokeSecret(accountId: string, secretId: string) {
      const { clientId, orgId } = await ownerOf(accountId);
      const row = await revokeSecret(ctx, accountId, secretId);
      await audited(204, { action: 'secret.revoked', accountId, clientId, orgId, secretId, details: { prefix: row.prefix } });
      return row;
    },

    async addClientKey(accountId: string, input: Parameters<typeof addClientKey>[2]) {
      const { clientId, orgId } = await ownerOf(accountId);
      const key = await addClientKey(ctx, accountId, input);
      await audited(201, {
        action: 'key.created',
        accountId: key.accountId,
        clientId,
        orgId,
        details: { key_id: key.id, kid: key.kid, alg: key.alg, thumbprint: key.thumbprint },
      });
      return key;
    },

    async setClientKeyStatus(accountId: string, keyId: string, status: 'active' | 'disabled') {
      const { clientId, orgId } = await ownerOf(accountId);
      const key = await setClientKeyStatus(ctx, accountId, keyId, status);
      await audited(200, {
        action: status === 'active' ? 'key.enabled' : 'key.disabled',
        accountId: key.accountId,
        clientId,
        orgId,
        details: { key_id: key.id, kid: key.kid },
      });
      return key;
    },

    async deleteClientKey(accountId: string, keyId: string) {
      const { clientId, orgId } = await ownerOf(accountId);
      const key = await deleteClientKey(ctx, accountId, keyId);
      await audited(204, { action: 'key.deleted', accountId: key.accountId, clientId, orgId, details: { key_id: key.id, kid: key.kid } });
      return key;
    },

    async addPermission(accountId: string, input: PermissionInput) {
      const { clientId, orgId } = await ownerOf(accountId);
      const permission = await addPermission(ctx, accountId, input);
      await audited(201, { action: 'permission.created', accountId, clientId, orgId, details: { permission } });
      return permission;
    },

    /** The trail keeps the members the admin sent (`changes`) and the permission as it was. */
    async updatePermission(accountId: string, permissionId: string, patch: PermissionPatch) {
      const { clientId, orgId } = await ownerOf(accountId);
      const { before, after } = await updatePermission(ctx, accountId, permissionId, patch);
      await audited(200, {
        action: 'permission.updated',
        accountId,
        clientId,
        orgId,
        details: { permission_id: permissionId, changes: patch, before },
      });
      return after;
    },

    async deletePermission(accountId: string, permissionId: string) {
      const { clientId, orgId } = await ownerOf(accountId);
      const permission = await deletePermission(ctx, accountId, permissionId);
      await audited(204, { action: 'permission.deleted', accountId, clientId, orgId, details: { permission } });
      return permission;
    },

    async createRole(input: RoleInput) {
      const role = await createRole(ctx, input);
      await audited(201, {
        action: 'role.created',
        orgId: role.orgId,
        details: { name: role.name, description: role.description, scopes: role.scopes },
      });
      return role;
    },

    /** `changes`: the members as the admin sent them, for the trail. */
    async updateRole(orgId: string, name: string, patch: RolePatch, changes: Record<string, unknown>) {
      const { before, after } = await updateRole(ctx, orgId, name, patch);
      await audited(200, {
        action: 'role.updated',
        orgId,
        details: { name, changes, before: { description: before.description, scopes: before.scopes } },
      });
      return after;
    },

    async deleteRole(orgId: string, name: string, options: { force: boolean }) {
      const { role, accountIds } = await deleteRole(ctx, orgId, name, options);
      await audited(204, {
        action: 'role.deleted',
        orgId,
        details: {
          name,
          scopes: role.scopes,
          force: options.force,
          // The accounts that lost it (with force), named up to a hundred.
          removed_from_accounts: accountIds.length,
          account_ids: accountIds.slice(0, 100),
        },
      });
      return role;
    },
  };
}

export type AdminActions = ReturnType<typeof adminActions>;

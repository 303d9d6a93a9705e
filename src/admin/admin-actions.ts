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

type Change = Pick<AuditEvent, 'action' | 'accountId' | 'clientId' | 'secretId' | 'details'>;

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
  const clientIdOf = async (accountId: string) => (await requireAccount(ctx, accountId)).clientId;

  return {
    async createAccount(input: AccountInput, details: Record<string, unknown>) {
      const created = await createAccount(ctx, input);
      const { account } = created;
      await audited(201, {
        action: 'service_account.created',
        accountId: account.id,
        clientId: account.clientId,
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
      await audited(200, { action, accountId: account.id, clientId: account.clientId, details: { changes } });
      return updated;
    },

    async revokeAccount(id: string): Promise<AccountWithSecrets> {
      const revoked = await revokeAccount(ctx, id);
      const { account } = revoked;
      await audited(200, {
        action: 'service_account.revoked',
        accountId: account.id,
        clientId: account.clientId,
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
        details: { name: deleted.name },
      });
      return deleted;
    },

    async addSecret(accountId: string, input: SecretInput): Promise<NewSecret> {
      const clientId = await clientIdOf(accountId);
      const secret = await addSecret(ctx, accountId, input);
      await audited(201, {
        action: 'secret.created',
        accountId: secret.row.accountId,
        clientId,
        secretId: secret.row.id,
        details: { prefix: secret.row.prefix, expires_at: secret.row.expiresAt.toISOString() },
      });
      return secret;
    },

    async setSecretStatus(accountId: string, secretId: string, status: 'active' | 'disabled') {
      const clientId = await clientIdOf(accountId);
      const row = await setSecretStatus(ctx, accountId, secretId, status);
      await audited(200, {
        action: status === 'active' ? 'secret.enabled' : 'secret.disabled',
        accountId: row.accountId,
        clientId,
        secretId: row.id,
        details: { prefix: row.prefix },
      });
      return row;
    },

    async revokeSecret(accountId: string, secretId: string) {
      const clientId = await clientIdOf(accountId);
      const row = await revokeSecret(ctx, accountId, secretId);
      await audited(204, { action: 'secret.revoked', accountId, clientId, secretId, details: { prefix: row.prefix } });
      return row;
    },

    async addClientKey(accountId: string, input: Parameters<typeof addClientKey>[2]) {
      const clientId = await clientIdOf(accountId);
      const key = await addClientKey(ctx, accountId, input);
      await audited(201, {
        action: 'key.created',
        accountId: key.accountId,
        clientId,
        details: { key_id: key.id, kid: key.kid, alg: key.alg, thumbprint: key.thumbprint },
      });
      return key;
    },

    async setClientKeyStatus(accountId: string, keyId: string, status: 'active' | 'disabled') {
      const clientId = await clientIdOf(accountId);
      const key = await setClientKeyStatus(ctx, accountId, keyId, status);
      await audited(200, {
        action: status === 'active' ? 'key.enabled' : 'key.disabled',
        accountId: key.accountId,
        clientId,
        details: { key_id: key.id, kid: key.kid },
      });
      return key;
    },

    async deleteClientKey(accountId: string, keyId: string) {
      const clientId = await clientIdOf(accountId);
      const key = await deleteClientKey(ctx, accountId, keyId);
      await audited(204, { action: 'key.deleted', accountId: key.accountId, clientId, details: { key_id: key.id, kid: key.kid } });
      return key;
    },
  };
}

export type AdminActions = ReturnType<typeof adminActions>;

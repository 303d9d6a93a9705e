import { createAccount, findAccountByClientId } from './accounts';
import { PLATFORM_ADMIN_ROLE } from './roles';
import { ALL_ADMIN_SCOPES } from './admin-scopes';
import type { AccountsContext } from './context';
import { ConflictError } from './errors';

export interface BootstrapAdminResult {
  created: boolean;
  clientId: string;
  /** Only when this call generated the secret. */
  clientSecret?: string;
}

/**
 * Creates an administrator account holding every admin scope and the admin audience. With `clientId` and
 * `clientSecret` (from BOOTSTRAP_ADMIN_*), it does nothing when that client already exists, so it is safe on
 * every start (Keycloak's convention). Without them, it generates both.
 */
export async function bootstrapAdmin(
  ctx: AccountsContext,
  options: { adminAudience: string; name?: string; clientId?: string; clientSecret?: string },
): Promise<BootstrapAdminResult> {
  if (options.clientId && (await findAccountByClientId(ctx, options.clientId))) {
    return { created: false, clientId: options.clientId };
  }
  const name = options.name ?? (options.clientId ? `bootstrap admin ${options.clientId}` : `admin ${ctx.clock().toISOString()}`);
  try {
    const created = await createAccount(
      ctx,
      {
        name,
        description: 'Administrator account created by bootstrap.',
        scopes: ALL_ADMIN_SCOPES,
        audiences: [options.adminAudience],
        // Administers every organization.
        roles: [PLATFORM_ADMIN_ROLE],
      },
      options.clientId && options.clientSecret ? { clientId: options.clientId, suppliedSecret: options.clientSecret } : {},
    );
    return options.clientSecret
      ? { created: true, clientId: created.account.clientId }
      : { created: true, clientId: created.account.clientId, clientSecret: created.secret!.plaintext };
  } catch (error) {
    // Another instance starting at the same moment created it first.
    if (error instanceof ConflictError && options.clientId && (await findAccountByClientId(ctx, options.clientId))) {
      return { created: false, clientId: options.clientId };
    }
    throw error;
  }
}

import type { Context } from 'hono';
import { requestSource } from '../http/request-source';
import type { IpRangeList } from '../limits/ip-ranges';
import { adminActions, type AdminActions, type AdminActionsDeps } from './admin-actions';
import type { AdminPrincipal } from './admin-auth';

/**
 * The changes the signed-in admin of this request makes, audited with it as actor and the request's source
 * (admin-actions.ts): one helper for the admin API's routers and the web console.
 */
export function actionsOfRequest<E extends { Variables: { admin: AdminPrincipal } }>(
  c: Context<E>,
  deps: AdminActionsDeps & { trustedProxies: IpRangeList },
): AdminActions {
  const source = requestSource(c, deps.trustedProxies);
  const admin = c.get('admin') as AdminPrincipal;
  return adminActions(deps, { clientId: admin.clientId, sourceIp: source.ip, userAgent: source.userAgent });
}

import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { AdminScope } from '../accounts/admin-scopes';
import { InvalidFieldsError } from '../accounts/errors';
import { actionsOfRequest } from '../admin/acting-admin';
import type { AdminPrincipal } from '../admin/admin-auth';
import type { AuditLog } from '../audit/audit-log';
import type { IpRangeList } from '../limits/ip-ranges';
import type { SigningAlg } from '../tokens/signing-algs';
import type { ConsoleSessionDeps } from './session';
import type { Viewer } from './views/layout';
import { ErrorPage } from './views/messages';

/** What the console's pages share: their dependencies, the signed-in admin, and small request helpers. */

export interface ConsoleDeps extends ConsoleSessionDeps {
  audit: AuditLog;
  logger: Logger;
  trustedProxies: IpRangeList;
  bodyLimitBytes: number;
  maxTokenTtlSeconds: number;
  defaultRateLimitPerMinute: number;
  expiringSoonDays: number;
  /** Cookies marked Secure (and `__Host-` named): when the issuer is https. */
  secureCookies: boolean;
  signingKeys: { dir: string; alg: SigningAlg; propagationSeconds: number };
}

export type ConsoleEnv = { Variables: { admin: AdminPrincipal; viewer: Viewer } };

export const PAGE_SIZE = 25;

/** What a finished action says on the page it leads to (`?done=`): fixed texts, never echoing input. */
const DONE: Record<string, string> = {
  updated: 'Saved.',
  disabled: 'The account is disabled: none of its credentials gets a token until it is enabled again.',
  enabled: 'The account is enabled.',
  revoked: 'The account is revoked.',
  deleted: 'The service account was deleted.',
  'secret-disabled': 'The secret is disabled.',
  'secret-enabled': 'The secret is enabled.',
  'secret-revoked': 'The secret is revoked.',
  rotated: 'A new signing key was added.',
  'signed-out': 'You are signed out.',
};

export const doneNotice = (c: Context) => DONE[c.req.query('done') ?? ''];

/** An action the signed-in admin lacks the permission for: a 403 page. */
export class Forbidden extends Error {}

export function need(c: Context<ConsoleEnv>, scope: AdminScope): void {
  if (!c.get('admin').scopes.has(scope)) throw new Forbidden(`This needs the ${scope} permission.`);
}

/** The admin's changes, audited with the admin as actor (the same functions as the REST API's). */
export const actionsOf = (c: Context<ConsoleEnv>, deps: ConsoleDeps) => actionsOfRequest(c, deps);

export type FormBody = Record<string, string | File>;

/** The posted form (parsed once; Hono keeps it for later calls). */
export const formOf = async (c: Context): Promise<FormBody> => (await c.req.parseBody()) as FormBody;

/** A text field of the form; '' when absent (or a file). */
export function field(body: FormBody, name: string): string {
  const value = body[name];
  return typeof value === 'string' ? value : '';
}

export const notFound = (c: Context<ConsoleEnv>, detail: string) =>
  c.html(<ErrorPage viewer={c.get('viewer')} status={404} title="Not found" detail={detail} />, 404);

export function enabledStatus(value: string): 'active' | 'disabled' {
  if (value === 'active' || value === 'disabled') return value;
  throw new InvalidFieldsError([{ field: 'status', message: 'must be "active" or "disabled"' }]);
}


/** The scopes that grant access to the admin API, one per kind of action. */
export const ADMIN_SCOPES = {
  read: 'service-account:read',
  create: 'service-account:create',
  update: 'service-account:update',
  delete: 'service-account:delete',
} as const;

export type AdminScope = (typeof ADMIN_SCOPES)[keyof typeof ADMIN_SCOPES];
export const ALL_ADMIN_SCOPES: AdminScope[] = Object.values(ADMIN_SCOPES);

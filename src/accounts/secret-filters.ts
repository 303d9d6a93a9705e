import { and, eq, gt, lte, ne, type SQL } from 'drizzle-orm';
import { clientSecrets } from '../db/schema';

/** The status a user sees and filters by: revoked wins, then expired, then the stored status. */
export type SecretStateFilter = 'active' | 'disabled' | 'revoked' | 'expired';

/**
 * Expiration states, for rotation reviews. Revoked secrets are in none of them. `valid` is every secret not
 * yet expired; `expiring_soon` is the part of it that expires within the configured number of days.
 */
export type ExpirationFilter = 'valid' | 'expired' | 'expiring_soon';

export function secretStateCondition(state: SecretStateFilter, now: Date): SQL {
  switch (state) {
    case 'revoked':
      return eq(clientSecrets.status, 'revoked');
    case 'expired':
      return and(ne(clientSecrets.status, 'revoked'), lte(clientSecrets.expiresAt, now))!;
    case 'active':
    case 'disabled':
      return and(eq(clientSecrets.status, state), gt(clientSecrets.expiresAt, now))!;
  }
}

export function expirationCondition(state: ExpirationFilter, now: Date, expiringSoonDays: number): SQL {
  const notRevoked = ne(clientSecrets.status, 'revoked');
  switch (state) {
    case 'valid':
      return and(notRevoked, gt(clientSecrets.expiresAt, now))!;
    case 'expired':
      return and(notRevoked, lte(clientSecrets.expiresAt, now))!;
    case 'expiring_soon':
      return and(
        notRevoked,
        gt(clientSecrets.expiresAt, now),
        lte(clientSecrets.expiresAt, new Date(now.getTime() + expiringSoonDays * 86_400_000)),
      )!;
  }
}

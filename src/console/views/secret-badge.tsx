import { secretState } from '../../accounts/secrets';
import type { ClientSecretRow } from '../../db/schema';
import { Badge } from './parts';

const DAY_MS = 86_400_000;

/** A secret's state; an active one about to expire says so. */
export function secretBadge(secret: ClientSecretRow, now: Date, expiringSoonDays: number) {
  const state = secretState(secret, now);
  if (state === 'active' && secret.expiresAt.getTime() - now.getTime() <= expiringSoonDays * DAY_MS) {
    return <Badge kind="expiring" label="expiring soon" />;
  }
  return <Badge kind={state} />;
}

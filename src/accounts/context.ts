import type { Database } from '../db/connect';
import type { PasswordHasher } from './password-hasher';

/** What the account domain needs, passed in explicitly so tests can bring a fresh database and a fake clock. */
export interface AccountsContext {
  db: Database;
  clock: () => Date;
  hasher: PasswordHasher;
  settings: {
    /** Default lifetime of a new secret. */
    secretTtlDays: number;
    /** Cap on usable (active, unexpired) secrets per account. */
    maxActiveSecrets: number;
    /** A secret expiring within this many days is `expiring_soon`. */
    expiringSoonDays: number;
  };
}

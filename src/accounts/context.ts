import type { DatabaseCircuit } from '../db/availability';
import type { Database } from '../db/connect';
import type { CredentialCache } from './credential-cache';
import type { PasswordHasher } from './password-hasher';
import type { RoleDirectory } from './role-directory';

/** What the account domain needs, passed in explicitly so tests can bring a fresh database and a fake clock. */
export interface AccountsContext {
  db: Database;
  clock: () => Date;
  hasher: PasswordHasher;
  /** Verified credentials of this process; every change to an account is announced through it. */
  credentials: CredentialCache;
  /**
   * Bounds the token hot path's database reads (PostgreSQL: a timeout, then a moment of failing fast; see
   * db/availability.ts). Absent (PGlite, in-process), reads are not bounded.
   */
  hotReads?: DatabaseCircuit;
  /**
   * This process's copy of the custom roles, kept current through the same notifications as `credentials`, so
   * that a token costs no read of the roles table. Absent (the CLI, some tests), roles are read per token.
   */
  roles?: RoleDirectory;
  settings: {
    /** Default lifetime of a new secret. */
    secretTtlDays: number;
    /** Cap on usable (active, unexpired) secrets per account. */
    maxActiveSecrets: number;
    /** A secret expiring within this many days is `expiring_soon`. */
    expiringSoonDays: number;
  };
}

/** A transaction of the accounts database. */
export type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

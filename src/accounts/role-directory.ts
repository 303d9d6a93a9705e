import { eq } from 'drizzle-orm';
import { isDatabaseUnavailable, type DatabaseCircuit } from '../db/availability';
import type { Database } from '../db/connect';
import { roles } from '../db/schema';
import type { CredentialCache } from './credential-cache';

/**
 * The reserved id announced on the account-changes channel (credential-cache.ts) when any custom role is
 * created, changed or deleted. Account ids are UUIDs, so it names no account.
 */
export const ROLE_CHANGES = 'roles';

export interface RoleDirectorySource {
  db: Database;
  /** Its notifications (and its listening state) tell the directory when a role changed anywhere. */
  credentials: CredentialCache;
  /** Bounds the reads, as for the rest of the token hot path (PostgreSQL only). */
  hotReads?: DatabaseCircuit;
}

export interface RoleDirectoryOptions {
  /**
   * While the database cannot be reached, an organization's roles as this process last knew them to be current
   * still count for this long (CREDENTIAL_CACHE_TTL_SECONDS, as for cached credentials); then a token fails.
   */
  unreachableGraceMs: number;
}

interface OrgRoles {
  scopes: ReadonlyMap<string, readonly string[]>;
  /** The directory's generation when these were read: older ones may be out of date. */
  generation: number;
  /** When they were last known to be current (performance.now()). */
  knownAt: number;
}

/**
 * This process's copy of the custom roles, per organization, so that the token endpoint reads no table to
 * resolve an account's roles. An organization's roles are read on first need and kept; every role change,
 * made by any process, announces ROLE_CHANGES in its transaction (role-store.ts) and every copy is marked out
 * of date on receipt, to be read again on next need. The change's admin call returns once its own process
 * has received the announcement; PostgreSQL signals every listener at the same commit, so every other
 * process has it too, give or take milliseconds of scheduling, and its very next token sees the change.
 *
 * While the LISTEN connection is down, changes could go unseen, so roles are read from the database for each
 * token (as credentials are); when it is back, everything is marked out of date. If the database itself
 * cannot be reached, the last copy known current serves for `unreachableGraceMs`.
 */
export class RoleDirectory {
  private readonly orgs = new Map<string, OrgRoles>();
  private readonly loading = new Map<string, Promise<ReadonlyMap<string, readonly string[]>>>();
  private generation = 0;
  /** Reads of an organization's roles from the database (for tests and metrics). */
  loads = 0;

  constructor(
    private readonly source: RoleDirectorySource,
    private readonly options: RoleDirectoryOptions,
  ) {
    source.credentials.onInvalidate((id) => {
      // Undefined (or empty): anything may have changed, e.g. notifications were missed while not listening.
      if (!id || id === ROLE_CHANGES) this.markStale();
    });
  }

  /** Forgets every copy: the next need reads again. */
  markStale(): void {
    this.generation++;
    this.loading.clear();
  }

  /** The scopes the organization's roles named `names` hold (a name that does not resolve gives nothing). */
  async scopesOf(orgId: string, names: readonly string[]): Promise<string[]> {
    const roleScopes = await this.rolesOf(orgId);
    return names.flatMap((name) => roleScopes.get(name) ?? []);
  }

  private async rolesOf(orgId: string): Promise<ReadonlyMap<string, readonly string[]>> {
    const listening = this.source.credentials.isListening;
    const known = this.orgs.get(orgId);
    if (listening && known && known.generation === this.generation) {
      known.knownAt = performance.now();
      return known.scopes;
    }
    try {
      return await this.load(orgId, listening);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      if (known && performance.now() - known.knownAt < this.options.unreachableGraceMs) return known.scopes;
      throw error;
    }
  }

  /** One read per organization at a time while listening; its result is kept unless a change came meanwhile. */
  private load(orgId: string, listening: boolean): Promise<ReadonlyMap<string, readonly string[]>> {
    const pending = listening ? this.loading.get(orgId) : undefined;
    if (pending) return pending;
    const generation = this.generation;
    const loading = this.read(orgId).then((scopes) => {
      // Kept unless a change was announced meanwhile. Read while not listening, it serves only as the last
      // copy known current: listening again marks everything out of date.
      if (generation === this.generation) this.orgs.set(orgId, { scopes, generation, knownAt: performance.now() });
      return scopes;
    });
    if (listening) {
      this.loading.set(orgId, loading);
      const forget = () => {
        if (this.loading.get(orgId) === loading) this.loading.delete(orgId);
      };
      loading.then(forget, forget);
    }
    return loading;
  }

  private async read(orgId: string): Promise<ReadonlyMap<string, readonly string[]>> {
    this.loads++;
    const query = () => this.source.db.select({ name: roles.name, scopes: roles.scopes }).from(roles).where(eq(roles.orgId, orgId));
    const rows = await (this.source.hotReads ? this.source.hotReads.read(query) : query());
    return new Map(rows.map((r) => [r.name, r.scopes]));
  }
}

/** Errors of the account domain. The admin layer renders them as RFC 9457 problems; nothing else formats them. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
  constructor(what: string) {
    super(`${what} not found`);
  }
}

export class ConflictError extends Error {
  override name = 'ConflictError';
}

export interface FieldProblem {
  field: string;
  message: string;
}

export class InvalidFieldsError extends Error {
  override name = 'InvalidFieldsError';
  constructor(readonly fields: FieldProblem[]) {
    super(fields.map((f) => `${f.field}: ${f.message}`).join('; '));
  }
}

/** Unique violation, as reported by postgres.js or PGlite (possibly wrapped by drizzle). */
export function uniqueViolation(error: unknown): { constraint: string } | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const pgError = e as { code?: unknown; constraint_name?: unknown; constraint?: unknown };
    if (pgError.code === '23505') {
      return { constraint: String(pgError.constraint_name ?? pgError.constraint ?? '') };
    }
  }
  return undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string): boolean => UUID.test(s);

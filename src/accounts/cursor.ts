import { InvalidFieldsError, isUuid } from './errors';

/**
 * Opaque keyset cursors: the (timestamp, id) of the last row of a page, base64url JSON. Decoding accepts
 * only what this API could have produced, so a crafted cursor is a 400, never a database error.
 */
export function encodeCursor(at: Date, id: string | number): string {
  return Buffer.from(JSON.stringify([at.toISOString(), id])).toString('base64url');
}

export function decodeCursor(cursor: string, idKind: 'uuid'): { at: Date; id: string };
export function decodeCursor(cursor: string, idKind: 'integer'): { at: Date; id: number };
export function decodeCursor(cursor: string, idKind: 'uuid' | 'integer'): { at: Date; id: string | number } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const date = new Date(String(at));
    const year = date.getUTCFullYear();
    // Only dates PostgreSQL can hold: a crafted year 0 or 10000 must be a 400, not a database error.
    const idOk =
      idKind === 'uuid' ? typeof id === 'string' && isUuid(id) : Number.isSafeInteger(id) && (id as number) > 0;
    if (idOk && year >= 1 && year <= 9999) return { at: date, id: id as string | number };
  } catch {
    // fall through
  }
  throw new InvalidFieldsError([{ field: 'cursor', message: 'is not a cursor returned by this API' }]);
}

import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Generated client secrets name their own row:
 *
 *   ccs_<secret id, 32 hex>_<256 random bits, 43 base64url chars>
 *
 * The id lets the token endpoint fetch the one row to verify (one argon2 verify per request, never one per
 * secret of the account); the random part is the actual secret. The fixed `ccs_` prefix makes leaked secrets
 * easy to find with secret scanners.
 */
const SECRET_PATTERN = /^ccs_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$/;
export const SECRET_DISPLAY_PREFIX_LENGTH = 12;

export interface GeneratedSecret {
  id: string;
  plaintext: string;
  prefix: string;
}

export function generateSecret(): GeneratedSecret {
  const id = randomUUID();
  const plaintext = `ccs_${id.replaceAll('-', '')}_${randomBytes(32).toString('base64url')}`;
  return { id, plaintext, prefix: displayPrefix(plaintext) };
}

/** The secret's row id when `presented` has our format, otherwise undefined. */
export function secretIdOf(presented: string): string | undefined {
  const m = SECRET_PATTERN.exec(presented);
  if (!m) return undefined;
  const hex = m[1]!;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function displayPrefix(plaintext: string): string {
  return plaintext.slice(0, SECRET_DISPLAY_PREFIX_LENGTH);
}

/** Public client identifiers: `sa_` + 96 random bits. Not secret, only unique. */
export function generateClientId(): string {
  return `sa_${randomBytes(12).toString('hex')}`;
}

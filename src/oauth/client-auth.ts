import { secretIdOf } from '../accounts/secret-format';
import { assertionClientId, JWT_BEARER_ASSERTION_TYPE } from './client-assertion';
import { InvalidClient, InvalidRequest } from './errors';
import type { TokenParams } from './token-request';

export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

export type PresentedCredentials =
  | { method: 'client_secret_basic' | 'client_secret_post'; clientId: string; secret: string }
  | { method: 'private_key_jwt'; clientId: string; assertion: string };

const MAX_ASSERTION = 8192;

const MAX_CLIENT_ID = 200;
const MAX_SECRET = 512;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/**
 * A client_id no account can have, refused before any lookup, counter or audit record: one holding U+0000
 * (PostgreSQL text cannot store it), or one of our secrets (a client that swapped its id and secret must not
 * have its secret written down).
 */
const impossibleClientId = (clientId: string) => clientId.includes('\u0000') || secretIdOf(clientId.trim()) !== undefined;

/**
 * Extracts the client's credentials from `Authorization: Basic` (RFC 6749 §2.3.1: id and secret each
 * form-urlencoded, then base64), from the body (client_secret_post), or from a JWT client assertion
 * (private_key_jwt, RFC 7523 §2.2). Using more than one method is invalid_request.
 */
export function presentedCredentials(authorization: string | undefined, params: TokenParams): PresentedCredentials {
  const bodyId = params.get('client_id');
  const bodySecret = params.get('client_secret');
  const assertionType = params.get('client_assertion_type');
  const assertion = params.get('client_assertion');
  if (assertionType !== undefined || assertion !== undefined) {
    if (authorization !== undefined || bodySecret !== undefined) {
      throw new InvalidRequest('use one client authentication method: a client assertion, or a secret');
    }
    if (assertionType !== JWT_BEARER_ASSERTION_TYPE) {
      throw new InvalidRequest(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`);
    }
    if (assertion === undefined) throw new InvalidRequest('client_assertion is required with client_assertion_type');
    const clientId = assertion.length <= MAX_ASSERTION ? assertionClientId(assertion) : undefined;
    if (clientId === undefined || impossibleClientId(clientId) || (bodyId !== undefined && bodyId !== clientId)) throw new InvalidClient(false);
    return { method: 'private_key_jwt', clientId, assertion };
  }
  if (authorization !== undefined) {
    const basic = parseBasic(authorization);
    if (bodySecret !== undefined) {
      throw new InvalidRequest('use one client authentication method: Authorization header or client_secret');
    }
    if (bodyId !== undefined && bodyId !== basic.clientId) {
      throw new InvalidRequest('client_id in the body differs from the Authorization header');
    }
    return basic;
  }
  if (bodyId === undefined || bodySecret === undefined) throw new InvalidClient(false);
  if (bodyId.length > MAX_CLIENT_ID || bodySecret.length > MAX_SECRET || impossibleClientId(bodyId)) throw new InvalidClient(false);
  return { clientId: bodyId, secret: bodySecret, method: 'client_secret_post' };
}

function parseBasic(header: string): PresentedCredentials & { method: 'client_secret_basic' } {
  const fail = () => new InvalidClient(true);
  const match = /^Basic[ ]+(\S+)\s*$/i.exec(header);
  if (!match) throw fail();
  const encoded = match[1]!;
  // Bound the work before decoding: each character may form-encode to 9 bytes (%E2%82%AC).
  if (encoded.length > 4 * Math.ceil(((MAX_CLIENT_ID + MAX_SECRET) * 9 + 1) / 3) || !BASE64.test(encoded)) {
    throw fail();
  }
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) throw fail();
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (!clientId || !secret || clientId.length > MAX_CLIENT_ID || secret.length > MAX_SECRET || impossibleClientId(clientId)) throw fail();
  return { clientId, secret, method: 'client_secret_basic' };
}

/** application/x-www-form-urlencoded decoding of one value; undefined when malformed. */
function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}

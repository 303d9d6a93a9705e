import { randomUUID } from 'node:crypto';
import { signJws } from './jwt-sign';
import type { SigningKey } from './key-store';

export interface AccessTokenClaims {
  issuer: string;
  clientId: string;
  /** The secret or key the client authenticated with: lets introspection notice it was revoked since. */
  credentialId: string;
  /** RFC 9449: the thumbprint of the DPoP key this token is bound to. */
  jkt?: string;
  audience: string | string[];
  scope: string[];
  /** The account's organization: the `org_id` claim. */
  orgId: string;
  /** RFC 9396 authorization_details, when the account holds permissions. */
  authorizationDetails?: object[] | undefined;
  ttlSeconds: number;
  now: Date;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  jti: string;
}

/** Signs an RFC 9068 JWT access token: typ at+jwt, sub = client_id for a client acting for itself. */
export async function signAccessToken(key: SigningKey, claims: AccessTokenClaims): Promise<IssuedToken> {
  const iat = Math.floor(claims.now.getTime() / 1000);
  const jti = randomUUID();
  const payload: Record<string, unknown> = { client_id: claims.clientId, credential_id: claims.credentialId };
  if (claims.jkt) payload.cnf = { jkt: claims.jkt };
  if (claims.scope.length > 0) payload.scope = claims.scope.join(' ');
  payload.org_id = claims.orgId;
  if (claims.authorizationDetails) payload.authorization_details = claims.authorizationDetails;
  const exp = iat + claims.ttlSeconds;
  const token = await signJws(
    key.alg,
    key.privateKey,
    { typ: 'at+jwt', kid: key.kid },
    { ...payload, iss: claims.issuer, sub: claims.clientId, aud: claims.audience, iat, exp, jti },
  );
  return { token, expiresIn: claims.ttlSeconds, jti };
}

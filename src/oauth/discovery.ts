import { SCOPE_TOKEN } from './client-credentials-grant';

export interface DiscoverySettings {
  issuer: string;
  signingAlgs: string[];
}

/** RFC 8414 authorization server metadata. Served at both well-known paths. */
export function authorizationServerMetadata(settings: DiscoverySettings, scopes: string[]) {
  const base = settings.issuer;
  return {
    issuer: base,
    token_endpoint: `${base}/oauth/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    // Required by RFC 8414; there is no authorization endpoint, so no response type is supported.
    response_types_supported: [] as string[],
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    scopes_supported: scopes.filter((s) => SCOPE_TOKEN.test(s)).sort(),
    // RFC 9068 access tokens are signed with these.
    access_token_signing_alg_values_supported: settings.signingAlgs,
  };
}

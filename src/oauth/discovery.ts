import { AUTH_METHODS } from '../accounts/accounts';
import { CLIENT_ASSERTION_ALGS } from '../accounts/client-keys';
import { SCOPE_TOKEN } from './client-credentials-grant';
import { DPOP_ALGS } from './dpop';

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
    token_endpoint_auth_methods_supported: AUTH_METHODS,
    token_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGS,
    introspection_endpoint: `${base}/oauth/introspect`,
    introspection_endpoint_auth_methods_supported: AUTH_METHODS,
    introspection_endpoint_auth_signing_alg_values_supported: CLIENT_ASSERTION_ALGS,
    dpop_signing_alg_values_supported: DPOP_ALGS,
    scopes_supported: scopes.filter((s) => SCOPE_TOKEN.test(s)).sort(),
    // RFC 9068 access tokens are signed with these.
    access_token_signing_alg_values_supported: settings.signingAlgs,
  };
}

/**
 * The "peer" baseline: panva's oidc-provider (a certified OpenID/OAuth server) issuing JWT access tokens for
 * client_credentials with client_secret_basic, through RFC 8707 resource indicators, signed with the same
 * algorithm. Its clients live in its configuration (plaintext secrets compared in constant time, no hashing,
 * no database), so this is a well-engineered authorization server doing roughly our warm-path work.
 *
 * Child process of bench/token-endpoint.ts.
 * Env: PORT, ISSUER, SIGNING_ALG (RS256 | ES256), BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_RESOURCE, BENCH_SCOPE.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${port}`;
const alg = process.env.SIGNING_ALG ?? 'RS256';
const clientId = process.env.BENCH_CLIENT_ID ?? 'peer-client';
const clientSecret = process.env.BENCH_CLIENT_SECRET ?? randomBytes(32).toString('base64url');
const resource = process.env.BENCH_RESOURCE ?? 'https://api.example.com';
const scope = process.env.BENCH_SCOPE ?? 'api:read';

const { privateKey } = await generateKeyPair(alg, { extractable: true });
const jwk = await exportJWK(privateKey);
const key = { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' };

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope,
    },
  ],
  scopes: [scope],
  // The provider's own id_token default must be signable with the one key we give it.
  clientDefaults: { id_token_signed_response_alg: alg },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      getResourceServerInfo: () => ({
        scope,
        audience: resource,
        accessTokenFormat: 'jwt',
        accessTokenTTL: 900,
        jwt: { sign: { alg } },
      }),
      useGrantedResource: () => true,
    },
  },
  jwks: { keys: [key] },
  ttl: { ClientCredentials: 900 },
});
provider.on('server_error', (_ctx: unknown, error: unknown) => {
  process.stderr.write(`oidc-provider server_error: ${error instanceof Error ? error.stack : String(error)}\n`);
});

const server = createServer(provider.callback());
server.listen(port, '127.0.0.1');
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

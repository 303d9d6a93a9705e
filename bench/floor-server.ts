/**
 * The "floor" baseline: a bare node:http server that does the irreducible part of POST /oauth/token —
 * read the form body, parse it with URLSearchParams, sign the same RFC 9068 claims with the same algorithm and
 * the same code as the service (src/tokens/jwt-sign.ts: node:crypto's one-shot sign on the thread pool, the
 * fastest way Node offers) — with no client authentication, no database and no framework.
 *
 * Child process of bench/token-endpoint.ts. Env: PORT, ISSUER, SIGNING_ALG (RS256 | ES256), BENCH_CLIENT_ID.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { signJws } from '../src/tokens/jwt-sign';
import type { SigningAlg } from '../src/tokens/signing-algs';

const port = Number(process.env.PORT);
const issuer = process.env.ISSUER ?? `http://127.0.0.1:${port}`;
const alg = (process.env.SIGNING_ALG ?? 'RS256') as SigningAlg;
const clientId = process.env.BENCH_CLIENT_ID ?? 'floor-client';
const ttlSeconds = 900;

// Same kind of key as src/tokens/key-store.ts holds: a WebCrypto CryptoKey, kid = JWK thumbprint.
const { privateKey } = await generateKeyPair(alg, { extractable: true });
const kid = await calculateJwkThumbprint(await exportJWK(privateKey));

const NO_STORE = { 'content-type': 'application/json', 'cache-control': 'no-store', pragma: 'no-cache' };

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/oauth/token') {
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found"}');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const params = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (params.get('grant_type') !== 'client_credentials') {
      res.writeHead(400, NO_STORE).end('{"error":"unsupported_grant_type"}');
      return;
    }
    const scope = params.get('scope') ?? 'api:read';
    const audience = params.get('resource') ?? issuer;
    const iat = Math.floor(Date.now() / 1000);
    const claims = { client_id: clientId, scope, iss: issuer, sub: clientId, aud: audience, iat, exp: iat + ttlSeconds, jti: randomUUID() };
    signJws(alg, privateKey, { typ: 'at+jwt', kid }, claims)
      .then(
        (token) => {
          res
            .writeHead(200, NO_STORE)
            .end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: ttlSeconds, scope }));
        },
        () => {
          res.writeHead(500, NO_STORE).end('{"error":"server_error"}');
        },
      );
  });
});

server.listen(port, '127.0.0.1');
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

/**
 * A resource API protected by cc-token-service tokens: GET /invoices needs the scope invoices:read.
 *
 *   ISSUER=http://localhost:8080 AUDIENCE=https://api.example.com PORT=3000 \
 *     node --import tsx examples/resource-api/server.ts
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createVerifier, verifyHono, type TokenVariables } from 'cc-token-service/verify';

const issuer = process.env.ISSUER;
const audience = process.env.AUDIENCE;
if (!issuer || !audience) {
  console.error('Set ISSUER (the token service URL) and AUDIENCE (this API’s identifier).');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3000);
const hostname = process.env.HOST ?? '127.0.0.1';

// The JWKS URL comes from the issuer's /.well-known/oauth-authorization-server.
const verifier = createVerifier({ issuer, audience });

const app = new Hono<{ Variables: TokenVariables }>();

app.get('/invoices', verifyHono(verifier, { scopes: ['invoices:read'] }), (c) => {
  const token = c.var.token;
  return c.json({
    client_id: token.client_id,
    invoices: [
      { id: 'inv_001', amount: 12_000, currency: 'EUR' },
      { id: 'inv_002', amount: 4_550, currency: 'EUR' },
    ],
  });
});

app.get('/health', (c) => c.json({ status: 'ok' }));

const server = serve({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
  console.log(`resource API listening on http://${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`);
});

// Load the issuer's keys now, so a wrong ISSUER shows at start; requests retry on their own if it is down.
verifier.ready().catch((e: Error) => console.error(`warning: ${e.message} (${e.cause instanceof Error ? e.cause.message : ''})`));

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)));
}

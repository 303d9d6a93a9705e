import type { Context, Hono } from 'hono';
import { ALL_ADMIN_SCOPES, ADMIN_SCOPES } from '../accounts/admin-scopes';
import { requestSource } from '../http/request-source';
import { rotateKey } from '../tokens/key-rotation';
import { doneNotice, Forbidden, need, type ConsoleDeps, type ConsoleEnv } from './console-context';
import { KeysPage } from './views/keys';

/** The signing keys page: the keys and their states, and rotation (as `keys rotate` does it). */
export function keyPages(app: Hono<ConsoleEnv>, deps: ConsoleDeps): void {
  const now = () => deps.accounts.clock();

  /** Rotating the service's signing key concerns every client: offered to full administrators only. */
  const canRotate = (c: Context<ConsoleEnv>) => ALL_ADMIN_SCOPES.every((s) => c.get('admin').scopes.has(s));

  app.get('/keys', (c) => {
    need(c, ADMIN_SCOPES.read);
    return c.html(
      <KeysPage
        viewer={c.get('viewer')}
        statuses={deps.keys.statuses()}
        signingKid={deps.keys.signingKid}
        canRotate={canRotate(c)}
        alg={deps.signingKeys.alg}
        propagationSeconds={deps.signingKeys.propagationSeconds}
        notice={doneNotice(c)}
      />,
    );
  });

  app.post('/keys/rotate', async (c) => {
    if (!canRotate(c)) throw new Forbidden('Rotating keys needs every service-account permission.');
    const status = await rotateKey(
      { dir: deps.signingKeys.dir, maxTokenTtlSeconds: deps.maxTokenTtlSeconds },
      { alg: deps.signingKeys.alg, propagationSeconds: deps.signingKeys.propagationSeconds, now: now() },
    );
    await deps.keys.reload();
    const source = requestSource(c, deps.trustedProxies);
    deps.audit.record({
      occurredAt: now(),
      action: 'signing_key.rotated',
      outcome: 'success',
      actor: c.get('admin').clientId,
      sourceIp: source.ip,
      userAgent: source.userAgent,
      details: { kid: status.key.kid, alg: status.key.alg, activates_at: new Date(status.key.activatesAt).toISOString() },
    });
    await deps.audit.flush();
    return c.redirect('/console/keys?done=rotated', 303);
  });
}

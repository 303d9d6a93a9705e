import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { ADMIN_SCOPES } from '../accounts/admin-scopes';
import { refuseNulInQuery } from '../admin/nul-input';
import { toProblem } from '../admin/problems';
import { bodyLimit } from '../http/body-limit';
import { requestSource } from '../http/request-source';
import { setResponseHeader } from '../http/response-header';
import { loggableError } from '../logger';
import { accountPages } from './account-pages';
import { assetRoutes } from './assets';
import { auditPages } from './audit-pages';
import { doneNotice, field, Forbidden, formOf, notFound, type ConsoleDeps, type ConsoleEnv } from './console-context';
import { keyPages } from './key-pages';
import { csrfTokenOf, newSignInNonce, sameToken, sessionAdmin, signIn, SignInRefused } from './session';
import { ErrorPage } from './views/messages';
import { CSRF_FIELD } from './views/parts';
import { SignInPage } from './views/sign-in';

export type { ConsoleDeps } from './console-context';

const SIGN_IN_NONCE_SECONDS = 30 * 60;

/**
 * The admin web console at /console: server-rendered pages over the same domain code and the same
 * permissions as the admin REST API. Sessions are our own access tokens (session.ts); every form carries a
 * CSRF token and every POST must come from our own pages.
 */
export function consoleRoutes(deps: ConsoleDeps): Hono<ConsoleEnv> {
  const sessionCookie = deps.secureCookies ? '__Host-cc_console' : 'cc_console';
  const nonceCookie = deps.secureCookies ? '__Host-cc_console_sign_in' : 'cc_console_sign_in';
  const cookieOptions = { path: '/', httpOnly: true, secure: deps.secureCookies, sameSite: 'Strict' } as const;

  const app = new Hono<ConsoleEnv>();

  app.use('*', async (c, next) => {
    await next();
    if (c.req.path.startsWith('/console/assets/')) return;
    // Pages show account data and, once, a secret: never cached, never framed, no resource from elsewhere.
    setResponseHeader(c, 'Cache-Control', 'no-store');
    setResponseHeader(
      c,
      'Content-Security-Policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    setResponseHeader(c, 'X-Frame-Options', 'DENY');
    // same-origin, not no-referrer: with no-referrer, browsers send `Origin: null` on our own form posts.
    setResponseHeader(c, 'Referrer-Policy', 'same-origin');
  });
  app.use(
    '*',
    bodyLimit({ maxSize: deps.bodyLimitBytes, onError: (c) => c.html(<ErrorPage status={413} title="Too large" detail="The form is too large." />, 413) }),
  );
  // A form posted from another site is refused before anything else looks at it (the CSRF token is the
  // real check; this stops it early, also for the sign-in form).
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST' && !sameOrigin(c)) {
      return c.html(<ErrorPage status={403} title="Forbidden" detail="This form was not sent from the console." />, 403);
    }
    await next();
  });

  // PostgreSQL text cannot hold U+0000: a form field or query parameter carrying it is refused, never a 500.
  app.use('*', refuseNulInQuery);
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST') {
      const bad = Object.entries(await formOf(c)).find(([name, value]) => `${name}${typeof value === 'string' ? value : ''}`.includes('\u0000'));
      if (bad) return c.html(<ErrorPage status={400} title="Invalid form" detail={`The field ${JSON.stringify(bad[0])} must not contain U+0000.`} />, 400);
    }
    await next();
  });

  app.route('/', assetRoutes());
  app.get('/', (c) => c.redirect('/console/accounts', 303));

  app.get('/sign-in', async (c) => {
    const nonce = getCookie(c, nonceCookie) ?? newSignInNonce();
    setCookie(c, nonceCookie, nonce, { ...cookieOptions, maxAge: SIGN_IN_NONCE_SECONDS });
    return c.html(<SignInPage nonce={nonce} next={safeNext(c.req.query('next'))} notice={doneNotice(c)} />);
  });

  app.post('/sign-in', async (c) => {
    const body = await formOf(c);
    const nonce = getCookie(c, nonceCookie);
    if (!sameToken(field(body, CSRF_FIELD), nonce)) {
      return c.html(<ErrorPage status={403} title="Forbidden" detail="The sign-in form has expired or was not sent from the console: reload it." />, 403);
    }
    const clientId = field(body, 'client_id').trim();
    const next = safeNext(field(body, 'next'));
    const source = requestSource(c, deps.trustedProxies);
    try {
      const { session } = await signIn(deps, { clientId, secret: field(body, 'client_secret'), sourceIp: source.ip, userAgent: source.userAgent });
      setCookie(c, sessionCookie, session.token, { ...cookieOptions, maxAge: session.expiresInSeconds });
      deleteCookie(c, nonceCookie, cookieOptions);
      return c.redirect(next, 303);
    } catch (error) {
      if (!(error instanceof SignInRefused)) throw error;
      if (error.retryAfterSeconds !== undefined) c.header('Retry-After', String(error.retryAfterSeconds));
      return c.html(<SignInPage nonce={nonce!} next={next} clientId={clientId} error={error.message} />, error.status as 400);
    }
  });

  // Everything below needs a session.
  app.use('*', async (c, next) => {
    const token = getCookie(c, sessionCookie);
    const admin = await sessionAdmin(deps, token);
    if (!admin || !token) {
      if (token) deleteCookie(c, sessionCookie, cookieOptions);
      if (c.req.method === 'GET' || c.req.method === 'HEAD') {
        const url = new URL(c.req.url);
        return c.redirect(`/console/sign-in?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
      }
      return c.html(<ErrorPage status={401} title="Signed out" detail="Your session has ended: sign in again." />, 401);
    }
    const csrf = csrfTokenOf(token);
    if (c.req.method === 'POST' && !sameToken(field(await formOf(c), CSRF_FIELD), csrf)) {
      return c.html(<ErrorPage status={403} title="Forbidden" detail="This form has no valid CSRF token: reload the page and try again." />, 403);
    }
    c.set('admin', admin);
    c.set('viewer', {
      clientId: admin.clientId,
      orgId: admin.orgId,
      platformWide: admin.platformWide,
      csrf,
      can: {
        read: admin.scopes.has(ADMIN_SCOPES.read),
        create: admin.scopes.has(ADMIN_SCOPES.create),
        update: admin.scopes.has(ADMIN_SCOPES.update),
        delete: admin.scopes.has(ADMIN_SCOPES.delete),
      },
    });
    await next();
  });

  app.post('/sign-out', (c) => {
    deleteCookie(c, sessionCookie, cookieOptions);
    return c.redirect('/console/sign-in?done=signed-out', 303);
  });

  accountPages(app, deps);
  auditPages(app, deps);
  keyPages(app, deps);

  // Any other path: signed in, a page of ours saying so; signed out, the sign-in page (above).
  app.all('*', (c) => notFound(c, 'There is no such page.'));

  app.onError((error, c) => {
    const viewer = c.get('viewer');
    if (error instanceof Forbidden) return c.html(<ErrorPage viewer={viewer} status={403} title="Forbidden" detail={error.message} />, 403);
    const problem = toProblem(error);
    if (problem && problem.status < 500) {
      const detail = problem.status === 404 ? 'There is no such service account, secret or page.' : (problem.detail ?? problem.title);
      return c.html(<ErrorPage viewer={viewer} status={problem.status} title={problem.title} detail={detail} />, problem.status as 400);
    }
    if (problem) {
      for (const [k, v] of Object.entries(problem.headers)) c.header(k, v);
      return c.html(<ErrorPage viewer={viewer} status={problem.status} title={problem.title} detail={problem.detail ?? ''} />, problem.status as 503);
    }
    deps.logger.error({ err: loggableError(error), path: c.req.path }, 'unhandled error');
    return c.html(<ErrorPage viewer={viewer} status={500} title="Internal error" detail="Something went wrong on our side; it has been logged." />, 500);
  });

  return app;
}

/** Only a console page may follow sign-in: never another site (an open redirect). */
function safeNext(next: string | undefined): string {
  return next && /^\/console(\/|$|\?)/.test(next) && !next.includes('\\') ? next : '/console/accounts';
}

/**
 * A POST must come from our own pages. Browsers send Origin with every form POST (and Sec-Fetch-Site): a
 * different host, or a cross-site fetch, is refused. Clients that send neither (not browsers) pass on to the
 * CSRF token check.
 */
function sameOrigin(c: Context): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  try {
    return origin !== 'null' && new URL(origin).host === c.req.header('host');
  } catch {
    return false;
  }
}

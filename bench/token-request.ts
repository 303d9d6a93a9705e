/**
 * The token request every server under test gets (client_credentials, a scope and an RFC 8707 resource, with
 * client_secret_basic), sent once with fetch; and the probe that checks a server's answer before its load.
 */
import type { Alg, Sample } from './report';

export const SCOPE = 'api:read';
export const RESOURCE = 'https://api.example.com';
/** The same body for every server: grant, scope, and an RFC 8707 resource (oidc-provider needs it for a JWT). */
export const TOKEN_BODY = new URLSearchParams({ grant_type: 'client_credentials', scope: SCOPE, resource: RESOURCE }).toString();
export const FORM = 'application/x-www-form-urlencoded';

/** RFC 6749 §2.3.1: form-urlencode id and secret, then base64. */
export function basicAuth(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

export async function postToken(url: string, authorization: string, body = TOKEN_BODY) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': FORM, authorization },
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

/** One request before the load: the expected status, and for a 200 a JWT of the expected alg and typ. */
export async function probe(url: string, authorization: string, expectStatus: number, alg: Alg): Promise<Sample | undefined> {
  const res = await postToken(url, authorization);
  if (res.status !== expectStatus) throw new Error(`probe: expected ${expectStatus}, got ${res.status} ${res.text.slice(0, 300)}`);
  if (expectStatus !== 200) return undefined;
  const token = res.json?.access_token;
  if (typeof token !== 'string' || token.split('.').length !== 3) throw new Error(`probe: no JWT in ${res.text.slice(0, 300)}`);
  const [h, p] = token.split('.') as [string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (header.alg !== alg) throw new Error(`probe: token alg ${String(header.alg)}, expected ${alg}`);
  if (header.typ !== 'at+jwt') throw new Error(`probe: token typ ${String(header.typ)}, expected at+jwt`);
  return { header, claims: Object.keys(claims).sort() };
}

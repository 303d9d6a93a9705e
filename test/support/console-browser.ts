// A browser's view of the web console over HTTP: a cookie jar and form posts, no redirects followed.

const FORM = 'application/x-www-form-urlencoded';

export interface Page {
  status: number;
  headers: Headers;
  html: string;
  location: string | null;
  cookies: string[];
}

/** A browser's view of the console: a cookie jar, no redirects followed. */
export class Browser {
  readonly jar = new Map<string, string>();
  readonly pages: string[] = [];
  constructor(private readonly base: string) {}

  async request(method: 'GET' | 'POST', path: string, form?: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(`${this.base}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(form ? { 'content-type': FORM } : {}), ...headers },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const cookies = res.headers.getSetCookie();
    for (const c of cookies) {
      const [pair, ...attributes] = c.split(';');
      const [name, value] = [pair!.slice(0, pair!.indexOf('=')), pair!.slice(pair!.indexOf('=') + 1)];
      if (attributes.some((a) => /^\s*max-age=0$/i.test(a))) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const html = await res.text();
    this.pages.push(html);
    return { status: res.status, headers: res.headers, html, location: res.headers.get('location'), cookies };
  }
  get = (path: string) => this.request('GET', path);
  post = (path: string, form: Record<string, string>, headers?: Record<string, string>) => this.request('POST', path, form, headers);

  /** The CSRF token of the forms on a page. */
  static csrfOf(page: Page): string {
    const match = /name="_csrf" value="([^"]+)"/.exec(page.html);
    if (!match) throw new Error(`no CSRF field on the page (${page.status}): ${page.html.slice(0, 300)}`);
    return match[1]!;
  }

  async signIn(clientId: string, secret: string): Promise<Page> {
    const form = await this.get('/console/sign-in');
    return this.post('/console/sign-in', { _csrf: Browser.csrfOf(form), client_id: clientId, client_secret: secret, next: '/console/accounts' });
  }
}

export const decode = (html: string) => html.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
export const newSecretOf = (page: Page) => decode(/<code id="new-secret">([^<]+)<\/code>/.exec(page.html)?.[1] ?? '');
export const clientIdOf = (page: Page) => decode(/<code id="new-client-id">([^<]+)<\/code>/.exec(page.html)?.[1] ?? '');


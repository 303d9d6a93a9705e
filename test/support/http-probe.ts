import { connect } from 'node:net';
import { expect } from 'vitest';

// Requests to the running service as a stranger sends them (fetch, a raw socket, a streamed body), each with a
// deadline, and the checks that an answer is well formed for its surface. For the hostile-input suites.

/**
 * A hang check, not a performance test: answers take milliseconds, but CPUs may be shared (with 2 s, one run of
 * ~2,000 requests failed once on 2 cores under a load average of 7, and never in 4,000+ runs since).
 */
export const ANSWER_WITHIN_MS = 5_000;
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

export type Surface = 'oauth' | 'admin';

export interface Operation {
  method: string;
  /** As documented, e.g. /admin/v1/service-accounts/{id}/secrets/{secretId}. */
  path: string;
  surface: Surface;
  hasBody: boolean;
  params: string[];
  /** The documented body's members (`array`: the member is a list), and media types. */
  fields: Array<{ name: string; array: boolean }>;
  mediaTypes: string[];
  /** The documented query parameters. */
  query: string[];
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** Answered by node's HTTP parser itself (e.g. 431 for a header over 16 KB), never reaching the app. */
  byNode?: boolean;
}

export interface Attempt {
  op: Operation;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array | string | undefined;
}

/** Every operation of the document under /oauth/ and /admin/, with its documented inputs. */
export function operationsOf(doc: any): Operation[] {
  const resolve = (schema: any): any =>
    schema?.$ref ? resolve(schema.$ref.slice(2).split('/').reduce((node: any, part: string) => node?.[part], doc)) : schema;
  const isArray = (schema: any): boolean =>
    schema?.type === 'array' || (Array.isArray(schema?.type) && schema.type.includes('array')) || [...(schema?.anyOf ?? []), ...(schema?.oneOf ?? [])].some(isArray);
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    const surface: Surface | undefined = path.startsWith('/admin/') ? 'admin' : path.startsWith('/oauth/') ? 'oauth' : undefined;
    if (!surface) continue;
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const params = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      const content: Record<string, any> = operation.requestBody?.content ?? {};
      const fields = new Map<string, boolean>();
      for (const media of Object.values(content)) {
        const schema = resolve(media.schema);
        for (const part of [schema, ...(schema?.allOf ?? []), ...(schema?.anyOf ?? []), ...(schema?.oneOf ?? [])].map(resolve)) {
          for (const [name, member] of Object.entries<any>(part?.properties ?? {})) fields.set(name, isArray(resolve(member)));
        }
      }
      ops.push({
        method: method.toUpperCase(),
        path,
        surface,
        hasBody: Boolean(operation.requestBody),
        params,
        fields: [...fields].map(([name, array]) => ({ name, array })),
        mediaTypes: Object.keys(content),
        query: (operation.parameters ?? []).map(resolve).filter((p: any) => p.in === 'query').map((p: any) => p.name as string),
      });
    }
  }
  return ops;
}

export const describeAttempt = (a: Attempt) => {
  const body = a.body === undefined ? '' : typeof a.body === 'string' ? a.body : Buffer.from(a.body).toString('latin1');
  const clip = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s);
  return `${a.method} ${clip(a.url)} headers=${clip(JSON.stringify(a.headers))} body=${clip(JSON.stringify(body))}`;
};

/** The answer, or a failure naming the request when none arrives in time. */
export async function send(attempt: Attempt): Promise<Answer> {
  try {
    const res = await fetch(attempt.url, {
      method: attempt.method,
      headers: attempt.headers,
      body: attempt.body as RequestInit['body'],
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    });
    return { status: res.status, headers: res.headers, text: await res.text(), byNode: !res.headers.has('x-content-type-options') };
  } catch (error) {
    throw new Error(`no answer within ${ANSWER_WITHIN_MS} ms (${String(error)}) to ${describeAttempt(attempt)}`);
  }
}

/** Raw bytes on a socket, for what fetch refuses to send: bytes beyond ASCII in the request line or a header. */
export async function sendRaw(url: string, request: Buffer): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const raw = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${ANSWER_WITHIN_MS} ms to ${JSON.stringify(request.subarray(0, 200).toString('latin1'))}`));
    }, ANSWER_WITHIN_MS);
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may answer and close before it has read all we send (a 431): what it said is what counts.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
    // Not end(): a half-closed connection makes node abort the request it is answering.
    socket.write(request);
  });
  const split = raw.indexOf('\r\n\r\n');
  expect(split, `an HTTP answer: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`).toBeGreaterThan(0);
  const [statusLine, ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = raw.subarray(split + 4);
  if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
    const parts: Buffer[] = [];
    for (let at = 0; ; ) {
      const eol = body.indexOf('\r\n', at);
      const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
      if (!size) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      at = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  const status = Number(statusLine!.split(' ')[1]);
  // Node's own refusals (400, 413, 431) carry no body and no Date from the app: only ours has X-Content-Type-Options.
  return { status, headers, text: body.toString('utf8'), byNode: !headers.has('x-content-type-options') };
}

/**
 * The answer is no 5xx; a 4xx is in the surface's error format; a 2xx only when `success` allows one
 * (a request that happens to be valid); node's own 4xx (no app headers) only when `nodeMayAnswer`, or a 431.
 */
export function expectWellFormed(
  surface: Surface,
  answer: Answer,
  context: string,
  options: { success?: boolean; nodeMayAnswer?: boolean } = {},
): void {
  const where = `${answer.status} ${answer.text.slice(0, 300)} for ${context}`;
  expect(answer.status, where).toBeLessThan(500);
  if (answer.byNode) {
    // Node's HTTP parser refuses a request line and headers over 16 KB (431) before the app sees them.
    if (answer.status !== 431) expect(options.nodeMayAnswer, `node answered ${where}`).toBe(true);
    expect(answer.status, where).toBeGreaterThanOrEqual(400);
    return;
  }
  if (answer.status < 400) {
    expect(options.success, `a success for ${context}`).toBe(true);
    expect(answer.status, where).toBeGreaterThanOrEqual(200);
    if (answer.status !== 204) expect(answer.headers.get('content-type') ?? '', where).toMatch(/^application\/json/);
    return;
  }
  let body: any;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new Error(`the body is not JSON: ${where}`);
  }
  if (surface === 'oauth') {
    expect(answer.headers.get('content-type') ?? '', where).toMatch(/^application\/json/);
    expect(answer.headers.get('cache-control') ?? '', where).toContain('no-store');
    expect(body, where).toEqual({ error: expect.any(String), ...(body.error_description !== undefined ? { error_description: expect.any(String) } : {}) });
    // RFC 6749 §5.2: error and error_description are limited to %x20-21 / %x23-5B / %x5D-7E.
    expect(body.error, where).toMatch(/^[\x21\x23-\x5B\x5D-\x7E]+$/);
    if (body.error_description !== undefined) expect(body.error_description, where).toMatch(/^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/);
  } else {
    expect(answer.headers.get('content-type') ?? '', where).toMatch(/^application\/problem\+json/);
    expect(body, where).toMatchObject({ type: expect.any(String), title: expect.any(String), status: answer.status });
    if (answer.status === 401) expect(answer.headers.get('www-authenticate'), where).toMatch(/^(Bearer|DPoP)\b/);
  }
}

/** A request whose body streams in chunks, so it carries no Content-Length. */
export async function sendStreamed(url: string, method: string, headers: Record<string, string>, chunks: Uint8Array[]): Promise<Answer> {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      controller.close();
    },
  });
  try {
    const res = await fetch(url, {
      method,
      headers,
      body: stream,
      duplex: 'half',
      signal: AbortSignal.timeout(ANSWER_WITHIN_MS),
    } as RequestInit & { duplex: 'half' });
    return { status: res.status, headers: res.headers, text: await res.text() };
  } catch (error) {
    throw new Error(`no answer within ${ANSWER_WITHIN_MS} ms to chunked ${method} ${url}: ${String(error)}`);
  }
}

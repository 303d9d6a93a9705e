import { createHash } from 'node:crypto';

interface Built {
  body: string;
  etag: string;
}

/**
 * A JSON document served often and changed rarely (JWKS, server metadata): serialised once per change, with
 * a strong ETag, answering `If-None-Match` with 304. `invalidate()` makes the next request rebuild it.
 */
export class CachedDocument {
  private built: Promise<Built> | undefined;
  private generation = 0;

  constructor(
    private readonly build: () => unknown,
    private readonly cacheControl: string,
  ) {}

  invalidate(): void {
    this.generation++;
    this.built = undefined;
  }

  async respond(ifNoneMatch: string | undefined): Promise<Response> {
    const { body, etag } = await this.current();
    const headers = { 'Cache-Control': this.cacheControl, ETag: etag };
    if (ifNoneMatch !== undefined && matches(ifNoneMatch, etag)) return new Response(null, { status: 304, headers });
    return new Response(body, { status: 200, headers: { ...headers, 'Content-Type': 'application/json' } });
  }

  private current(): Promise<Built> {
    if (this.built) return this.built;
    const generation = this.generation;
    const built = (async () => {
      const body = JSON.stringify(await this.build());
      return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    })();
    // A failed build is not kept; neither is one that an invalidation overtook while it ran.
    built.then(
      () => {
        if (generation !== this.generation && this.built === built) this.built = undefined;
      },
      () => {
        if (this.built === built) this.built = undefined;
      },
    );
    this.built = built;
    return built;
  }
}

/** RFC 9110 §13.1.2: `*`, or a list of entity tags compared weakly. */
function matches(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => strip(tag) === etag);
}

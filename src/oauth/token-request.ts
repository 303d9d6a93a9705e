import { InvalidRequest } from './errors';

/** Parameters that may legitimately repeat (RFC 8707 allows several `resource` values). */
const REPEATABLE = new Set(['resource']);

/**
 * A token request's parameters, from a form-urlencoded or JSON body. Every parameter appears at most once
 * (RFC 6749 §3.2) except the repeatable ones; empty values count as absent (§3.1).
 */
export class TokenParams {
  private constructor(private readonly values: Map<string, string[]>) {}

  static parse(contentType: string | undefined, body: string): TokenParams {
    const mediaType = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const values = new Map<string, string[]>();
    const add = (key: string, value: string) => {
      if (value === '') return;
      const list = values.get(key) ?? [];
      list.push(value);
      values.set(key, list);
    };
    if (mediaType === 'application/x-www-form-urlencoded') {
      for (const [key, value] of new URLSearchParams(body)) add(key, value);
    } else if (mediaType === 'application/json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new InvalidRequest('the request body is not valid JSON');
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw new InvalidRequest('the request body must be a JSON object');
      }
      for (const [key, value] of Object.entries(parsed)) {
        if (typeof value === 'string') add(key, value);
        // RFC 9396's parameter is JSON text in a form; in a JSON body it may be the array itself.
        else if (key === 'authorization_details' && Array.isArray(value)) add(key, JSON.stringify(value));
        else if (REPEATABLE.has(key) && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
          for (const v of value) add(key, v);
        } else if (value !== null) {
          throw new InvalidRequest(`parameter ${safeName(key)} must be a string`);
        }
      }
    } else {
      throw new InvalidRequest('send the request as application/x-www-form-urlencoded or application/json');
    }
    for (const [key, list] of values) {
      if (list.length > 1 && !REPEATABLE.has(key)) {
        throw new InvalidRequest(`parameter ${safeName(key)} is repeated`);
      }
    }
    return new TokenParams(values);
  }

  get(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }

  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  has(name: string): boolean {
    return this.values.has(name);
  }
}

/** Echo a parameter name only when it is short and plain; never echo values. */
const safeName = (name: string) => (/^[A-Za-z0-9_.-]{1,40}$/.test(name) ? name : '(unnamed)');

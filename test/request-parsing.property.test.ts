import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateSecret, secretIdOf } from '../src/accounts/secret-format';
import { presentedCredentials } from '../src/oauth/client-auth';
import { InvalidClient, InvalidRequest, OAuthError } from '../src/oauth/errors';
import { TokenParams } from '../src/oauth/token-request';
import { basicAuth } from './support/service';

/** Runs `fn`; returns what it threw (or undefined). */
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error;
  }
};

describe('secret format', () => {
  it('every generated secret names its own id and carries 256 random bits', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const s = generateSecret();
      expect(secretIdOf(s.plaintext)).toBe(s.id);
      expect(s.plaintext.startsWith(s.prefix)).toBe(true);
      const random = s.plaintext.split('_').slice(2).join('_');
      expect(Buffer.from(random, 'base64url')).toHaveLength(32);
      seen.add(random);
    }
    expect(seen.size).toBe(200);
  });

  it('never mistakes a stranger string for a secret id, and never throws', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (s) => {
        const id = secretIdOf(s);
        if (id !== undefined) expect(s.replaceAll('-', '')).toContain(id.replaceAll('-', ''));
      }),
    );
  });
});

describe('token request parameters', () => {
  it('any form body parses or fails with invalid_request, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (body) => {
        const error = thrown(() => TokenParams.parse('application/x-www-form-urlencoded', body));
        if (error !== undefined) expect(error).toBeInstanceOf(InvalidRequest);
      }),
    );
  });

  it('any JSON body parses or fails with invalid_request, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), fc.string()), (body) => {
        const error = thrown(() => TokenParams.parse('application/json; charset=utf-8', body));
        if (error !== undefined) expect(error).toBeInstanceOf(InvalidRequest);
      }),
    );
  });

  it('refuses a repeated parameter whatever its name, but allows repeated resource', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z_]{1,12}$/), fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (name, a, b) => {
        const body = new URLSearchParams([[name, a], [name, b]]).toString();
        const error = thrown(() => TokenParams.parse('application/x-www-form-urlencoded', body));
        if (name === 'resource') expect(error).toBeUndefined();
        else expect(error).toBeInstanceOf(InvalidRequest);
      }),
    );
  });
});

describe('client credentials in the Authorization header', () => {
  const noParams = TokenParams.parse('application/x-www-form-urlencoded', 'grant_type=client_credentials');

  it('round-trips any id and secret through RFC 6749 §2.3.1 encoding', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme' }),
        fc.string({ minLength: 1, maxLength: 120, unit: 'grapheme' }),
        (id, secret) => {
          const got = presentedCredentials(basicAuth(id, secret), noParams);
          expect(got).toEqual({ clientId: id, secret, method: 'client_secret_basic' });
        },
      ),
    );
  });

  it('any header value yields credentials or an OAuth error, never a crash', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.string().map((s) => `Basic ${s}`)), (header) => {
        const error = thrown(() => presentedCredentials(header, noParams));
        if (error !== undefined) expect(error).toBeInstanceOf(OAuthError);
      }),
    );
  });

  it('a megabyte-long header is refused as invalid_client without decoding it', () => {
    const error = thrown(() => presentedCredentials(`Basic ${'A'.repeat(1_000_000)}`, noParams));
    expect(error).toBeInstanceOf(InvalidClient);
  });
});

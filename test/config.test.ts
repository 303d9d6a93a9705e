import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';

describe('configuration', () => {
  it('has working defaults for a fresh clone', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 8080,
      issuer: 'http://localhost:8080',
      databaseUrl: undefined,
      dataDir: './data',
      keysDir: './keys',
      signingAlg: 'RS256',
      tokenTtlSeconds: 900,
      secretTtlDays: 730,
      defaultAudience: 'http://localhost:8080',
    });
    expect(c.argon2).toMatchObject({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });

  it('derives the issuer from PORT, drops a trailing slash from ISSUER, and treats empty values as unset', () => {
    expect(loadConfig({ PORT: '9000' }).issuer).toBe('http://localhost:9000');
    expect(loadConfig({ ISSUER: 'https://auth.example.com/' }).issuer).toBe('https://auth.example.com');
    expect(loadConfig({ DATABASE_URL: '' }).databaseUrl).toBeUndefined();
  });

  it('refuses bad values, naming each variable and never echoing a secret', () => {
    const secret = 'short-secret-value';
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        SIGNING_ALG: 'HS256',
        ARGON2_MEMORY_KIB: '1024',
        BOOTSTRAP_ADMIN_CLIENT_ID: 'admin',
        BOOTSTRAP_ADMIN_CLIENT_SECRET: secret,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const name of ['PORT', 'SIGNING_ALG', 'ARGON2_MEMORY_KIB', 'BOOTSTRAP_ADMIN_CLIENT_SECRET']) {
      expect(message).toContain(name);
    }
    expect(message).not.toContain(secret);
  });

  it('requires both bootstrap variables together', () => {
    expect(() => loadConfig({ BOOTSTRAP_ADMIN_CLIENT_ID: 'admin' })).toThrow(/together/);
  });
});

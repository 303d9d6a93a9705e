import { z } from 'zod';
import { parseIpRange } from './limits/ip-ranges';
import { parseEnvSigningKey, type EnvSigningKey } from './tokens/env-signing-key';
import { CLOCK_MARGIN_SECONDS } from './tokens/key-schedule';
import { SIGNING_ALGS, type SigningAlg } from './tokens/signing-algs';

export { SIGNING_ALGS, type SigningAlg };

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const int = (def: number, min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).default(def));

const schema = z
  .object({
    PORT: int(8080, 0, 65535),
    HOST: z.preprocess(emptyToUndefined, z.string().default('0.0.0.0')),
    ISSUER: z.preprocess(emptyToUndefined, z.url().optional()),
    DATABASE_URL: optionalString,
    DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),
    KEYS_DIR: z.preprocess(emptyToUndefined, z.string().default('./keys')),
    SIGNING_ALG: z.preprocess(emptyToUndefined, z.enum(SIGNING_ALGS).optional()),
    // A private key (JWK or PEM): never echoed in an error, only named.
    SIGNING_KEY: optionalString,
    SIGNING_KEY_ID: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9._~:-]{1,200}$/, 'use 1-200 of A-Z a-z 0-9 . _ ~ : -')
        .optional(),
    ),
    KEY_PROPAGATION_SECONDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(604_800).optional()),
    TOKEN_TTL_SECONDS: int(900, 1, 86_400),
    MAX_TOKEN_TTL_SECONDS: int(3600, 1, 86_400),
    DEFAULT_AUDIENCE: optionalString,
    ADMIN_AUDIENCE: optionalString,
    SECRET_TTL_DAYS: int(730, 1, 36_500),
    MAX_ACTIVE_SECRETS: int(10, 1, 100),
    JWKS_MAX_AGE_SECONDS: int(300, 0, 86_400),
    BODY_LIMIT_BYTES: int(16_384, 1024, 1_048_576),
    ARGON2_MEMORY_KIB: int(19_456, 19_456, 1_048_576),
    ARGON2_TIME_COST: int(2, 2, 20),
    ARGON2_PARALLELISM: int(1, 1, 16),
    ARGON2_MAX_CONCURRENCY: int(2, 1, 64),
    BOOTSTRAP_ADMIN_CLIENT_ID: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^[A-Za-z0-9._~-]{1,200}$/, 'use 1-200 of A-Z a-z 0-9 . _ ~ -')
        .optional(),
    ),
    BOOTSTRAP_ADMIN_CLIENT_SECRET: z.preprocess(
      emptyToUndefined,
      z.string().min(32, 'must be at least 32 characters').max(512).optional(),
    ),
    RATE_LIMIT_PER_MINUTE: int(600, 1, 1_000_000),
    RATE_LIMIT_STORE: z.preprocess(emptyToUndefined, z.enum(['auto', 'memory', 'database']).default('auto')),
    BRUTE_FORCE_MAX_FAILURES: int(10, 1, 10_000),
    BRUTE_FORCE_MAX_FAILURES_PER_IP: int(100, 1, 1_000_000),
    BRUTE_FORCE_WINDOW_SECONDS: int(900, 1, 86_400),
    BRUTE_FORCE_BLOCK_SECONDS: int(900, 1, 86_400),
    TRUST_PROXY: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .optional()
        .transform((value, ctx) => {
          const entries = (value ?? '').split(',').map((e) => e.trim()).filter(Boolean);
          const parsed: string[] = [];
          for (const entry of entries) {
            const range = parseIpRange(entry);
            if (range) parsed.push(range.text);
            else ctx.addIssue({ code: 'custom', message: `"${entry.slice(0, 60)}" is not an IP address or CIDR range` });
          }
          return parsed;
        }),
    ),
    EXPIRING_SOON_DAYS: int(30, 1, 3650),
    AUDIT_RETENTION_DAYS: int(90, 1, 36_500),
    FLUSH_INTERVAL_MS: int(1000, 10, 60_000),
    CREDENTIAL_CACHE_TTL_SECONDS: int(60, 0, 3600),
    CREDENTIAL_CACHE_MAX_ENTRIES: int(50_000, 1, 10_000_000),
    WORKERS: int(1, 1, 64),
    DATABASE_POOL_SIZE: int(10, 1, 200),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    // A bearer token: never echoed in an error, only named.
    METRICS_TOKEN: z.preprocess(
      emptyToUndefined,
      z.string().min(16, 'must be at least 16 characters').max(512).regex(/^\S+$/, 'must not contain spaces').optional(),
    ),
    SHUTDOWN_TIMEOUT_SECONDS: int(10, 1, 3600),
  })
  .superRefine((env, ctx) => {
    if (Boolean(env.BOOTSTRAP_ADMIN_CLIENT_ID) !== Boolean(env.BOOTSTRAP_ADMIN_CLIENT_SECRET)) {
      ctx.addIssue({
        code: 'custom',
        path: ['BOOTSTRAP_ADMIN_CLIENT_SECRET'],
        message: 'set BOOTSTRAP_ADMIN_CLIENT_ID and BOOTSTRAP_ADMIN_CLIENT_SECRET together',
      });
    }
    if (env.WORKERS > 1 && !env.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKERS'],
        message: 'more than one worker needs DATABASE_URL: an embedded PGlite database belongs to one process',
      });
    }
    if (env.SIGNING_KEY_ID && !env.SIGNING_KEY) {
      ctx.addIssue({ code: 'custom', path: ['SIGNING_KEY_ID'], message: 'only means something with SIGNING_KEY' });
    }
    if (env.SIGNING_KEY) {
      const key = parseEnvSigningKey(env.SIGNING_KEY, env.SIGNING_KEY_ID);
      if ('error' in key) ctx.addIssue({ code: 'custom', path: ['SIGNING_KEY'], message: key.error });
      else if (env.SIGNING_ALG && env.SIGNING_ALG !== key.alg) {
        ctx.addIssue({
          code: 'custom',
          path: ['SIGNING_ALG'],
          message: `is ${env.SIGNING_ALG}, but SIGNING_KEY holds a ${key.alg} key; unset it or make them agree`,
        });
      }
    }
    if (env.TOKEN_TTL_SECONDS > env.MAX_TOKEN_TTL_SECONDS) {
      ctx.addIssue({
        code: 'custom',
        path: ['TOKEN_TTL_SECONDS'],
        message: 'must not exceed MAX_TOKEN_TTL_SECONDS',
      });
    }
  });

export interface Config {
  port: number;
  host: string;
  /** The `iss` of every token and the base of every advertised URL; no trailing slash. */
  issuer: string;
  databaseUrl: string | undefined;
  dataDir: string;
  keysDir: string;
  /**
   * The algorithm of a key generated at start (none of it in KEYS_DIR yet) and of `keys rotate`; the
   * instance signs with the active key of this algorithm, or else with the newest active key. With
   * SIGNING_KEY, that key's algorithm.
   */
  signingAlg: SigningAlg;
  /** SIGNING_KEY (with SIGNING_KEY_ID): when set, the key every token is signed with. */
  signingKey: EnvSigningKey | undefined;
  /** How long a rotated key is published before it signs: by then every cached JWKS holds it. */
  keyPropagationSeconds: number;
  tokenTtlSeconds: number;
  maxTokenTtlSeconds: number;
  /** `aud` of a token whose account names no audience and whose request asks for none. */
  defaultAudience: string;
  /**
   * The audience a token must carry to be accepted by the admin API. Independent of ISSUER by default, so
   * admin accounts keep working when the public URL changes; iss and our signature still bind it to us.
   */
  adminAudience: string;
  secretTtlDays: number;
  maxActiveSecrets: number;
  jwksMaxAgeSeconds: number;
  bodyLimitBytes: number;
  argon2: { memoryCost: number; timeCost: number; parallelism: number; maxConcurrency: number };
  bootstrapAdmin: { clientId: string; clientSecret: string } | undefined;
  /** Default token requests per minute of an account that sets none. */
  rateLimitPerMinute: number;
  /** Where rate-limit and brute-force counters live: memory on PGlite (exact: one process), the database otherwise. */
  rateLimitStore: 'memory' | 'database';
  bruteForce: { maxFailures: number; maxFailuresPerIp: number; windowSeconds: number; blockSeconds: number };
  /** Proxies (canonical addresses and CIDR ranges) whose X-Forwarded-For is believed. Empty: none. */
  trustProxy: string[];
  expiringSoonDays: number;
  auditRetentionDays: number;
  /** How often buffered audit events and last-used times are written. */
  flushIntervalMs: number;
  /** Verified credentials kept per process; changes reach every process by NOTIFY, the TTL is a safety net. */
  credentialCache: { ttlMs: number; maxEntries: number };
  /** Processes sharing the port (node:cluster); more than one needs DATABASE_URL. */
  workers: number;
  /** PostgreSQL connections per process (postgres.js pool); PGlite has one, in process. */
  databasePoolSize: number;
  logLevel: string;
  /** When set, GET /metrics needs `Authorization: Bearer <it>`; unset, /metrics is open. */
  metricsToken: string | undefined;
  /** After SIGTERM/SIGINT, how long in-flight requests may take before their connections are cut. */
  shutdownTimeoutSeconds: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once. Throws ConfigError naming every bad variable (never echoing values). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const e = parsed.data;
  const parsedKey = e.SIGNING_KEY ? parseEnvSigningKey(e.SIGNING_KEY, e.SIGNING_KEY_ID) : undefined;
  const signingKey = parsedKey && !('error' in parsedKey) ? parsedKey : undefined;
  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  return {
    port: e.PORT,
    host: e.HOST,
    issuer,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.DATA_DIR,
    keysDir: e.KEYS_DIR,
    signingAlg: signingKey?.alg ?? e.SIGNING_ALG ?? 'RS256',
    signingKey,
    keyPropagationSeconds: e.KEY_PROPAGATION_SECONDS ?? e.JWKS_MAX_AGE_SECONDS + CLOCK_MARGIN_SECONDS,
    tokenTtlSeconds: e.TOKEN_TTL_SECONDS,
    maxTokenTtlSeconds: e.MAX_TOKEN_TTL_SECONDS,
    defaultAudience: e.DEFAULT_AUDIENCE ?? issuer,
    adminAudience: e.ADMIN_AUDIENCE ?? 'urn:token-service:admin',
    secretTtlDays: e.SECRET_TTL_DAYS,
    maxActiveSecrets: e.MAX_ACTIVE_SECRETS,
    jwksMaxAgeSeconds: e.JWKS_MAX_AGE_SECONDS,
    bodyLimitBytes: e.BODY_LIMIT_BYTES,
    argon2: {
      memoryCost: e.ARGON2_MEMORY_KIB,
      timeCost: e.ARGON2_TIME_COST,
      parallelism: e.ARGON2_PARALLELISM,
      maxConcurrency: e.ARGON2_MAX_CONCURRENCY,
    },
    bootstrapAdmin:
      e.BOOTSTRAP_ADMIN_CLIENT_ID && e.BOOTSTRAP_ADMIN_CLIENT_SECRET
        ? { clientId: e.BOOTSTRAP_ADMIN_CLIENT_ID, clientSecret: e.BOOTSTRAP_ADMIN_CLIENT_SECRET }
        : undefined,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    rateLimitStore:
      e.RATE_LIMIT_STORE === 'auto' ? (e.DATABASE_URL ? 'database' : 'memory') : e.RATE_LIMIT_STORE,
    bruteForce: {
      maxFailures: e.BRUTE_FORCE_MAX_FAILURES,
      maxFailuresPerIp: e.BRUTE_FORCE_MAX_FAILURES_PER_IP,
      windowSeconds: e.BRUTE_FORCE_WINDOW_SECONDS,
      blockSeconds: e.BRUTE_FORCE_BLOCK_SECONDS,
    },
    trustProxy: e.TRUST_PROXY,
    expiringSoonDays: e.EXPIRING_SOON_DAYS,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    flushIntervalMs: e.FLUSH_INTERVAL_MS,
    credentialCache: { ttlMs: e.CREDENTIAL_CACHE_TTL_SECONDS * 1000, maxEntries: e.CREDENTIAL_CACHE_MAX_ENTRIES },
    workers: e.WORKERS,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    logLevel: e.LOG_LEVEL,
    metricsToken: e.METRICS_TOKEN,
    shutdownTimeoutSeconds: e.SHUTDOWN_TIMEOUT_SECONDS,
  };
}

/**
 * The settings of `npm run bench`, read once from the environment when the bench starts (each variable is
 * documented in the header of bench/token-endpoint.ts), and where it writes its results.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Alg } from './report';

function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** Interleaved rounds of the warm path and its baselines; each scenario's headline numbers are medians over them. */
export const ROUNDS = intEnv('BENCH_ROUNDS', 3, 1, 50);
export const DURATION = intEnv('BENCH_DURATION_SECONDS', 10, 1, 600);
export const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 32, 1, 1000);
export const WARMUP = intEnv('BENCH_WARMUP_SECONDS', 2, 0, 60);
export const COLD_MAX_ACCOUNTS = intEnv('BENCH_COLD_MAX_ACCOUNTS', 3000, 10, 100_000);
/** Seeded (SQL, not the admin API) into every database the token endpoint is measured on. */
export const ACCOUNTS = intEnv('BENCH_ACCOUNTS', 10_000, 0, 1_000_000);
/** Seeded into the database the admin list pages are measured on; 0 skips that part. */
export const SCALE_ACCOUNTS = intEnv('BENCH_SCALE_ACCOUNTS', 100_000, 0, 1_000_000);
export const ADMIN_REQUESTS = intEnv('BENCH_ADMIN_REQUESTS', 30, 1, 1000);
export const DATABASE_SERVER_URL = process.env.BENCH_DATABASE_URL?.trim() || undefined;
/** Where the results are written as Markdown (between two markers): BENCHMARKS.md, another path, or 0 for nowhere. */
const MARKDOWN_SETTING = process.env.BENCH_MARKDOWN?.trim() || 'BENCHMARKS.md';

export const ALGS = ['RS256', 'ES256'] as const satisfies readonly Alg[];

/** The repository: where the children run, the build happens and the results go. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS_FILE = join(ROOT, 'bench', 'results', 'latest.json');
export const MARKDOWN_FILE = MARKDOWN_SETTING === '0' ? undefined : resolve(ROOT, MARKDOWN_SETTING);

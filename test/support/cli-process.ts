import { execFile, execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * The CLI (src/cli/main.ts) bundled once with esbuild, as `npm run build` bundles it (node platform, ESM,
 * packages left external, node20), and run as `node <bundle>`. Starting tsx transpiles the TypeScript again in
 * every process, about a second per CLI run; the bundle starts in a fraction of that. Code splitting keeps
 * main.ts's lazy imports lazy, as they are under tsx, so `--help` or a usage error does not load the database
 * drivers. V8 runs it with --liftoff-only where it can (see liftoffOnly).
 *
 * The bundle goes to a fresh folder under node_modules/.cache (git-ignored, and inside the project so that its
 * bare imports resolve from node_modules and the drizzle/ migrations folder is found above it); `dispose`
 * removes it.
 */
export interface CliBundle {
  /** The command line that runs the CLI, before its arguments: [node, bundle]. */
  command: [string, ...string[]];
  dispose(): Promise<void>;
}

export async function buildCli(): Promise<CliBundle> {
  const cache = join(ROOT, 'node_modules', '.cache');
  await mkdir(cache, { recursive: true });
  const outdir = await mkdtemp(join(cache, 'cli-test-'));
  try {
    await build({
      entryPoints: [join(ROOT, 'src', 'cli', 'main.ts')],
      bundle: true,
      splitting: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      target: 'node20',
      outdir,
      logLevel: 'warning',
    });
  } catch (error) {
    await rm(outdir, { recursive: true, force: true });
    throw error;
  }
  return {
    command: [process.execPath, ...(liftoffOnly() ? ['--liftoff-only'] : []), join(outdir, 'main.js')],
    dispose: () => rm(outdir, { recursive: true, force: true }),
  };
}

/**
 * Whether this node takes V8's --liftoff-only: WebAssembly is then run by V8's baseline compiler only, never
 * recompiled by TurboFan. A CLI process on PGlite lives a second or two, most of it starting PostgreSQL's
 * WebAssembly, and without this spends about as much CPU again optimising code it will hardly run: on a
 * 2-CPU runner, half the time of a PGlite CLI run. Nothing the CLI does changes, only how fast V8 runs it;
 * a node whose V8 lacks the flag runs without it.
 */
function liftoffOnly(): boolean {
  try {
    execFileSync(process.execPath, ['--liftoff-only', '-e', ''], { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment of a CLI process: only PATH and HOME of ours, and then `env`. */
const childEnv = (env: Record<string, string>) => ({ PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env });

/**
 * Runs `command` with `args` to its end (killed after `timeout` ms): its exit status (-1 when it had none, e.g.
 * killed) and both streams.
 */
export function runProcess(
  command: readonly string[],
  args: string[],
  env: Record<string, string>,
  options: { cwd?: string; timeout?: number } = {},
): Promise<CliResult> {
  const [file, ...pre] = command as [string, ...string[]];
  return new Promise((resolve) => {
    execFile(
      file,
      [...pre, ...args],
      { env: childEnv(env), timeout: options.timeout ?? 90_000, ...(options.cwd ? { cwd: options.cwd } : {}) },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Starts `command` with `args` and leaves it running (e.g. `audit tail --follow`). */
export function spawnProcess(command: readonly string[], args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  const [file, ...pre] = command as [string, ...string[]];
  return spawn(file, [...pre, ...args], { env: childEnv(env) });
}

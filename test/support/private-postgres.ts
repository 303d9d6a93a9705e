import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './service';

const run = promisify(execFile);

const hasServer = (bin: string) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'));

/**
 * Debian's PostgreSQL server binaries, as .ci/run finds them (and installs them when they are missing): 15,
 * else the newest major version there is.
 */
export const PG_BIN =
  ['/usr/lib/postgresql/15/bin', ...majorVersionBins()].find(hasServer) ?? '/usr/lib/postgresql/15/bin';

function majorVersionBins(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

/** Whether a private server can be started here (CI: always). */
export const privatePostgresAvailable = hasServer(PG_BIN);

/** Why fault tests are skipped when it cannot. */
export const PRIVATE_POSTGRES_MISSING = 'no PostgreSQL server binaries in /usr/lib/postgresql/<version>/bin (CI installs them: .ci/run)';

const asRoot = process.getuid?.() === 0;

/**
 * A throw-away PostgreSQL server (15 where available) of the test's own, which it may stop, start again and
 * freeze: initdb into a temp folder, loopback only on a free port, its unix socket in that folder (as .ci/run
 * does). As root the server runs as the `postgres` OS user (initdb and postgres refuse root).
 */
export class PrivatePostgres {
  private running = false;
  private frozen: number[] = [];

  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  static async start(): Promise<PrivatePostgres> {
    // Short and under /tmp: the postgres user must reach it, and it holds the socket (107-byte limit).
    const dir = mkdtempSync('/tmp/faults-pg-');
    if (asRoot) {
      const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
      chownSync(dir, Number(uid.stdout.trim()), Number(gid.stdout.trim()));
    }
    const server = new PrivatePostgres(dir, await freePort());
    try {
      await server.pg('initdb', ['-D', server.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
      await appendFile(
        join(server.dataDir, 'postgresql.conf'),
        [
          '',
          '# --- test/support/private-postgres.ts ---',
          "listen_addresses = '127.0.0.1'",
          `port = ${server.port}`,
          `unix_socket_directories = '${dir}'`,
          'max_connections = 100',
          // Speed, with no loss on a server crash (`stop('immediate')`): fsync only guards against the
          // host's crash. synchronous_commit stays on: off, a crash loses the last commits, which the tests
          // must find after the restart.
          'fsync = off',
          'full_page_writes = off',
          '',
        ].join('\n'),
      );
      await server.startAgain();
    } catch (error) {
      await server.remove();
      throw error;
    }
    return server;
  }

  /** Starts the server (again, on the same port and data) and waits until it accepts connections. */
  async startAgain(): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-l', join(this.dir, 'postgres.log'), '-w', '-t', '60', 'start']);
    this.running = true;
  }

  /** Stops the server: `immediate` is a crash (no checkpoint), `fast` a clean shutdown; both cut every client. */
  async stop(mode: 'immediate' | 'fast' = 'immediate'): Promise<void> {
    await this.pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
    this.running = false;
  }

  /**
   * SIGSTOPs the postmaster and every backend: connections stay open but nothing answers, as with a frozen
   * host or a network partition. `thaw` resumes them.
   */
  freeze(): void {
    const postmaster = Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const children = execFileSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
    this.frozen = [postmaster, ...children];
    for (const pid of this.frozen) process.kill(pid, 'SIGSTOP');
  }

  thaw(): void {
    for (const pid of this.frozen.splice(0)) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // gone already
      }
    }
  }

  /** Stops the server if it runs and deletes its folder. */
  async remove(): Promise<void> {
    this.thaw();
    if (this.running || existsSync(join(this.dataDir, 'postmaster.pid'))) {
      await this.stop('immediate').catch(() => {});
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async pg(binary: 'initdb' | 'pg_ctl', args: string[]): Promise<void> {
    const file = join(PG_BIN, binary);
    const [command, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
    try {
      await run(command, argv, { timeout: 90_000 });
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`${binary} ${args.at(-1)} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
  }
}

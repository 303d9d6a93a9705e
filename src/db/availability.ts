/**
 * The database cannot be reached right now (refused, reset, timed out, shutting down, starting up): a
 * condition that passes. The HTTP layer answers it with 503 and `Retry-After`, never a 500.
 */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable';
  constructor(message = 'the database is unreachable', options?: ErrorOptions) {
    super(message, options);
  }
}

/** Node's socket errors and postgres.js's own connection errors. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * SQLSTATEs of a server that is going away or not there yet: admin_shutdown, crash_shutdown,
 * cannot_connect_now (starting up, shutting down, in recovery), too_many_connections; and class 08,
 * connection exceptions.
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** Whether `error` (or one of its causes: drizzle wraps the driver's) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current instanceof DatabaseUnavailable) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (CONNECTION_ERRORS.has(code) || UNAVAILABLE_STATES.has(code)) return true;
      if (/^08[0-9A-Z]{3}$/.test(code)) return true;
    }
    current = current.cause;
  }
  return false;
}

/**
 * Seconds a pool connection waits before it reconnects, after `retries` failed connections. postgres.js's
 * default (3^retries / 100, up to 20 s) holds every query queued behind a closed connection that long: during
 * an outage the buffers' retries wait up to 20 s each, and once the server is back the pool would take as
 * long to notice. At most a second instead; a refused connection costs the server nothing.
 */
export function reconnectBackoff(retries: number): number {
  return (0.5 + Math.random() / 2) * Math.min(0.1 * 2 ** retries, 1);
}

export interface CircuitOptions {
  /** A read that takes longer counts as the database being unreachable. */
  timeoutMs: number;
  /** After a failure, reads fail at once for this long, without asking the database. */
  holdMs: number;
}

const DEFAULT_CIRCUIT: CircuitOptions = { timeoutMs: 2000, holdMs: 1000 };

/**
 * Bounds the reads of the token hot path. A stopped server refuses connections at once, but an unreachable
 * one (a partition, a frozen host) would make postgres.js wait `connect_timeout` (10 s) for a new
 * connection, or for ever on an established one gone silent, while requests pile up. Each read here gets
 * `timeoutMs`; once one fails for want of the database, the next ones fail at once for `holdMs`, so a
 * burst of requests meets one timeout, not one each. Failures become `DatabaseUnavailable`; any other
 * error passes through untouched. (A read that loses the race still runs to its end in the driver.)
 */
export class DatabaseCircuit {
  private downUntil = 0;

  constructor(private readonly options: CircuitOptions = DEFAULT_CIRCUIT) {}

  /** Whether a read failed for want of the database less than `holdMs` ago. */
  get recentlyDown(): boolean {
    return performance.now() < this.downUntil;
  }

  async read<T>(work: () => Promise<T>): Promise<T> {
    if (this.recentlyDown) throw new DatabaseUnavailable('the database was unreachable a moment ago');
    let timer: NodeJS.Timeout | undefined;
    const running = work();
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DatabaseUnavailable(`the database did not answer within ${this.options.timeoutMs} ms`)),
        this.options.timeoutMs,
      );
    });
    running.catch(() => {}); // if it loses the race, its late failure must not become an unhandled rejection
    try {
      return await Promise.race([running, timedOut]);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      this.downUntil = performance.now() + this.options.holdMs;
      throw error instanceof DatabaseUnavailable ? error : new DatabaseUnavailable(undefined, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}

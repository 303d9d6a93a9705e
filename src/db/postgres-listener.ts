import postgres from 'postgres';
import { reconnectBackoff } from './availability';

export interface ListenCallbacks {
  onMessage(payload: string): void;
  /** The LISTEN is in place (at start and after every reconnect): notifications sent meanwhile were lost. */
  onListen(): void;
  /** The listening connection dropped: until the next onListen, notifications are not received. */
  onLost(): void;
}

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5000;

/**
 * LISTEN on a dedicated PostgreSQL connection that is re-established, with backoff, whenever it drops, for
 * as long as it takes. (postgres.js's own `listen` re-listens once after a drop and gives up silently if
 * that fails, and does not say when the connection was down.) Resolves once the first LISTEN is in place,
 * with a function that stops listening.
 */
export async function listenPostgres(url: string, channel: string, callbacks: ListenCallbacks): Promise<() => Promise<void>> {
  let stopped = false;
  let up = false;
  let attempting = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = RETRY_MIN_MS;

  // `onnotify` is postgres.js's per-connection notification hook (what its own `listen` uses); it is missing
  // from the package's types, hence the separate object.
  const options = {
    max: 1,
    idle_timeout: 0,
    max_lifetime: 0,
    fetch_types: false,
    connect_timeout: 5,
    // Our own retry below paces the attempts; postgres.js's default would add up to 20 s to each.
    backoff: reconnectBackoff,
    onnotice: () => {},
    connection: { application_name: 'token-service-listen' },
    onnotify(name: string, payload: string) {
      if (name === channel) callbacks.onMessage(payload);
    },
    onclose() {
      if (up) {
        up = false;
        callbacks.onLost();
      }
      schedule();
    },
  };
  const connection = postgres(url, options);

  const attempt = async (): Promise<void> => {
    timer = undefined;
    if (stopped || up || attempting) return;
    attempting = true;
    try {
      await connection.unsafe(`listen "${channel.replace(/"/g, '""')}"`);
      if (stopped) return;
      up = true;
      delay = RETRY_MIN_MS;
      callbacks.onListen();
    } catch {
      schedule();
    } finally {
      attempting = false;
    }
  };

  function schedule(): void {
    if (stopped || up || timer) return;
    timer = setTimeout(() => void attempt(), delay);
    timer.unref();
    delay = Math.min(delay * 2, RETRY_MAX_MS);
  }

  await attempt();
  if (!up) {
    stopped = true;
    clearTimeout(timer);
    await connection.end({ timeout: 1 });
    throw new Error(`could not LISTEN on ${channel}`);
  }
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await connection.end({ timeout: 2 });
  };
}

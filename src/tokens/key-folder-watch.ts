import { watch, type FSWatcher } from 'node:fs';

export interface KeyFolderWatch {
  close(): void;
}

export interface KeyFolderWatchOptions {
  /** Changes closer together than this make one reload (a write is a temp file, a link and an unlink). */
  debounceMs?: number;
  /** A reload this often whatever happens: some volumes (NFS, some container mounts) send no events. */
  pollMs?: number;
  /** Told when the folder cannot be watched (polling goes on). */
  onError?: (error: Error) => void;
}

/**
 * Calls `changed` shortly after anything changes in the keys folder, and every `pollMs` as a safety net.
 * Never keeps the process alive.
 */
export function watchKeyFolder(dir: string, changed: () => void, options: KeyFolderWatchOptions = {}): KeyFolderWatch {
  const debounceMs = options.debounceMs ?? 100;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let closed = false;

  const schedule = () => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed) changed();
    }, debounceMs);
    timer.unref();
  };
  const startWatching = () => {
    if (watcher || closed) return;
    try {
      watcher = watch(dir, { persistent: false }, schedule);
      watcher.on('error', (error) => {
        watcher?.close();
        watcher = undefined;
        options.onError?.(error);
      });
    } catch (error) {
      // ENOENT (no folder yet, e.g. with SIGNING_KEY) or ENOSPC (inotify limit): the poll carries on.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') options.onError?.(error as Error);
    }
  };

  startWatching();
  const poll = setInterval(() => {
    startWatching(); // the folder may have appeared, or a broken watch may work again
    changed();
  }, options.pollMs ?? 60_000);
  poll.unref();

  return {
    close() {
      closed = true;
      clearInterval(poll);
      if (timer) clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}

/** Waiting in the bench: a plain pause, and a promise bounded in time. */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `work`, or `onTimeout()` after `ms`; the timer is cleared either way so it never holds the process open. */
export async function within<T>(work: Promise<T>, ms: number, onTimeout: () => T | Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((r) => (timer = setTimeout(() => r('expired'), ms)));
  try {
    const first = await Promise.race([work, expired]);
    return first === 'expired' ? await onTimeout() : (first as T);
  } finally {
    clearTimeout(timer);
  }
}

// Time helpers plugins share.

/**
 * Waits ms milliseconds or until signal aborts, whichever comes first; never rejects. Resolves at
 * once when signal is already aborted. A negative ms waits as setTimeout does (about 1 ms).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

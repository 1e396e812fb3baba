// Retry classification and backoff for HTTP vendors' own request loops (a provider retries inside
// one Bucket call; lib/objstore/retry.ts's RetryBucket retries whole calls on top).

/** HTTP statuses an object store answers when trying again may succeed. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([500, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** A host capability refused the request (net grant): never retried. */
export function isPermissionDenied(err: unknown): boolean {
  return err instanceof Error && err.name === 'PermissionDenied';
}

/** Exponential backoff: 100 ms, 200 ms, 400 ms ... up to capMs (default: no cap). */
export function backoffMs(attempt: number, capMs = Infinity): number {
  return Math.min(100 * 2 ** attempt, capMs);
}

/** The signal for lib/sdk's sleep(ms, signal) between retries inside a Bucket call (which has no abort signal): never aborts. */
export const NO_ABORT: AbortSignal = new AbortController().signal;

// Errors every HTTP object-store vendor shares, and the one classifier of "no object storage".

/** A request that got no HTTP answer (connection refused/reset, DNS, header timeout): transient. */
export class NetworkError extends Error {
  readonly retryable = true;
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'NetworkError';
  }
}

/** fetch() failures say only "fetch failed"; the cause has the useful part (ECONNREFUSED ...). */
export function describeNetErr(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const msg = e?.message ?? String(err);
  const c = e?.cause;
  if (c && (c.code || c.message)) return `${msg} (${[c.code, c.message].filter(Boolean).join(': ')})`;
  return msg;
}


/** The message the host uses when a component asks for its bucket and none is configured. */
export const NO_OBJECT_STORAGE = 'no object storage configured';

/**
 * A component asked for its bucket (ctx.bucket()) and the deployment configures no object storage.
 * Components for which a bucket is optional (sidecar, receive) test for it with isNoObjectStorage.
 */
export class NoObjectStorageError extends Error {
  readonly code = 'NoObjectStorage';
  constructor(who: string, hint: string) {
    super(`${who}: ${NO_OBJECT_STORAGE} (${hint})`);
    this.name = 'NoObjectStorageError';
  }
}

/**
 * True for "no object storage configured": a NoObjectStorageError (also one from another copy of
 * this module, by its code). Every thrower (the host's ctx.bucket()) throws the typed error.
 */
export function isNoObjectStorage(err: unknown): boolean {
  if (err instanceof NoObjectStorageError) return true;
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'NoObjectStorage';
}

// Small helpers shared by object-store providers and wrappers (no node: imports).
import { ObjectNotFoundError } from './bucket.ts';

/** An object name a provider refuses (empty, absolute, escaping, NUL ...). Never a not-found error. */
export class InvalidObjectNameError extends Error {
  readonly code = 'InvalidObjectName';
  constructor(public readonly objectName: string, reason: string) {
    super(`invalid object name ${JSON.stringify(objectName)}: ${reason}`);
    this.name = 'InvalidObjectNameError';
  }
}

/** A range request starting past the end of the object (S3's 416 InvalidRange). */
export class InvalidRangeError extends Error {
  readonly code = 'InvalidRange';
  constructor(public readonly objectName: string, off: number, size: number) {
    super(`invalid range for ${objectName}: offset ${off} is past the object's size ${size}`);
    this.name = 'InvalidRangeError';
  }
}

/**
 * Validates an object name: non-empty, relative, no NUL, no '.' or '..' segments, no empty
 * segments. Returns the name unchanged. Providers call this before touching storage.
 */
export function checkObjectName(name: string): string {
  if (typeof name !== 'string' || name === '') throw new InvalidObjectNameError(String(name), 'empty name');
  if (name.includes('\0')) throw new InvalidObjectNameError(name, 'contains NUL');
  if (name.startsWith('/')) throw new InvalidObjectNameError(name, 'absolute names are not allowed');
  if (name.endsWith('/')) throw new InvalidObjectNameError(name, 'names a directory (trailing "/")');
  if (name.includes('\\')) throw new InvalidObjectNameError(name, 'backslashes are not allowed');
  for (const seg of name.split('/')) {
    if (seg === '..') throw new InvalidObjectNameError(name, 'escapes the bucket ("..")');
    if (seg === '.') throw new InvalidObjectNameError(name, '"." segments are not allowed');
    if (seg === '') throw new InvalidObjectNameError(name, 'empty path segment ("//")');
  }
  return name;
}

/** Normalises an iter() directory: '' stays '', otherwise exactly one trailing '/'. */
export function normalizeDir(dir: string): string {
  if (dir === '' || dir === '/') return '';
  if (dir.includes('\0')) throw new InvalidObjectNameError(dir, 'contains NUL');
  const d = dir.replace(/\/+$/, '');
  for (const seg of d.split('/')) {
    if (seg === '..' || seg === '.') throw new InvalidObjectNameError(dir, 'directory escapes the bucket');
  }
  if (d.startsWith('/')) throw new InvalidObjectNameError(dir, 'absolute directories are not allowed');
  return d + '/';
}

/** Clamps a range request like S3 does: length past the end reads to the end. */
export function clampRange(name: string, size: number, off: number, len?: number): { start: number; end: number } {
  if (!Number.isInteger(off) || off < 0) throw new RangeError(`getRange ${name}: offset must be a non-negative integer, got ${off}`);
  if (len !== undefined && len !== -1 && (!Number.isInteger(len) || len < 0)) {
    throw new RangeError(`getRange ${name}: length must be a non-negative integer or -1, got ${len}`);
  }
  if (off > size || (off === size && size > 0 && len !== 0)) throw new InvalidRangeError(name, off, size);
  const end = len === undefined || len < 0 ? size : Math.min(size, off + len);
  return { start: off, end };
}

/**
 * A vendor's getRange arguments: offset a non-negative safe integer, length undefined, -1 (to the
 * end) or a non-negative safe integer. `what` prefixes the RangeError ("s3 getRange NAME").
 */
export function checkRangeArgs(what: string, off: number, len?: number): void {
  if (!Number.isSafeInteger(off) || off < 0) throw new RangeError(`${what}: offset must be a non-negative integer, got ${off}`);
  if (len !== undefined && len !== -1 && (!Number.isSafeInteger(len) || len < 0)) {
    throw new RangeError(`${what}: length must be a non-negative integer or -1, got ${len}`);
  }
}

/** A stream that ends at once (an empty object or range). */
export function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start(c) { c.close(); } });
}

export function bytesStream(data: Uint8Array, chunkSize = 64 * 1024): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(ctrl) {
      if (off >= data.length) { ctrl.close(); return; }
      const end = Math.min(data.length, off + chunkSize);
      ctrl.enqueue(data.slice(off, end));
      off = end;
    },
  }, { highWaterMark: 0 });
}

export function notFound(name: string, cause?: unknown): ObjectNotFoundError {
  return new ObjectNotFoundError(name, cause);
}

/** Builds a nested ConfigError-style message prefix for config parsing. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// The Bucket interface: objstore's Bucket in Web-standard types. Providers stay plain; prefix,
// metrics, retries and caching wrap them.

export interface ObjectAttributes {
  size: number;
  lastModified: Date;
}

export interface IterOptions {
  /** List every object under dir, not just the next level (directories end with '/'). */
  recursive?: boolean;
}

export interface Bucket {
  /** Names directly under dir ('' = root); directories are returned with a trailing '/'. */
  iter(dir: string, opts?: IterOptions): AsyncIterable<string>;
  get(name: string): Promise<ReadableStream<Uint8Array>>;
  /** len < 0 (or undefined) reads to the end. Reading past the end returns what exists, like S3. */
  getRange(name: string, off: number, len?: number): Promise<ReadableStream<Uint8Array>>;
  exists(name: string): Promise<boolean>;
  attributes(name: string): Promise<ObjectAttributes>;
  upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void>;
  delete(name: string): Promise<void>;
  isObjNotFoundErr(err: unknown): boolean;
  close(): Promise<void>;
  /** Provider name, e.g. FILESYSTEM, S3. */
  readonly provider: string;
}

/** The error every provider throws for a missing object (isObjNotFoundErr recognises it). */
export class ObjectNotFoundError extends Error {
  readonly code = 'ObjectNotFound';
  constructor(public readonly objectName: string, cause?: unknown) {
    super(`object not found: ${objectName}`, cause === undefined ? undefined : { cause });
    this.name = 'ObjectNotFoundError';
  }
}

export function isObjectNotFound(err: unknown): boolean {
  return err instanceof ObjectNotFoundError || (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ObjectNotFound');
}

/** Reads a whole stream into one Uint8Array. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    total += value.length;
  }
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

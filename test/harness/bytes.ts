// Byte and stream helpers shared by the object-store provider tests (S3, Swift).
import type { Bucket } from '../../lib/objstore/bucket.ts';

export function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
}

export function streamOf(data: Uint8Array, chunk: number, failAfter?: number): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (failAfter !== undefined && off >= failAfter) { c.error(new Error('source broke')); return; }
      if (off >= data.length) { c.close(); return; }
      c.enqueue(data.slice(off, off + chunk));
      off += chunk;
    },
  });
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export async function list(b: Bucket, dir: string, recursive = false): Promise<string[]> {
  const out: string[] = [];
  for await (const n of b.iter(dir, { recursive })) out.push(n);
  return out;
}

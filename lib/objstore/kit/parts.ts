// Re-chunking of upload bodies into parts (S3 multipart parts, Swift large-object segments).

/** Slices a byte array into parts of `size` bytes (the last may be shorter). No copies. */
export function* arrayParts(data: Uint8Array, size: number): Iterable<Uint8Array> {
  for (let off = 0; off < data.length; off += size) yield data.subarray(off, Math.min(data.length, off + size));
}

/**
 * Re-chunks a byte stream into parts of exactly `size` bytes (the last may be shorter, never
 * empty). The part buffer starts small and doubles up to `size`, so a small upload with a large
 * part size does not allocate a whole part.
 */
export async function* streamParts(reader: ReadableStreamDefaultReader<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  const initial = Math.min(size, 1024 * 1024);
  let buf = new Uint8Array(initial);
  let fill = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    let v = value;
    while (v.length > 0) {
      if (fill === buf.length && buf.length < size) {
        const bigger = new Uint8Array(Math.min(size, buf.length * 2));
        bigger.set(buf);
        buf = bigger;
      }
      const n = Math.min(buf.length - fill, v.length);
      buf.set(v.subarray(0, n), fill);
      fill += n;
      v = v.subarray(n);
      if (fill === size) {
        yield buf;
        buf = new Uint8Array(initial);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) { out.set(c, off); off += c.length; }
  return out;
}

// The query API's answer compression as Thanos's querier does it: every API handler is wrapped in
// NYTimes' gziphandler.GzipHandler (pkg/api GetInstr), which gzips when the client accepts gzip
// (its q-value above 0; deflate is never used), leaves bodies under 1400 bytes (DefaultMinSize: one
// packet either way) plain, and says `Vary: Accept-Encoding` on every answer.
//
// An answer already in memory is compressed in one call (synchronously while small, on the thread
// pool when larger) instead of through a CompressionStream: the web-stream machinery and a deflate
// state per answer were a fixed ~0.4 ms of every small query.
import { gzip, gzipSync } from 'node:zlib';

/** gziphandler.DefaultMinSize: smaller bodies are sent as they are. */
export const GZIP_MIN_SIZE = 1400;
/** Bodies up to this size are compressed on the event loop (well under a millisecond). */
const GZIP_SYNC_MAX = 64 * 1024;

/**
 * Whether an Accept-Encoding header accepts gzip, as gziphandler's parseEncodings reads it:
 * comma-separated codings, each with an optional `;q=<float>` (default 1); gzip with q > 0.
 */
export function acceptsGzip(header: string | null | undefined): boolean {
  if (!header) return false;
  for (const part of header.split(',')) {
    const [coding = '', ...params] = part.split(';');
    if (coding.trim().toLowerCase() !== 'gzip') continue;
    let q = 1;
    for (const p of params) {
      const kv = p.trim();
      if (!kv.startsWith('q=')) continue;
      q = Number(kv.slice(2));
      if (kv.length === 2 || !Number.isFinite(q)) return false;
    }
    return q > 0;
  }
  return false;
}

/** The gzipped body of an in-memory answer, or undefined when it is too small to be compressed. */
export async function gzipAnswer(bytes: Uint8Array): Promise<Uint8Array | undefined> {
  if (bytes.length < GZIP_MIN_SIZE) return undefined;
  if (bytes.length <= GZIP_SYNC_MAX) return gzipSync(bytes);
  return new Promise((resolve, reject) => gzip(bytes, (err, out) => (err ? reject(err) : resolve(out))));
}

// The block viewer of `bucket web` and `compact` (fetch handler with /api/v1/blocks); the page is
// lib/web/blockviewer.ts. Each refresh lists the blocks (the meta fetcher) and reads their marks
// from the bucket, so a block marked a moment ago shows as marked on the next view.
import type { Bucket } from '../sdk/mod.ts';
import type { BucketBlockMeta as BlockMeta } from '../tsdb/meta.ts';
import { adminOperationsEnabled, blocksMark } from '../web/blockmark.ts';
import { underRoutePrefix } from '../web/ui.ts';
import { blocksPage, readBlockMarks, type BlockMarks } from '../web/blockviewer.ts';
import type { FetchResult } from '../store/blocksync/fetcher.ts';
import { groupKey } from './plan.ts';

function sortedMetas(res: FetchResult): BlockMeta[] {
  return [...res.metas.values()].sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
}

/** The block viewer as a fetch handler (exported for in-process tests). */
export function bucketWebHandler(load: () => Promise<FetchResult>, opts: {
  refreshMs: number; label: string; now?: () => number;
  /** --web.route-prefix: the routes sit under it ('' or undefined = the root). */
  prefix?: string;
  /** The prefix written into links per request (--web.external-prefix / --web.prefix-header: lib/web/ui.ts webPrefixFor); default the route prefix. */
  prefixFor?: (req: Request) => string;
  /** The bucket and --disable-admin-operations, for POST /api/v1/blocks/mark (lib/web/blockmark.ts). */
  bucket?: Bucket; disableAdminOperations?: boolean | undefined;
}): (req: Request) => Promise<Response> {
  let cache: { res?: FetchResult; marks?: Map<string, BlockMarks>; at: number; err?: string } = { at: 0 };
  const now = opts.now ?? Date.now;
  const prefix = (opts.prefix ?? '').replace(/\/+$/, '');
  let inflight: Promise<void> | undefined;
  const refresh = async (force: boolean) => {
    if (!force && cache.res && now() - cache.at < opts.refreshMs) return;
    inflight ??= (async () => {
      const res = await load();
      const marks = opts.bucket ? await readBlockMarks(opts.bucket, [...res.metas.keys()]) : undefined;
      return { res, marks };
    })().then(({ res, marks }) => { cache = { res, marks, at: now() }; }, (e) => { cache = { ...cache, at: now(), err: (e as Error).message }; }).finally(() => { inflight = undefined; });
    await inflight;
  };
  return async (outer) => {
    const req = underRoutePrefix(outer, prefix);
    if (!req) return new Response('not found\n', { status: 404 });
    const url = new URL(req.url);
    const path = url.pathname;
    if (path === '/-/healthy') return new Response('OK\n');
    if (path === '/-/ready') return new Response(cache.res ? 'OK\n' : 'not ready\n', { status: cache.res ? 200 : 503 });
    if (path === '/api/v1/blocks/mark') {
      const res = await blocksMark(opts, req, url);
      // The next view reads the bucket again, so the mark shows.
      if (res.ok) cache = { ...cache, at: 0 };
      return res;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return new Response('method not allowed\n', { status: 405 });
    await refresh(url.searchParams.get('refresh') === 'true');
    const metas = cache.res ? sortedMetas(cache.res) : [];
    const linkPrefix = opts.prefixFor ? opts.prefixFor(req) : prefix;
    if (path === '/api/v1/blocks') {
      return Response.json({
        status: cache.err && !cache.res ? 'error' : 'success',
        data: { blocks: metas.map((m) => m.raw), label: opts.label, refreshedAt: new Date(cache.at).toISOString(), err: cache.err ?? null },
        ...(cache.err && !cache.res ? { errorType: 'internal', error: cache.err } : {}),
      });
    }
    if (path === '/' || path === '/blocks' || path === '/loaded') {
      const marks = new Map(cache.marks ?? []);
      // The fetcher's own deletion marks, for a handler given no bucket to read them from.
      for (const id of cache.res?.deletionMarks.keys() ?? []) if (!marks.get(id)?.deletion) marks.set(id, { ...marks.get(id), deletion: { id } });
      const page = blocksPage(metas, {
        title: 'Thanos bucket blocks', label: opts.label, refreshedAt: cache.at, err: cache.err, groupKey, marks,
        notes: cache.res?.partial.size ? [`${cache.res.partial.size} partial upload(s) not shown`] : [],
        admin: adminOperationsEnabled(opts) ? { prefix: linkPrefix } : undefined,
        jsonHref: `${linkPrefix}/api/v1/blocks`,
      });
      return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    }
    return new Response('not found\n', { status: 404 });
  };
}


// HTTP surface of the store gateway: GET /api/v1/blocks (Thanos's block viewer API) and the block
// viewer page of the loaded blocks at /loaded (also served at /; lib/web/blockviewer.ts), with their
// marks read from the bucket (at most once per 10s, shared by concurrent views).
import type { Bucket } from '../../sdk/mod.ts';
import { blocksMark } from '../../web/blockmark.ts';
import { blocksPage, cachedMarkReader } from '../../web/blockviewer.ts';
import { groupKey } from '../../compact/plan.ts';
import type { BucketStore } from './bucketstore.ts';

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

export function storeHttp(store: BucketStore, opts: {
  webDisable: boolean; label?: string; bucket?: Bucket; disableAdminOperations?: boolean | undefined;
  /** The prefix written into the page's links per request (--web.external-prefix / --web.prefix-header: lib/web/ui.ts webPrefixFor); default none. */
  prefixFor?: (req: Request) => string;
}): (req: Request) => Promise<Response> {
  const readMarks = opts.bucket ? cachedMarkReader(opts.bucket, 10_000) : undefined;
  return async (req: Request) => {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    if (path === '/api/v1/blocks/mark') return blocksMark(opts, req, url);
    if (path === '/api/v1/blocks') {
      if (req.method !== 'GET') return json({ status: 'error', errorType: 'bad_data', error: `method ${req.method} not allowed` }, 405);
      const view = url.searchParams.get('view') ?? 'loaded';
      const blocks = [...store.blocks.values()].map((b) => b.meta.raw).sort((a, b) => Number(a.minTime) - Number(b.minTime));
      return json({
        status: 'success',
        data: {
          blocks,
          label: opts.label ?? '',
          refreshedAt: (store.lastSyncAt ?? new Date(0)).toISOString(),
          err: store.lastSyncError ?? null,
          view,
          // Blocks not served: failed to load, or meta.json unusable (queries warn about both).
          loadFailures: Object.fromEntries([...(store.lastSync?.corrupted ?? []), ...store.loadFailures]),
        },
      });
    }
    if (opts.webDisable) return new Response('not found\n', { status: 404 });
    if (path === '/' || path === '/loaded') {
      const metas = [...store.blocks.values()].map((b) => b.meta).sort((a, b) => a.minTime - b.minTime || (a.ulid < b.ulid ? -1 : 1));
      let marks;
      let markErr: string | undefined;
      try {
        marks = await readMarks?.(metas.map((m) => m.ulid), url.searchParams.get('refresh') === 'true');
      } catch (e) {
        markErr = `reading block marks: ${(e as Error).message}`;
      }
      const failures = [...(store.lastSync?.corrupted ?? []), ...store.loadFailures].map(([id, e]) => `block ${id} failed to load: ${e}`);
      const html = blocksPage(metas, {
        title: `Store gateway: Loaded blocks (${store.blocks.size})`, label: opts.label ?? '', groupKey, marks,
        refreshedAt: store.lastSyncAt?.getTime() ?? 0, err: [store.lastSyncError, markErr].filter(Boolean).join('; ') || undefined, notes: failures,
        jsonHref: `${opts.prefixFor?.(req) ?? ''}/api/v1/blocks`,
      });
      return new Response(html, { headers: { 'content-type': 'text/html; charset=utf-8' } });
    }
    return new Response('not found\n', { status: 404 });
  };
}

// The store gateway's /loaded page (lib/store/gateway/http.ts over lib/web/blockviewer.ts): the
// loaded blocks with their marks read from the bucket — a block marked after a first view shows as
// marked once the mark cache (10s) is bypassed with ?refresh=true — and the filter form.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DELETION_MARK, NO_COMPACT_MARK, writeMarker } from '../../lib/compact/marks.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import type { BucketStore } from '../../lib/store/gateway/bucketstore.ts';
import { storeHttp } from '../../lib/store/gateway/http.ts';
import { alignedStart, fsBucket, HOUR, putBlock } from '../compact/helpers.ts';

test('/loaded: blocks with filters and details; marks from the bucket, refreshed on ?refresh=true', async () => {
  const bucket = fsBucket();
  const T0 = alignedStart();
  const a = (await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'a' } })).ulid;
  const b = (await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'b' } })).ulid;
  const res = await new MetaFetcher(bucket, { concurrency: 1 }).fetch();
  // The part of the store the page reads: the loaded blocks and the last sync.
  const store = { blocks: new Map([...res.metas].map(([id, meta]) => [id, { id, meta }])), lastSync: res, lastSyncAt: new Date(), loadFailures: new Map<string, string>() } as unknown as BucketStore;
  const handler = storeHttp(store, { webDisable: false, bucket });
  const page = async (q = '') => (await handler(new Request(`http://x/loaded${q}`))).text();
  await writeMarker(bucket, a, DELETION_MARK, 'first');
  let html = await page();
  assert.match(html, 'Loaded blocks (2)');
  assert.match(html, 'id="f-labels"');
  assert.match(html, `data-details-for="${b}"`);
  const row = (id: string) => /<tr class="block"[^]*?<\/tr>/g.exec(html.slice(html.indexOf(`<tr class="block" data-block="${id}"`)))?.[0] ?? '';
  assert.match(row(a), 'marked for deletion');
  assert.not.match(row(b), 'no-compact');
  await writeMarker(bucket, b, NO_COMPACT_MARK, 'second');
  html = await page('?refresh=true');
  assert.match(row(b), 'no-compact');
  assert.match(html, 'no-compact-mark.json');
});

test.run();

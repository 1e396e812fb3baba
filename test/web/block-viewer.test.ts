// The block viewer page (lib/web/blockviewer.ts, served by compact / tools bucket web via
// lib/compact/web.ts) in headless Chromium: the filters narrow the list (labels, time range,
// resolution, marks), a block's details show its meta.json fields, sources and stats, a block marked
// after the viewer first loaded shows as marked on the next refresh (marks read from the bucket),
// and the page logs no console errors. Screenshots go to a temp dir (printed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { bucketWebHandler } from '../../lib/compact/web.ts';
import { DELETION_MARK, NO_COMPACT_MARK, writeMarker } from '../../lib/compact/marks.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { HOUR, fsBucket, alignedStart, putBlock } from '../compact/helpers.ts';
import { UiHarness } from './uiharness.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const h = new UiHarness();
const bucket = fsBucket();
const T0 = alignedStart();
const ids: Record<'a' | 'b' | 'a5m', string> = { a: '', b: '', a5m: '' };
let base = '';

test.before(async () => {
  await h.start();
  ids.a = (await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster: 'a' } })).ulid;
  ids.b = (await putBlock(bucket, { minTime: T0 + 2 * HOUR, maxTime: T0 + 4 * HOUR, ext: { cluster: 'b' } })).ulid;
  ids.a5m = (await putBlock(bucket, { minTime: T0, maxTime: T0 + 4 * HOUR, ext: { cluster: 'a' }, resolution: 300_000 })).ulid;
  base = await h.serve(bucketWebHandler(() => new MetaFetcher(bucket, { concurrency: 1 }).fetch(), { refreshMs: 3_600_000, label: '', bucket }));
});

test.after(() => h.stop());

/** The ULIDs of the table rows the filter leaves visible. */
async function visibleRows(page: Page): Promise<string[]> {
  return page.evaluate(() => Array.from(document.querySelectorAll('tr.block')).filter((r: any) => !r.hidden).map((r: any) => r.getAttribute('data-block')).sort());
}

test('filters narrow the list: labels, time range, resolution; a bad matcher says why', async () => {
  const { page, errors } = await h.page();
  await page.goto(`${base}/`);
  assert.equal(await visibleRows(page), [ids.a, ids.b, ids.a5m].sort());
  assert.is(await page.locator('section.group').count(), 3); // {a} raw, {a} 5m, {b} raw
  await page.fill('#f-labels', 'cluster="b"');
  assert.equal(await visibleRows(page), [ids.b]);
  assert.is(await page.locator('section.group:not([hidden])').count(), 1);
  await page.fill('#f-labels', 'cluster=~"a|z"');
  assert.equal(await visibleRows(page), [ids.a, ids.a5m].sort());
  await page.selectOption('#f-res', '300000');
  assert.equal(await visibleRows(page), [ids.a5m]);
  await page.selectOption('#f-res', '');
  await page.fill('#f-labels', '');
  // Blocks overlapping [T0+3h, ∞): b and the 5m block.
  await page.fill('#f-from', new Date(T0 + 3 * HOUR).toISOString());
  assert.equal(await visibleRows(page), [ids.b, ids.a5m].sort());
  assert.match(await page.textContent('#f-count') ?? '', '2 of 3 blocks shown');
  await page.fill('#f-from', '');
  await page.fill('#f-labels', 'cluster=');
  assert.match(await page.textContent('#f-error') ?? '', 'bad label matcher');
  await page.screenshot({ path: join(h.artifacts, 'block-viewer-filter.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test('block details: meta.json fields, sources, stats', async () => {
  const { page, errors } = await h.page();
  await page.goto(`${base}/`);
  const details = page.locator(`tr[data-details-for="${ids.b}"]`);
  assert.is(await details.isVisible(), false);
  await page.click(`tr[data-block="${ids.b}"] button.toggle`);
  assert.is(await details.isVisible(), true);
  const text = (await details.textContent()) ?? '';
  assert.match(text, /series \d+, samples \d+, chunks \d+/);
  assert.match(text, `sources (1)`);
  assert.match(text, ids.b);
  assert.match(text, '{cluster="b"}');
  assert.match(text, 'sidecar');
  await page.click(`tr[data-details-for="${ids.b}"] summary`);
  assert.match((await details.locator('pre').textContent()) ?? '', '"ulid"');
  await page.screenshot({ path: join(h.artifacts, 'block-viewer-details.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test('a block marked after the first view shows as marked on refresh (deletion and no-compact)', async () => {
  const { page, errors } = await h.page();
  await page.goto(`${base}/`);
  assert.is(await page.locator('.mark').count(), 0);
  await writeMarker(bucket, ids.a, DELETION_MARK, 'from the test');
  await writeMarker(bucket, ids.b, NO_COMPACT_MARK, 'from the test');
  await page.goto(`${base}/?refresh=true`);
  assert.match((await page.textContent(`tr[data-block="${ids.a}"]`)) ?? '', 'marked for deletion');
  assert.match((await page.textContent(`tr[data-block="${ids.b}"]`)) ?? '', 'no-compact');
  await page.selectOption('#f-marks', 'deletion');
  assert.equal(await visibleRows(page), [ids.a]);
  await page.selectOption('#f-marks', 'none');
  assert.equal(await visibleRows(page), [ids.a5m]);
  await page.selectOption('#f-marks', '');
  await page.click(`tr[data-block="${ids.a}"] button.toggle`);
  assert.match((await page.textContent(`tr[data-details-for="${ids.a}"]`)) ?? '', 'deletion-mark.json');
  await page.screenshot({ path: join(h.artifacts, 'block-viewer-marked.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test.run();

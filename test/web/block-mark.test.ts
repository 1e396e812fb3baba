// The block viewer's mark actions (compact / tools bucket web, lib/compact/web.ts): with
// --no-disable-admin-operations each block row has mark buttons; clicking "mark deletion" in headless
// Chromium writes the block's deletion-mark.json (with the detail typed), and the compactor then
// deletes the block. Without the flag there are no buttons and POST /api/v1/blocks/mark is refused
// (403) saying why; with --disable-admin-operations too. Screenshots go to a temp dir (printed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { serveFetch } from '../../host/server/listen.ts';
import type { HttpListener } from '../../host/index.ts';
import { Compactor } from '../../lib/compact/compactor.ts';
import { bucketWebHandler } from '../../lib/compact/web.ts';
import { MetaFetcher } from '../../lib/store/blocksync/fetcher.ts';
import { readAll } from '../../lib/objstore/bucket.ts';
import { fs, core, HOUR, tmp, fsBucket, alignedStart, putBlock, objects } from '../compact/helpers.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const ART = mkdtempSync(join(tmpdir(), 'thanos-block-mark-'));
const bucket = fsBucket();
const T0 = alignedStart();
const listeners: HttpListener[] = [];
let browser: Browser;
let ids: string[] = [];

async function viewer(disableAdminOperations: boolean | undefined): Promise<string> {
  const handler = bucketWebHandler(() => new MetaFetcher(bucket, { concurrency: 1 }).fetch(), { refreshMs: 60_000, label: '', bucket, disableAdminOperations });
  const l = await serveFetch('127.0.0.1', 0, handler);
  listeners.push(l);
  return `http://127.0.0.1:${l.address.port}`;
}

test.before(async () => {
  // Two blocks in different groups: the compactor has nothing to compact, only the mark to act on.
  for (const cluster of ['a', 'b']) ids.push((await putBlock(bucket, { minTime: T0, maxTime: T0 + 2 * HOUR, ext: { cluster } })).ulid);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  console.log(`screenshots: ${ART}`);
});

test.after(async () => {
  await browser?.close();
  for (const l of listeners) await l.close();
});

test('admin operations off (flag not given, or --disable-admin-operations): no buttons, the API refuses saying why', async () => {
  for (const flag of [undefined, true]) {
    const base = await viewer(flag);
    const page = await (await fetch(`${base}/`)).text();
    assert.not.match(page, 'data-mark=');
    const res = await fetch(`${base}/api/v1/blocks/mark`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: ids[0], action: 'DELETION', detail: '' }) });
    assert.is(res.status, 403);
    assert.match(((await res.json()) as { error: string }).error, flag ? /--disable-admin-operations/ : /--no-disable-admin-operations/);
  }
});

test('--no-disable-admin-operations: a block marked for deletion from the page, then deleted by the compactor', async () => {
  const base = await viewer(false);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/`);
  await page.fill('#mark-detail', 'bad data from the UI test');
  await page.click(`tr[data-block="${ids[0]}"] button[data-mark="DELETION"]`);
  await page.waitForFunction((id: string) => document.querySelector('#mark-status').getAttribute('data-done') === `${id} DELETION`, ids[0]!, { timeout: 30_000 });
  await page.screenshot({ path: join(ART, 'block-marked.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
  const mark = JSON.parse(new TextDecoder().decode(await readAll(await bucket.get(`${ids[0]}/deletion-mark.json`)))) as { id: string; details: string; version: number };
  assert.equal({ id: mark.id, details: mark.details, version: mark.version }, { id: ids[0], details: 'bad data from the UI test', version: 1 });
  // The compactor (delete delay 0) deletes the marked block and leaves the other.
  await new Compactor({ bucket, fs, core, dataDir: tmp('data'), consistencyDelayMs: 0, downsampling: false, deleteDelayMs: 0 }).runOnce();
  const left = await objects(bucket);
  assert.ok(!left.some((o) => o.startsWith(`${ids[0]}/`)), JSON.stringify(left));
  assert.ok(left.some((o) => o === `${ids[1]}/meta.json`), JSON.stringify(left));
});

test.run();

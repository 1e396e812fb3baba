// The engine's info annotations in the querier's API and UI: as Prometheus 3's API, the envelope has
// "infos" beside "warnings" (each left out when empty), and the graph page shows them under the
// panel. rate() over a metric whose name is not a counter's gives "PromQL info: metric might not be
// a counter, …".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { NOW, UiHarness, waitDone } from './uiharness.ts';

const h = new UiHarness();
let base = '';
const NOT_A_COUNTER = 'PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: "demo_gauge"';

test.before(async () => {
  await h.start();
  const t: number[] = [];
  const v: number[] = [];
  for (let k = 0; k < 480; k++) {
    t.push(NOW - 2 * 3600_000 + k * 15_000);
    v.push(k);
  }
  const q = await h.querier({}, [{ labels: labelsFromRecord({ __name__: 'demo_gauge', job: 'api' }), t, v }]);
  base = await h.serve((req) => q.comp.fetch!(req));
});

test.after(() => h.stop());

test('API: /api/v1/query and /api/v1/query_range answer the engine infos after the data; none, no key', async () => {
  const now = Math.floor(NOW / 1000);
  for (const path of [`/api/v1/query?time=${now}&query=`, `/api/v1/query_range?start=${now - 600}&end=${now}&step=60&query=`]) {
    const text = await (await fetch(`${base}${path}${encodeURIComponent('rate(demo_gauge[5m])')}`)).text();
    const body = JSON.parse(text) as { status: string; infos?: string[]; warnings?: string[] };
    assert.is(body.status, 'success', text);
    assert.is(body.infos?.length, 1, text);
    assert.ok(body.infos![0]!.startsWith(NOT_A_COUNTER), body.infos![0]);
    assert.is(body.warnings, undefined);
    assert.equal(Object.keys(body), ['status', 'data', 'infos']);
    const plain = (await (await fetch(`${base}${path}${encodeURIComponent('rate(demo_requests_total[5m])')}`)).json()) as Record<string, unknown>;
    assert.equal(Object.keys(plain), ['status', 'data']);
  }
});

test('graph page: the infos show under the panel, no console errors', async () => {
  const { page, errors } = await h.page();
  await page.goto(`${base}/graph?g0.expr=${encodeURIComponent('rate(demo_gauge[5m])')}&g0.tab=1`);
  await waitDone(page);
  const infos = page.locator('.infos').first();
  assert.ok(await infos.isVisible());
  assert.match((await infos.textContent()) ?? '', `Info: ${NOT_A_COUNTER}`);
  assert.is(await page.locator('.warnings').first().isVisible(), false);
  await page.screenshot({ path: join(h.artifacts, 'query-infos.png'), fullPage: true });
  assert.equal(errors, []);
  await page.close();
});

test.run();

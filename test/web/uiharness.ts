// Shared setup of the querier UI browser tests (test/web/query-ui*.test.ts): live queriers over an
// in-memory store with demo_* series, HTTP listeners, headless Chromium pages that record console
// errors and failed requests, and a temp dir for screenshots.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveFetch } from '../../host/server/listen.ts';
import type { HttpListener } from '../../host/index.ts';
import { createJsCore } from '../../lib/core/js/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { MemoryStore, type SampleSeries } from '../../lib/store/memory.ts';
import { parseQueryConfig, setupQuery, type QueryComponent } from '../../plugins/component/query/mod.ts';
import { MemClient, queryCtx, type QueryTestCtx } from '../query/ctx.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

export const UI_DIR = new URL('../../plugins/component/query/ui/', import.meta.url).pathname;
export const UPLOT_DIR = new URL('../../node_modules/uplot/dist/', import.meta.url).pathname;
export const NOW = Date.now();
const STEP = 15_000;
const core = createJsCore();

/** demo_requests_total{job=api|db|web} and demo_errors_total{job=api}: 2h of counters up to NOW. */
function demoSeries(): SampleSeries[] {
  const out: SampleSeries[] = [];
  for (const [name, jobs] of [['demo_requests_total', ['api', 'db', 'web']], ['demo_errors_total', ['api']]] as const) {
    for (const job of jobs) {
      const t: number[] = [];
      const v: number[] = [];
      let acc = 0;
      for (let k = 0; k < 480; k++) {
        t.push(NOW - 2 * 3600_000 + k * STEP);
        acc += job.length + (k % 5);
        v.push(acc);
      }
      out.push({ labels: labelsFromRecord({ __name__: name, job }), t, v });
    }
  }
  return out;
}

export interface Querier { comp: QueryComponent; ctx: QueryTestCtx }

export class UiHarness {
  browser!: Browser;
  readonly artifacts = mkdtempSync(join(tmpdir(), 'thanos-web-ui-'));
  private readonly listeners: HttpListener[] = [];
  private readonly stops: Array<{ stop: AbortController; run: Promise<void> }> = [];

  async start(): Promise<void> {
    // The editor bundle is a build product (`npm run build:ui`); a test run from a fresh clone builds it.
    if (!existsSync(`${UI_DIR}build/editor.js`)) {
      execFileSync(process.execPath, [new URL('../../scripts/build-ui.mjs', import.meta.url).pathname], { stdio: 'inherit' });
    }
    this.browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
    });
    console.log(`screenshots: ${this.artifacts}`);
  }

  async stop(): Promise<void> {
    await this.browser?.close();
    for (const l of this.listeners) await l.close();
    for (const s of this.stops) {
      s.stop.abort();
      await s.run;
    }
  }

  /** A querier (the plugin's setup, as `thanos query` runs it) over one in-memory store with the demo series (and `extra`). */
  async querier(config: Record<string, unknown>, extra: SampleSeries[] = []): Promise<Querier> {
    const store = MemoryStore.fromSamples([...demoSeries(), ...extra], core.xorEncode, { externalLabels: labelsFromRecord({ cluster: 'eu' }) });
    const ctx = queryCtx(core);
    const comp = await setupQuery(ctx, parseQueryConfig({ endpoints: ['127.0.0.1:10901'], endpointInfoInterval: '200ms', ...config }), {
      clientFactory: (addr) => new MemClient(addr, store),
    });
    const stop = new AbortController();
    this.stops.push({ stop, run: comp.run(stop.signal) });
    await comp.ready;
    return { comp, ctx };
  }

  /** Serves handler on a loopback port (kept bound until stop); returns its base URL. */
  async serve(handler: (req: Request) => Response | Promise<Response>): Promise<string> {
    const l = await serveFetch('127.0.0.1', 0, handler);
    this.listeners.push(l);
    return `http://127.0.0.1:${l.address.port}`;
  }

  /** A page that records console errors, page errors and failed (>= 400) requests. */
  async page(): Promise<{ page: Page; errors: string[] }> {
    const page = await this.browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(`console: ${msg.text()}`); });
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
    return { page, errors };
  }
}

/** Waits until no panel of the graph page is loading (pages set body[data-state] = done). */
export async function waitDone(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.getAttribute('data-state') === 'done', undefined, { timeout: 30_000 });
}

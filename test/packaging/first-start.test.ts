// The README's first command: `npx thanos run -c plugins.yaml`, then the querier's graph page shows
// `up` and `thanos_build_info` (the stack scraping its own /metrics into its receiver), in headless
// Chromium. The repository's plugins.yaml is run as written except for its loopback ports (free
// ones from the harness, so a developer's running stack does not collide) and the two asset grants
// made absolute (the copy lives in a temp dir, and with it its data/).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { freePort } from '../harness/ports.ts';
import { STARTUP_MS } from '../harness/startup.ts';
import { waitDone } from '../web/uiharness.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'thanos-first-start-'));
let child: ChildProcess | undefined;
let browser: Browser | undefined;
let stderr = '';

/** plugins.yaml with each 127.0.0.1 port replaced by a free one, and the asset grants absolute. */
async function manifestCopy(): Promise<{ file: string; port: (p: number) => number }> {
  let text = fs.readFileSync(path.join(ROOT, 'plugins.yaml'), 'utf8');
  const ports = new Map<number, number>();
  for (const m of text.matchAll(/127\.0\.0\.1:(\d+)/g)) if (!ports.has(Number(m[1]))) ports.set(Number(m[1]), await freePort());
  text = text.replace(/127\.0\.0\.1:(\d+)/g, (_m, p) => `127.0.0.1:${ports.get(Number(p))}`);
  text = text.replace(/\.\/(plugins\/component\/query\/ui|node_modules\/uplot\/dist)/g, (_m, p) => path.join(ROOT, p));
  const file = path.join(work, 'plugins.yaml');
  fs.writeFileSync(file, text);
  return { file, port: (p) => ports.get(p)! };
}

test.after(async () => {
  await browser?.close();
  if (child && child.exitCode === null) {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  fs.rmSync(work, { recursive: true, force: true });
});

test('npx thanos run -c plugins.yaml: the graph page shows up and thanos_build_info', async () => {
  const { file, port } = await manifestCopy();
  const base = `http://127.0.0.1:${port(10904)}`;
  const started = Date.now();
  // Its own process group: npx runs npm, which runs the bin; the whole group is stopped after.
  child = spawn('npx', ['--offline', 'thanos', 'run', '-c', file], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.on('data', (d) => { stderr = (stderr + d).slice(-20_000); });
  const deadline = started + STARTUP_MS;
  for (;;) {
    assert.is(child.exitCode, null, `exited: ${stderr}`);
    const ok = await fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    assert.ok(Date.now() < deadline, `querier not ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'] });
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  for (const expr of ['up', 'thanos_build_info']) {
    // The first scrape and its remote-write batch land a few seconds after start: reload until shown.
    let rows: string[] = [];
    for (;;) {
      await page.goto(`${base}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`);
      await waitDone(page);
      rows = await page.$$eval('.panel-box .result-table td.metric', (tds) => tds.map((td) => (td as unknown as { textContent: string }).textContent));
      if (rows.length > 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(rows.length > 0, `${expr}: no rows on the graph page after ${Date.now() - started} ms; ${stderr.slice(-3000)}`);
    assert.ok(rows.every((r) => r.includes('job="thanos"') && r.includes('stack="all-in-one"')), rows.join('\n'));
    if (expr === 'up') {
      // Every component with an HTTP listener in plugins.yaml is a target, and each is up.
      const values = await page.$$eval('.panel-box .result-table td:last-child', (tds) => tds.map((td) => (td as unknown as { textContent: string }).textContent.trim()));
      assert.equal(values, rows.map(() => '1'));
      assert.is(rows.length, 4, rows.join('\n'));
    } else {
      assert.match(rows[0]!, /version="[^"]+"/);
    }
  }
  // Informational: the target is 30 s on a developer machine (not asserted: CI is shared).
  console.log(`first start: up and thanos_build_info on the graph page ${Date.now() - started} ms after npx thanos run`);
  assert.equal(pageErrors, []);
});

test.run();

// The status pages lib/web/status.ts serves on a component's HTTP port (sidecar, receive): `/`
// redirects to /status; the status API answers; /flags and /status render in headless Chromium with
// no console error and no failed request.
import * as assert from 'uvu/assert';
import { chromium } from 'playwright-core';

// The page's document, inside page.evaluate (the test tsconfig has no DOM lib).
declare const document: any;

/**
 * `flag`/`want`: a flag the component was started with and its value as status/flags shows it;
 * `home`: where `/` redirects (the ruler's UI home is /alerts).
 */
export async function checkStatusPages(base: string, flag: string, want: string, home = '/status'): Promise<void> {
  const root = await fetch(`${base}/`, { redirect: 'manual' });
  assert.is(root.status, 302);
  assert.is(root.headers.get('location'), home);
  const flags = (await (await fetch(`${base}/api/v1/status/flags`)).json()) as { status: string; data: Record<string, string> };
  assert.is(flags.status, 'success');
  assert.is(flags.data[flag], want, `status/flags ${flag}`);
  const build = (await (await fetch(`${base}/api/v1/status/buildinfo`)).json()) as { data: { version: string } };
  assert.match(build.data.version, /\d+\.\d+/);
  const runtime = (await (await fetch(`${base}/api/v1/status/runtimeinfo`)).json()) as { data: { startTime: string } };
  assert.ok(Date.parse(runtime.data.startTime) > 0);
  // Still nothing beyond the status pages: the other UI pages stay 404 (the ruler has its own).
  if (home === '/status') assert.is((await fetch(`${base}/graph`)).status, 404);

  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  try {
    for (const [path, table, text] of [['/flags', '#flags', flag], ['/status', '#buildinfo', 'version']] as const) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()); });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`); });
      const res = await page.goto(`${base}${path}`);
      assert.is(res?.status(), 200, path);
      await page.waitForFunction((sel: string) => document.querySelector(sel) !== null, table, { timeout: 30_000 });
      const shown = await page.evaluate((sel: string) => document.querySelector(sel).textContent as string, table);
      assert.ok(shown.includes(text), `${path} shows ${text}: ${shown.slice(0, 200)}`);
      assert.equal(errors, [], `${path}: console errors`);
      await page.close();
    }
  } finally {
    await browser.close();
  }
}

// The Alerts and Rules pages in headless Chromium (Debian chromium + playwright-core), on the
// querier (over the Rules API it fans out to a ruler) and on the ruler itself, with `thanos rule`
// and `thanos query` as processes (the ruler evaluates through the querier, which reads the ruler
// back). Checks: alerting rules with their state and active alerts, a rule's evaluation error, the
// state filter, hostile annotation text shown as text, no console errors; and the alert's real
// generatorURL (captured by a loopback Alertmanager stand-in) opens a ruler page showing that rule.
// Screenshots go to .test-artifacts/rules-ui-*.png.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort, httpReady, thanos, waitFor, type Proc } from './harness.ts';
import { STARTUP_MS } from '../harness/startup.ts';

// Browser-side callbacks are type-checked without the DOM lib.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any;

const ART = new URL('../../.test-artifacts/', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'rules-ui-'));
let rule: Proc | undefined;
let query: Proc | undefined;
let am: Server | undefined;
let browser: Browser;
let ruleBase = '';
let queryBase = '';
const amPosts: Array<{ labels: Record<string, string>; generatorURL: string }> = [];
const HOSTILE = '<img src=x onerror="window.__xss=1">';

test.before(async () => {
  mkdirSync(ART, { recursive: true });
  writeFileSync(join(dir, 'r.yml'), `groups:
  - name: ui-group
    interval: 1s
    rules:
      - record: ui:one
        expr: vector(1)
      - record: ui:broken
        expr: vector(1) + on() group_left() (vector(1) or label_replace(vector(1), "a", "b", "", ""))
      - alert: UiFiring
        expr: vector(5) > 1
        labels: { severity: page }
        annotations:
          summary: 'value {{ $value }} ${HOSTILE}'
      - alert: UiPending
        expr: vector(1)
        for: 1h
      - alert: UiInactive
        expr: vector(1) < 0
`);
  const amPort = await freePort();
  am = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      if (req.url === '/api/v2/alerts') amPosts.push(...(JSON.parse(b) as typeof amPosts));
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => am!.listen(amPort, '127.0.0.1', r));
  const ruleHttp = await freePort();
  const ruleGrpc = await freePort();
  const queryHttp = await freePort();
  query = thanos('query', ['query', '--endpoint', `127.0.0.1:${ruleGrpc}`, '--endpoint.info-interval', '1s', '--query.replica-label', 'replica',
    '--http-address', `127.0.0.1:${queryHttp}`, '--grpc-address', `127.0.0.1:${await freePort()}`], dir);
  rule = thanos('rule', ['rule', '--rule-file', 'r.yml', '--query', `http://127.0.0.1:${queryHttp}`, '--label', 'tenant="t1"', '--label', 'replica="r1"',
    '--alertmanagers.url', `http://127.0.0.1:${amPort}`, '--resend-delay', '1s',
    '--http-address', `127.0.0.1:${ruleHttp}`, '--grpc-address', `127.0.0.1:${ruleGrpc}`], dir);
  ruleBase = `http://127.0.0.1:${ruleHttp}`;
  queryBase = `http://127.0.0.1:${queryHttp}`;
  const logs = () => `${rule!.logs()}\n---- query\n${query!.logs()}`;
  await waitFor(() => httpReady(ruleHttp), STARTUP_MS, 'ruler ready', logs);
  // The querier has discovered the ruler's Rules API and the alert fired.
  await waitFor(async () => {
    const j = (await (await fetch(`${queryBase}/api/v1/alerts`)).json()) as { data: { alerts: Array<{ state: string }> } };
    return j.data.alerts.some((a) => a.state === 'firing');
  }, 60_000, 'firing alert at the querier', logs);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
});

test.after(async () => {
  await browser?.close();
  await rule?.kill();
  await query?.kill();
  await new Promise<void>((r) => (am ? am.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

/** A page that records console errors and uncaught exceptions. */
async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => !document.querySelector('#content p.muted') || document.querySelector('#content').textContent !== 'Loading…', undefined, { timeout: 15_000 });
  await page.waitForFunction(() => document.querySelector('#content').children.length > 0 && document.querySelector('#content').textContent !== 'Loading…', undefined, { timeout: 15_000 });
  return { page, errors };
}

async function checkAlertsPage(base: string, shot: string): Promise<void> {
  const { page, errors } = await open(`${base}/alerts`);
  try {
    assert.is(await page.isVisible('#error'), false, (await page.textContent('#error')) ?? '');
    const names = await page.$$eval('details.rule', (els) => els.map((e) => `${e.getAttribute('data-alertname')}:${e.className}`));
    assert.equal(names.sort(), ['UiFiring:rule firing', 'UiInactive:rule inactive', 'UiPending:rule pending']);
    const rows = await page.$$eval('details.rule[data-alertname="UiFiring"] tr.active-alert td', (tds) => tds.map((td) => td.textContent ?? ''));
    // Labels with the ruler's external labels, state, value, annotations as text (never markup).
    assert.match(rows[0]!, /alertname="UiFiring"/);
    assert.match(rows[0]!, /severity="page"/);
    assert.match(rows[0]!, /tenant="t1"/);
    assert.is(rows[1], 'FIRING');
    assert.is(rows[3], '5e+00');
    assert.ok(rows[4]!.includes(`summary: value 5 ${HOSTILE}`), rows[4]);
    assert.is(await page.evaluate(() => window.__xss), undefined, 'annotation markup must not run');
    assert.is(await page.$$eval('details.rule img', (e) => e.length), 0);
    assert.match(await page.textContent('#controls') ?? '', /Inactive \(1\).*Pending \(1\).*Firing \(1\)/);
    // The state filter hides inactive rules.
    await page.click('#show-inactive');
    assert.is(await page.isVisible('details.rule[data-alertname="UiInactive"]'), false);
    assert.is(await page.isVisible('details.rule[data-alertname="UiFiring"]'), true);
    await page.screenshot({ path: join(ART, `rules-ui-${shot}-alerts.png`), fullPage: true });
    assert.equal(errors, [], `console errors: ${errors.join('\n')}`);
  } finally {
    await page.close();
  }
}

async function checkRulesPage(base: string, shot: string): Promise<void> {
  const { page, errors } = await open(`${base}/rules`);
  try {
    assert.is(await page.isVisible('#error'), false, (await page.textContent('#error')) ?? '');
    assert.equal(await page.$$eval('table[data-group]', (t) => t.map((e) => e.getAttribute('data-group'))), ['ui-group']);
    const rows = await page.$$eval('tr.rule-row', (trs) => trs.map((tr) => ({
      name: tr.getAttribute('data-rule'),
      health: tr.querySelector('.badge.health')?.textContent,
      err: tr.querySelector('.last-error')?.textContent,
      expr: tr.querySelector('a.expr')?.getAttribute('href'),
    })));
    assert.equal(rows.map((r) => r.name), ['ui:one', 'ui:broken', 'UiFiring', 'UiPending', 'UiInactive']);
    assert.is(rows[0]!.health, 'OK');
    assert.is(rows[1]!.health, 'ERR');
    assert.ok((rows[1]!.err ?? '').length > 0, 'the broken rule shows its error');
    assert.ok(rows.every((r) => /\/graph\?g0\.expr=/.test(r.expr ?? '')), JSON.stringify(rows));
    await page.screenshot({ path: join(ART, `rules-ui-${shot}-rules.png`), fullPage: true });
    assert.equal(errors, [], `console errors: ${errors.join('\n')}`);
  } finally {
    await page.close();
  }
}

test('querier: /alerts over the fanned-out Rules API', () => checkAlertsPage(queryBase, 'query'));
test('querier: /rules over the fanned-out Rules API', () => checkRulesPage(queryBase, 'query'));
test('ruler: /alerts', () => checkAlertsPage(ruleBase, 'rule'));
test('ruler: /rules', () => checkRulesPage(ruleBase, 'rule'));

test('ruler: an alert\'s generatorURL (as sent to Alertmanager) opens a page showing that rule', async () => {
  await waitFor(async () => amPosts.some((a) => a.labels.alertname === 'UiFiring'), 30_000, 'alert posted', () => rule!.logs());
  const gen = amPosts.find((a) => a.labels.alertname === 'UiFiring')!.generatorURL;
  assert.ok(gen.startsWith(`${ruleBase}/graph?`), gen);
  const { page, errors } = await open(gen);
  try {
    assert.equal(await page.$$eval('tr.rule-row', (trs) => trs.map((tr) => tr.getAttribute('data-rule'))), ['UiFiring']);
    assert.match(await page.textContent('#notice') ?? '', /vector\(5\) > 1/);
    assert.equal(errors, [], `console errors: ${errors.join('\n')}`);
  } finally {
    await page.close();
  }
  // The querier's graph page still exists (its nav now links the alerts and rules pages too).
  const g = await fetch(`${queryBase}/graph`);
  const html = await g.text();
  assert.is(g.status, 200);
  assert.match(html, /href="\/alerts"/);
  assert.match(html, /href="\/rules"/);
});

test.run();

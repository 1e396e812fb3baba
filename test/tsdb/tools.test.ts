// `thanos tools tsdb dump` and `thanos tools tsdb create-blocks-from openmetrics`, through their
// run() and through the real CLI (bin/thanos.mjs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ComponentContext } from '../../host/index.ts';
import plugin, { commands } from '../../plugins/component/tools/mod.ts';
import { parseMeta } from '../../lib/tsdb/mod.ts';
import { fs, core, tmp, promtool, promtoolDump, blockDirsIn, genOpenMetrics, HOUR } from './helpers.ts';

const work = tmp('tools');
const input = join(work, 'in.om');
const START = Date.UTC(2026, 10, 21, 3, 0, 0);
writeFileSync(input, genOpenMetrics(START, 5, 9));

function ctx(): ComponentContext & { out: string; err: string } {
  const c = {
    out: '', err: '', fs, core,
    stdout: { write: (s: string) => { c.out += s; } },
    stderr: { write: (s: string) => { c.err += s; } },
  };
  return c as unknown as ComponentContext & { out: string; err: string };
}
const cmd = (name: string) => commands.find((c) => c.name === name)!;

test('the plugin exposes the tsdb commands', () => {
  assert.equal(plugin.commands!.map((c) => c.name).slice(0, 2), ['tsdb dump', 'tsdb create-blocks-from openmetrics']);
});

test('create-blocks-from openmetrics with --label writes 2h blocks with a thanos section; dump equals promtool', async () => {
  const out = join(work, 'out');
  const c = ctx();
  const code = await cmd('tsdb create-blocks-from openmetrics').run(c, [input, out, '--label', 'cluster=eu1', '--label=replica=r0']);
  assert.is(code, 0, c.err);
  const dirs = blockDirsIn(out);
  assert.ok(dirs.length >= 3);
  for (const d of dirs) {
    const m = parseMeta(readFileSync(join(d, 'meta.json')));
    assert.equal(m.thanos!.labels, { cluster: 'eu1', replica: 'r0' });
    assert.is(m.thanos!.downsample.resolution, 0);
    assert.is(Math.floor(m.minTime / (2 * HOUR)), Math.floor((m.maxTime - 1) / (2 * HOUR)), 'inside one 2h range');
  }
  assert.match(c.out, /BLOCK ULID/);
  const theirs = join(work, 'theirs');
  assert.is(promtool('tsdb', 'create-blocks-from', 'openmetrics', input, theirs).code, 0);
  const d = ctx();
  assert.is(await cmd('tsdb dump').run(d, [out]), 0, d.err);
  assert.is(d.out, promtoolDump(theirs));
  const e = ctx();
  assert.is(await cmd('tsdb dump').run(e, [...blockDirsIn(out), '--match', '{__name__="queue_depth",shard=~"1|2"}', `--min-time=${START + HOUR}`, `--max-time=${START + 2 * HOUR}`]), 0);
  assert.is(e.out, promtoolDump(theirs, '--match={__name__="queue_depth",shard=~"1|2"}', `--min-time=${START + HOUR}`, `--max-time=${START + 2 * HOUR}`));
});

test('malformed OpenMetrics: a clear error naming the line, nothing written', async () => {
  const bad = join(work, 'bad.om');
  const lines = readFileSync(input, 'utf8').split('\n');
  lines.splice(10, 0, 'http_requests_total{code="200" 5 1795000000');
  writeFileSync(bad, lines.join('\n'));
  const out = join(work, 'bad-out');
  const c = ctx();
  assert.is(await cmd('tsdb create-blocks-from openmetrics').run(c, [bad, out]), 1);
  assert.match(c.err, /line 11:/);
  assert.match(c.err, /expected , or }/);
  assert.is(blockDirsIn(out).length, 0);
  for (const [text, re] of [
    ['m 1\n# EOF\n', /line 1: expected timestamp/],
    ['m 1 2\n', /does not end with # EOF/],
    ['m 1 2\n# EOF\nm 1 3\n', /line 3: unexpected data after # EOF/],
    ['# TYPE m bogus\n# EOF\n', /line 1: invalid metric type/],
    ['m{a="x\\q"} 1 2\n# EOF\n', /line 1: invalid escape/],
    ['m abc 2\n# EOF\n', /line 1: invalid value/],
  ] as const) {
    writeFileSync(bad, text);
    const d = ctx();
    assert.is(await cmd('tsdb create-blocks-from openmetrics').run(d, [bad, out]), 1, text);
    assert.match(d.err, re, text);
  }
  const u = ctx();
  assert.is(await cmd('tsdb create-blocks-from openmetrics').run(u, [input]), 2);
  assert.match(u.err, /usage/);
  const l = ctx();
  assert.is(await cmd('tsdb create-blocks-from openmetrics').run(l, [input, out, '--label', 'no-equals']), 2);
  assert.match(l.err, /--label: expected k=v/);
});

test('dump: a directory without meta.json is partial, bad selectors are usage errors', async () => {
  const partial = join(work, 'partial');
  mkdirSync(partial, { recursive: true });
  writeFileSync(join(partial, 'index'), 'x');
  const c = ctx();
  assert.is(await cmd('tsdb dump').run(c, [partial]), 1);
  assert.match(c.err, /partial: meta.json is missing/);
  const d = ctx();
  assert.is(await cmd('tsdb dump').run(d, [join(work, 'out'), '--match', '{a=~"("}']), 1);
  assert.match(d.err, /selector|regexp/);
  const e = ctx();
  assert.is(await cmd('tsdb dump').run(e, [join(work, 'out'), '--min-time', 'yesterday']), 2);
  assert.match(e.err, /--min-time: expected an integer/);
});

test('dump reads blocks from object storage by ULID (CLI with --objstore.config)', async () => {
  const root = new URL('../..', import.meta.url).pathname;
  const bdir = join(work, 'bucket');
  mkdirSync(bdir, { recursive: true });
  const { uploadBlock } = await import('../../lib/tsdb/mod.ts');
  // Copy the blocks into a FILESYSTEM bucket layout via the objstore filesystem plugin.
  const fsPlugin = (await import('../../plugins/objstore/filesystem/mod.ts')).default as any;
  const { createCapabilities } = await import('../../host/capabilities.ts');
  const { Permissions } = await import('../../host/permissions.ts');
  const { Registry } = await import('../../host/metrics.ts');
  const { createLogger } = await import('../../host/log.ts');
  const caps = createCapabilities({ permissions: Permissions.all(fsPlugin.manifest.id, fsPlugin.manifest.permissions), log: createLogger({ level: 'error' } as any), metrics: new Registry() } as any);
  const bkt = await fsPlugin.create(caps, fsPlugin.parseConfig({ directory: bdir }));
  const ids: string[] = [];
  for (const d of blockDirsIn(join(work, 'out'))) ids.push((await uploadBlock(bkt, fs, d)).ulid);
  const r = spawnSync(process.execPath, [join(root, 'bin/thanos.mjs'), 'tools', 'tsdb', 'dump', ...ids, `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${bdir}\n`, '--match={room="attic"}'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, promtoolDump(join(work, 'theirs'), '--match={room="attic"}'));
  // Backfill straight into the bucket, then dump from there.
  const bdir2 = join(work, 'bucket2');
  mkdirSync(bdir2, { recursive: true });
  const cfg = `--objstore.config=type: FILESYSTEM\nconfig:\n  directory: ${bdir2}\n`;
  const u = spawnSync(process.execPath, [join(root, 'bin/thanos.mjs'), 'tools', 'tsdb', 'create-blocks-from', 'openmetrics', input, join(work, 'up-out'), '--label=cluster=up', '--upload', cfg], { encoding: 'utf8' });
  assert.is(u.status, 0, u.stderr);
  const up = blockDirsIn(bdir2).map((d) => d.slice(d.lastIndexOf('/') + 1));
  assert.is(up.length, blockDirsIn(join(work, 'up-out')).length);
  for (const id of up) assert.ok(existsSync(join(bdir2, id, 'meta.json')) && existsSync(join(bdir2, id, 'index')));
  const d2 = spawnSync(process.execPath, [join(root, 'bin/thanos.mjs'), 'tools', 'tsdb', 'dump', ...up, cfg], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(d2.status, 0, d2.stderr);
  assert.is(d2.stdout, promtoolDump(join(work, 'theirs')));
  const nol = spawnSync(process.execPath, [join(root, 'bin/thanos.mjs'), 'tools', 'tsdb', 'create-blocks-from', 'openmetrics', input, join(work, 'up-out2'), '--upload', cfg], { encoding: 'utf8' });
  assert.is(nol.status, 2);
  assert.match(nol.stderr, /needs? external labels|add --label/);
});

test('CLI: node bin/thanos.mjs tools tsdb dump prints what promtool prints; progress on stderr for backfill', () => {
  const root = new URL('../..', import.meta.url).pathname;
  const theirs = join(work, 'theirs');
  const r = spawnSync(process.execPath, [join(root, 'bin/thanos.mjs'), 'tools', 'tsdb', 'dump', theirs, '--match={room="attic"}'], { encoding: 'utf8', maxBuffer: 1 << 28 });
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, promtoolDump(theirs, '--match={room="attic"}'));
  const big = join(work, 'big.om');
  writeFileSync(big, genOpenMetrics(START, 48, 5));
  const out = join(work, 'cli-out');
  const b = spawnSync(process.execPath, [join(root, 'bin/thanos.mjs'), 'tools', 'tsdb', 'create-blocks-from', 'openmetrics', big, out, '--label=cluster=x'], { encoding: 'utf8' });
  assert.is(b.status, 0, b.stderr);
  assert.match(b.stderr, /validated \d+ samples in 2[45] block range/);
  assert.match(b.stderr, /wrote block [0-9A-Z]{26}/);
  assert.is(blockDirsIn(out).length >= 24, true);
});

test.run();

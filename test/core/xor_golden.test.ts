// Golden: blocks written by the real promtool (`tsdb create-blocks-from openmetrics`); every XOR
// chunk is decoded by both backends and compared with `promtool tsdb dump`, and re-encoding the
// decoded samples gives promtool's bytes again, modulo the one spare 0x00 that promtool 2.42 leaves
// after some byte-aligned chunks and Prometheus >= 3.0 (and we) do not write; the 3.x bytes
// themselves are checked in xor_golden_3x.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCore, createJsCore, type Core } from '../../lib/core/mod.ts';
import { chunkBytesEqual, hex, rng } from './helpers.ts';
import { parseDump, readBlock } from './block.ts';

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
const RECIPE = '/work/shared/recipes/gen-om.js';
let dir = '';
let wasm: Core;
const js = createJsCore();

function omTs(ms: number): string {
  return `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, '0')}`;
}

/** Counters with ms jitter and resets, random-float gauges, a constant, specials, gappy series. */
function customOm(seed: number): string {
  const r = rng(seed);
  const end = Math.floor(Date.now() / 3600_000 - 2) * 3600_000;
  const start = end - 5 * 3600_000;
  const lines: string[] = [];
  const counter: string[] = [];
  const gauge: string[] = [];
  let c = [0, 0, 0];
  const specials = ['NaN', '+Inf', '-Inf', '-0', '0', '1e+308', '5e-324', '-1.5', '2.5e-10'];
  for (let i = 0, t = start; t < end; i++, t += 15000) {
    const tj = t + Math.floor(r() * 1001) - 500;
    for (let s = 0; s < 3; s++) {
      c[s] = r() < 0.01 ? 0 : c[s] + Math.floor(r() * 50 * (s + 1));
      counter.push(`jitter_total{s="${s}"} ${c[s]} ${omTs(tj + s)}`);
    }
    gauge.push(`g_random{kind="float"} ${(r() - 0.5) * 10 ** Math.floor(r() * 30 - 15)} ${omTs(tj)}`);
    gauge.push(`g_random{kind="const"} 42 ${omTs(t)}`);
    gauge.push(`g_random{kind="special"} ${specials[i % specials.length]} ${omTs(t)}`);
    if (r() < 0.6 && !(i % 240 > 200)) gauge.push(`g_random{kind="gappy"} ${Math.floor(r() * 10)} ${omTs(tj)}`);
  }
  // one sample alone in its block: a 1-sample chunk, where 2.42's bstream always leaves a spare 0x00
  gauge.push(`g_random{kind="single"} 5 ${omTs(start + 1000)}`);
  lines.push('# TYPE jitter counter', ...counter, '# TYPE g_random gauge', ...gauge, '# EOF', '');
  return lines.join('\n');
}

test.before(async () => {
  wasm = await createCore({ backend: 'wasm' });
  dir = mkdtempSync(join(tmpdir(), 'core-golden-'));
});
test.after(() => {
  if (dir && !process.env.KEEP) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log('kept', dir);
});

function makeBlocks(name: string, om: string): string {
  const omPath = join(dir, `${name}.om`);
  if (om) writeFileSync(omPath, om);
  const out = join(dir, name);
  execFileSync(PROMTOOL, ['tsdb', 'create-blocks-from', 'openmetrics', omPath, out], { stdio: 'pipe' });
  return out;
}

function check(out: string): { chunks: number; samples: number; exact: number; plusZero: number } {
  const blocks = readdirSync(out)
    .filter((d) => existsSync(join(out, d, 'meta.json')))
    .map((d) => ({ d, minTime: JSON.parse(readFileSync(join(out, d, 'meta.json'), 'utf8')).minTime as number }))
    .sort((a, b) => a.minTime - b.minTime);
  assert.ok(blocks.length >= 2, `promtool made ${blocks.length} blocks`);
  const decoded = new Map<string, { t: number[]; v: number[] }>();
  const stats = { chunks: 0, samples: 0, exact: 0, plusZero: 0 };
  for (const { d } of blocks) {
    for (const s of readBlock(join(out, d))) {
      let e = decoded.get(s.labels);
      if (!e) decoded.set(s.labels, (e = { t: [], v: [] }));
      for (const c of s.chunks) {
        assert.is(c.encoding, 1, 'XOR chunk');
        const a = js.xorDecode(c.data);
        const b = wasm.xorDecode(c.data);
        assert.is(a.n, b.n);
        assert.ok(a.n > 0);
        assert.is(a.t[0], c.mint, 'first sample at chunk mint');
        assert.is(a.t[a.n - 1], c.maxt, 'last sample at chunk maxt');
        for (let i = 0; i < a.n; i++) {
          assert.is(a.t[i], b.t[i]);
          assert.ok(Object.is(a.v[i], b.v[i]), `${s.labels} sample ${i}: ${a.v[i]} vs ${b.v[i]}`);
          e.t.push(a.t[i]);
          e.v.push(a.v[i]);
        }
        for (const core of [js, wasm]) {
          const re = core.xorEncode(a.t, a.v, a.n);
          assert.ok(chunkBytesEqual(re, c.data), `${core.backend} re-encode of ${s.labels} differs:\nours   ${hex(re)}\ntheirs ${hex(c.data)}`);
          if (re.length === c.data.length) stats.exact++;
          else stats.plusZero++;
        }
        stats.chunks++;
        stats.samples += a.n;
      }
    }
  }
  mkdirSync(join(out, 'wal'), { recursive: true }); // promtool 2.42 dump needs a wal dir
  const text = execFileSync(PROMTOOL, ['tsdb', 'dump', out], { maxBuffer: 1 << 30 }).toString();
  const dump = parseDump(text);
  assert.is(decoded.size, dump.size, 'series count');
  for (const [labels, want] of dump) {
    const got = decoded.get(labels);
    assert.ok(got, `series ${labels} missing from our decode`);
    assert.is(got.t.length, want.t.length, `${labels} sample count`);
    for (let i = 0; i < want.t.length; i++) {
      assert.is(got.t[i], want.t[i], `${labels} t[${i}]`);
      assert.ok(Object.is(got.v[i], want.v[i]) || (Number.isNaN(got.v[i]) && Number.isNaN(want.v[i])), `${labels} v[${i}] ${got.v[i]} vs dump ${want.v[i]}`);
    }
  }
  return stats;
}

test('promtool available', () => {
  assert.ok(existsSync(PROMTOOL), `${PROMTOOL} missing (apt-get install prometheus)`);
});

test('recipe counters (gen-om.js): decode == dump, re-encode == promtool bytes', () => {
  const omPath = join(dir, 'recipe.om');
  execFileSync(process.execPath, [RECIPE, omPath, '20', '8', '15', '1'], { stdio: 'pipe' });
  const st = check(makeBlocks('recipe', '')); // '' = use the file gen-om.js wrote
  assert.ok(st.samples === 20 * 8 * 240, `samples ${st.samples}`);
  assert.is(st.exact + st.plusZero, 2 * st.chunks);
  console.log('recipe', st);
});

test('jitter, random floats, constant, NaN/±Inf/-0, gaps: decode == dump, re-encode == promtool bytes', () => {
  const st = check(makeBlocks('custom', customOm(42)));
  assert.ok(st.chunks > 50);
  // 2.42's spare byte is in at least the 1-sample chunk (both backends); we follow 3.x and omit it
  assert.ok(st.plusZero >= 2, `chunks where promtool 2.42 has ours + 0x00: ${st.plusZero}`);
  assert.is(st.exact + st.plusZero, 2 * st.chunks);
  console.log('custom', st);
});

test.run();

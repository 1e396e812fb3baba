// Shared helpers for the tsdb suites: a node FsCapability, promtool runs, generated OpenMetrics.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { createJsCore } from '../../lib/core/mod.ts';

export const fs = nodeFs();
export const core = createJsCore();
export const HOUR = 3_600_000;

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `tsdb-${prefix}-`));
}

export function promtool(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync('/usr/bin/promtool', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** `promtool tsdb dump` needs a wal/ directory beside the blocks. */
export function promtoolDump(dir: string, ...flags: string[]): string {
  if (!existsSync(join(dir, 'wal'))) mkdirSync(join(dir, 'wal'));
  const r = promtool('tsdb', 'dump', ...flags, dir);
  if (r.code !== 0) throw new Error(`promtool tsdb dump failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export function blockDirsIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => /^[0-9A-Z]{26}$/.test(n)).sort().map((n) => join(dir, n));
}

/** A deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * OpenMetrics text with several families over `hours` hours from start (seconds): counters,
 * gauges with awkward floats, irregular intervals, gaps, escaped label values.
 */
export function genOpenMetrics(startMs: number, hours: number, seed = 1): string {
  const r = rng(seed);
  const lines: string[] = [];
  const end = startMs + hours * HOUR;
  const fam = (name: string, type: string, series: { labels: string; step: number; val: (i: number, t: number) => number; jitter?: boolean; gapEvery?: number }[]) => {
    lines.push(`# HELP ${name} generated ${name}`);
    lines.push(`# TYPE ${name} ${type}`);
    for (const s of series) {
      let i = 0;
      for (let t = startMs; t < end; t += s.step) {
        if (s.gapEvery && Math.floor(t / (s.gapEvery * 1000)) % 3 === 1) continue;
        const tt = s.jitter ? t + Math.floor(r() * 900) : t;
        const v = s.val(i++, tt);
        const vs = Number.isNaN(v) ? 'NaN' : v === Infinity ? '+Inf' : v === -Infinity ? '-Inf' : String(v);
        const ts = (tt / 1000).toFixed(3);
        lines.push(`${name}${s.labels} ${vs} ${ts}`);
      }
    }
  };
  let c = 0;
  fam('http_requests', 'counter', [
    { labels: '_total{code="200",job="api",instance="a:9090"}', step: 15_000, val: (i) => (c += Math.floor(r() * 10)) },
    { labels: '_total{code="500",job="api",instance="a:9090"}', step: 15_000, val: (i) => i * 2 },
    { labels: '_total{code="200",job="web",instance="b:9090"}', step: 30_000, val: (i) => (i % 50) * 1.5 },
  ]);
  fam('temperature_celsius', 'gauge', [
    { labels: '{room="kitchen",note="a \\"quoted\\" value\\\\x"}', step: 10_000, val: () => Math.round((20 + r() * 5) * 1000) / 1000, jitter: true },
    { labels: '{room="cellar",note="line\\nbreak é ☃"}', step: 60_000, val: (i) => (i % 7 === 0 ? 1e-7 * i : i % 11 === 0 ? 1.5e21 : -i / 3) },
    { labels: '{room="attic"}', step: 20_000, val: (i) => (i % 97 === 5 ? NaN : i % 89 === 3 ? Infinity : i % 83 === 7 ? -Infinity : 1234567.0 + i), gapEvery: 1800 },
  ]);
  const many: { labels: string; step: number; val: (i: number) => number }[] = [];
  for (let k = 0; k < 40; k++) many.push({ labels: `{shard="${k}",zone="${['x', 'y', 'z'][k % 3]}"}`, step: 15_000 * (1 + (k % 4)), val: (i) => i * k + 0.25 });
  fam('queue_depth', 'gauge', many);
  lines.push('# EOF');
  return lines.join('\n') + '\n';
}

/** Asserts the promise-returning fn rejects with an error matching re (message) or pred. */
export async function rejects(fn: () => Promise<unknown>, check: RegExp | ((e: unknown) => boolean), what = ''): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    const ok = check instanceof RegExp ? check.test((e as Error).message) : check(e);
    if (!ok) throw new Error(`${what} rejected with an unexpected error: ${(e as Error).message}`);
    return e as Error;
  }
  throw new Error(`${what} expected a rejection, but it resolved`);
}

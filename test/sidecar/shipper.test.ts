// lib/shipper against blocks written to a real directory (Prometheus-style meta.json, no thanos
// section) and an in-memory bucket that records the order of uploads and can be made to fail.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJsCore } from '../../lib/core/mod.ts';
import { createLogger } from '../../host/log.ts';
import { Registry } from '../../host/metrics.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { readAll, type Bucket } from '../../lib/objstore/bucket.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { BlockWriter, fsBlockSink } from '../../lib/tsdb/writer.ts';
import { parseMeta } from '../../lib/tsdb/meta.ts';
import { readShipperMeta, Shipper, ShipperError } from '../../lib/shipper/shipper.ts';

const core = createJsCore();
const fs = nodeFs();
const H = 3600_000;
const T0 = Math.floor(Date.now() / (2 * H)) * 2 * H - 10 * H;
const EXT = { cluster: 'test-cluster', replica: 'A' };
const dirs: string[] = [];

/** A bucket that logs uploads and fails on names matching `failOn`. */
class RecordingBucket extends MemoryBucket {
  log: string[] = [];
  failOn: RegExp | undefined;
  override async upload(name: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<void> {
    if (this.failOn?.test(name)) {
      if (body instanceof ReadableStream) await body.cancel();
      throw new Error(`injected failure uploading ${name}`);
    }
    this.log.push(name);
    return super.upload(name, body);
  }
}

async function writeBlock(dir: string, minTime: number, opts: { level?: number; empty?: boolean } = {}): Promise<string> {
  const maxTime = minTime + 2 * H;
  const series = [labelsFromRecord({ __name__: 'up', job: 'a' }), labelsFromRecord({ __name__: 'up', job: 'b' })];
  const symbols = new Set<string>();
  for (const s of series) for (const l of s) symbols.add(l.name).add(l.value);
  const w = await BlockWriter.create(fsBlockSink(fs, dir), [...symbols].sort(), {
    core, minTime, maxTime, ...(opts.level && opts.level > 1 ? { compaction: { level: opts.level } } : {}),
  });
  if (!opts.empty) {
    for (const [i, s] of series.entries()) {
      const n = 480;
      const t = new Float64Array(n);
      const v = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        t[k] = minTime + k * 15_000;
        v[k] = k * (i + 1);
      }
      await w.addSeries(s, t, v);
    }
  }
  const { meta } = await w.finish();
  return meta.ulid;
}

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'shipper-'));
  dirs.push(d);
  return d;
}

function mkShipper(dir: string, bucket: Bucket, opts: { compacted?: boolean; labels?: Record<string, string>; registry?: Registry; logs?: string[] } = {}) {
  const registry = opts.registry ?? new Registry();
  const logs = opts.logs ?? [];
  return {
    registry,
    logs,
    shipper: new Shipper({
      bucket, fs, dir, labels: () => opts.labels ?? EXT, source: 'sidecar', uploadCompacted: opts.compacted,
      log: createLogger({ level: 'debug', write: (l) => void logs.push(l) }), metrics: registry,
    }),
  };
}

function metric(reg: Registry, name: string): number {
  const m = new RegExp(`^${name}\\s+(\\S+)$`, 'm').exec(reg.render());
  return m ? Number(m[1]) : NaN;
}

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('uploads level-1 blocks once with a thanos section, meta.json last; state file in Thanos format', async () => {
  const dir = tmp();
  const a = await writeBlock(dir, T0);
  const b = await writeBlock(dir, T0 + 2 * H);
  const c = await writeBlock(dir, T0 + 4 * H, { level: 2 });
  // noise Prometheus keeps in its data dir: the WAL, a block being written, a partial dir
  mkdirSync(join(dir, 'wal'));
  mkdirSync(join(dir, 'chunks_head'));
  mkdirSync(join(dir, '01HZZZZZZZZZZZZZZZZZZZZZZZ.tmp-for-creation'));
  mkdirSync(join(dir, '01HYYYYYYYYYYYYYYYYYYYYYYY'));
  const bucket = new RecordingBucket();
  const { shipper, registry, logs } = mkShipper(dir, bucket);
  const r = await shipper.sync();
  assert.equal(r.uploaded, [a, b]);
  assert.equal(r.failed, []);
  assert.is(metric(registry, 'thanos_shipper_uploads_total'), 2);
  // the compacted block is not uploaded without --shipper.upload-compacted
  assert.not.ok(await bucket.exists(`${c}/meta.json`));
  for (const id of [a, b]) {
    const mine = bucket.log.filter((n) => n.startsWith(`${id}/`));
    assert.is(mine[mine.length - 1], `${id}/meta.json`, 'meta.json is uploaded last');
    assert.ok(mine.includes(`${id}/index`) && mine.includes(`${id}/chunks/000001`));
    const meta = parseMeta(await readAll(await bucket.get(`${id}/meta.json`)));
    assert.equal(meta.thanos?.labels, EXT);
    assert.is(meta.thanos?.source, 'sidecar');
    assert.is(meta.thanos?.downsample.resolution, 0);
    const files = meta.thanos?.files?.map((f) => f.rel_path);
    assert.equal(files, ['chunks/000001', 'index', 'meta.json']);
    assert.is(meta.thanos?.files?.[1]?.size_bytes, readFileSync(join(dir, id, 'index')).length);
    // the local copy is untouched
    assert.is(JSON.parse(readFileSync(join(dir, id, 'meta.json'), 'utf8')).thanos, undefined);
  }
  const state = JSON.parse(readFileSync(join(dir, 'thanos.shipper.json'), 'utf8'));
  assert.equal(state, { version: 1, uploaded: [a, b] });
  assert.ok(logs.some((l) => l.includes('upload new block') && l.includes(a)), 'progress is logged');

  // second pass and a "restarted" shipper: nothing is uploaded again
  bucket.log = [];
  assert.equal((await shipper.sync()).uploaded, []);
  const again = mkShipper(dir, bucket);
  const r2 = await again.shipper.sync();
  assert.equal(r2.uploaded, []);
  assert.is(r2.already, 2);
  assert.equal(bucket.log, []);
  assert.is(metric(again.registry, 'thanos_shipper_uploads_total'), 0);
});

test('--shipper.upload-compacted uploads compacted blocks too; a new block is picked up by the next sync', async () => {
  const dir = tmp();
  const a = await writeBlock(dir, T0, { level: 3 });
  const bucket = new RecordingBucket();
  const { shipper } = mkShipper(dir, bucket, { compacted: true });
  assert.equal((await shipper.sync()).uploaded, [a]);
  const b = await writeBlock(dir, T0 + 2 * H);
  assert.equal((await shipper.sync()).uploaded, [b]);
  assert.equal((await readShipperMeta(fs, join(dir, 'thanos.shipper.json'))).uploaded, [a, b]);
});

test('a lost or corrupt state file does not cause re-uploads (the bucket is checked)', async () => {
  const dir = tmp();
  const a = await writeBlock(dir, T0);
  const bucket = new RecordingBucket();
  await mkShipper(dir, bucket).shipper.sync();
  rmSync(join(dir, 'thanos.shipper.json'));
  bucket.log = [];
  const r = await mkShipper(dir, bucket).shipper.sync();
  assert.equal(r.uploaded, []);
  assert.equal(bucket.log, []);
  assert.equal(JSON.parse(readFileSync(join(dir, 'thanos.shipper.json'), 'utf8')).uploaded, [a]);
  writeFileSync(join(dir, 'thanos.shipper.json'), '{not json');
  const logs: string[] = [];
  const r2 = await mkShipper(dir, bucket, { logs }).shipper.sync();
  assert.equal(r2.uploaded, []);
  assert.ok(logs.some((l) => l.includes('reading shipper meta file failed') && l.includes('invalid JSON')), logs.join('\n'));
  assert.equal(JSON.parse(readFileSync(join(dir, 'thanos.shipper.json'), 'utf8')).uploaded, [a]);
});

test('a failed upload is counted, leaves no meta.json in the bucket, and is retried next sync', async () => {
  const dir = tmp();
  const a = await writeBlock(dir, T0);
  const b = await writeBlock(dir, T0 + 2 * H);
  const bucket = new RecordingBucket();
  bucket.failOn = new RegExp(`^${a}/index$`);
  const { shipper, registry } = mkShipper(dir, bucket);
  const r = await shipper.sync();
  assert.equal(r.failed, [a]);
  assert.equal(r.uploaded, [b], 'one failing block does not stop the others');
  assert.is(metric(registry, 'thanos_shipper_upload_failures_total'), 1);
  assert.not.ok(await bucket.exists(`${a}/meta.json`), 'no meta.json for a failed upload (it stays a partial block)');
  assert.equal(JSON.parse(readFileSync(join(dir, 'thanos.shipper.json'), 'utf8')).uploaded, [b]);
  bucket.failOn = undefined;
  const r2 = await shipper.sync();
  assert.equal(r2.uploaded, [a]);
  assert.is(metric(registry, 'thanos_shipper_uploads_total'), 2);
});

test('empty external labels: refused, nothing uploaded; empty blocks are skipped', async () => {
  const dir = tmp();
  await writeBlock(dir, T0);
  const bucket = new RecordingBucket();
  try {
    await mkShipper(dir, bucket, { labels: {} }).shipper.sync();
    assert.unreachable('should refuse');
  } catch (e) {
    assert.instance(e, ShipperError);
    assert.match((e as Error).message, /empty external labels/);
  }
  assert.equal(bucket.log, []);
  assert.not.ok(existsSync(join(dir, 'thanos.shipper.json')));

  const dir2 = tmp();
  await writeBlock(dir2, T0, { empty: true });
  const r = await mkShipper(dir2, bucket).shipper.sync();
  assert.equal(r.uploaded, []);
  assert.equal(bucket.log, []);
});

test('a block whose meta.json is broken is skipped with a log line, the rest ship', async () => {
  const dir = tmp();
  const a = await writeBlock(dir, T0);
  const b = await writeBlock(dir, T0 + 2 * H);
  writeFileSync(join(dir, a, 'meta.json'), '{"ulid": 5}');
  const logs: string[] = [];
  const r = await mkShipper(dir, new RecordingBucket(), { logs }).shipper.sync();
  assert.equal(r.uploaded, [b]);
  assert.ok(logs.some((l) => l.includes('skipping block with unreadable meta.json') && l.includes(a)), logs.join('\n'));
});

test.run();

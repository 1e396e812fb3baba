// Issue #10 item 10: a log field never overrides the logger's own keys (ts, level, caller, msg).
// The shipper's "upload new block" line used to print `level=1` (the block's compaction level in
// place of the log level) in the sidecar and the receiver.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../host/log.ts';
import { createJsCore } from '../../lib/core/mod.ts';
import { labelsFromRecord } from '../../lib/labels/mod.ts';
import { Shipper } from '../../lib/shipper/shipper.ts';
import { nodeFs } from '../../lib/tsdb/nodefs.ts';
import { BlockWriter, fsBlockSink } from '../../lib/tsdb/writer.ts';
import { MemoryBucket } from '../../plugins/objstore/memory/mod.ts';

/** logfmt line -> [key, value] pairs in order (values unquoted). */
function pairs(line: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
  for (let m; (m = re.exec(line)); ) out.push([m[1]!, m[2]!.startsWith('"') ? JSON.parse(m[2]!) : m[2]!]);
  return out;
}

test('logfmt: fields named ts, level, caller or msg do not replace the logger\'s own', () => {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => void lines.push(l) });
  log.info('upload new block', { level: 1, msg: 'other', ts: 5, caller: 'x.go:1', id: 'B' });
  const p = pairs(lines[0]!);
  const keys = p.map(([k]) => k);
  assert.is(keys.filter((k) => k === 'level').length, 1, lines[0]);
  assert.equal(p.find(([k]) => k === 'level'), ['level', 'info']);
  assert.equal(p.find(([k]) => k === 'msg'), ['msg', 'upload new block']);
  assert.match(p.find(([k]) => k === 'ts')![1], /^\d{4}-\d\d-\d\dT/);
  assert.equal(p.filter(([k]) => k.startsWith('fields.')), [['fields.level', '1'], ['fields.msg', 'other'], ['fields.ts', '5'], ['fields.caller', 'x.go:1']]);
  assert.equal(keys.slice(0, 4), ['ts', 'caller', 'level', 'msg'], 'the logger\'s keys keep their place');
});

test('with(): base fields cannot replace them either; json the same', () => {
  const lines: string[] = [];
  createLogger({ level: 'debug', write: (l) => void lines.push(l) }).with({ level: 'error', component: 'shipper' }).debug('x', { n: 1 });
  assert.match(lines[0]!, /^ts=\S+ caller=log-reserved\.test\.ts:\d+ level=debug fields\.level=error component=shipper msg=x n=1\n$/);
  const j: string[] = [];
  createLogger({ level: 'info', format: 'json', write: (l) => void j.push(l) }).with({ msg: 'base' }).warn('real', { level: 2, caller: 'c' });
  const rec = JSON.parse(j[0]!);
  assert.equal([rec.level, rec.msg, rec['fields.level'], rec['fields.msg'], rec['fields.caller']], ['warn', 'real', 2, 'base', 'c']);
});

test('shipper (sidecar, receive): "upload new block" keeps level=info and names compaction_level', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'log-reserved-'));
  try {
    const fs = nodeFs();
    const core = createJsCore();
    const t0 = Math.floor(Date.now() / 7_200_000) * 7_200_000 - 36_000_000;
    const series = labelsFromRecord({ __name__: 'up', job: 'a' });
    const w = await BlockWriter.create(fsBlockSink(fs, dir), ['__name__', 'a', 'job', 'up'], { core, minTime: t0, maxTime: t0 + 7_200_000 });
    const t = new Float64Array(120).map((_, i) => t0 + i * 15_000);
    await w.addSeries(series, t, new Float64Array(120).fill(1));
    const { meta } = await w.finish();
    for (const source of ['sidecar', 'receive']) {
      const lines: string[] = [];
      const shipper = new Shipper({
        bucket: new MemoryBucket(), fs, dir, labels: () => ({ cluster: 'c' }), source, metaFileName: `${source}.shipper.json`,
        log: createLogger({ level: 'info', write: (l) => void lines.push(l) }).with({ component: 'shipper' }),
      });
      const r = await shipper.sync();
      assert.equal(r.uploaded, [meta.ulid], source);
      const line = lines.find((l) => l.includes('msg="upload new block"'));
      assert.ok(line, `${source}: ${lines.join('')}`);
      const p = pairs(line!);
      assert.equal(p.filter(([k]) => k === 'level'), [['level', 'info']], `${source}: ${line}`);
      assert.equal(p.find(([k]) => k === 'compaction_level'), ['compaction_level', '1'], `${source}: ${line}`);
      assert.not.ok(p.some(([k]) => k.startsWith('fields.')), `${source}: the shipper itself uses no reserved key: ${line}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();

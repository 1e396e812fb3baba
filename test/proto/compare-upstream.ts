// Dev tool (not a test suite): compares our proto/ against upstream .proto files field by field
// (number, type, repeated, oneof) and enum values, with protobufjs.
//
//   node --import tsx test/proto/compare-upstream.ts thanos <thanos checkout>/pkg
//   node --import tsx test/proto/compare-upstream.ts prometheus <prometheus checkout>
//
// Upstream imports of gogoproto are stubbed. Last run (Thanos e103a81b, 2026-08-22): 245
// fields/values/methods across 72 definitions, 0 differences; Prometheus d15adb9a: 87 checked, only
// the post-2.42 Chunk encodings (XOR2, HISTOGRAM_ST, FLOAT_HISTOGRAM_ST), since added.
import protobuf from 'protobufjs';
import { existsSync, mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [kind, dir] = process.argv.slice(2);
if ((kind !== 'thanos' && kind !== 'prometheus') || !dir) {
  console.error('usage: compare-upstream.ts thanos <thanos>/pkg | prometheus <prometheus checkout>');
  process.exit(2);
}
const stub = mkdtempSync(join(tmpdir(), 'gogo-'));
mkdirSync(join(stub, 'gogoproto'));
writeFileSync(join(stub, 'gogoproto/gogo.proto'), 'syntax = "proto2";\npackage gogoproto;\n');
const ourDir = fileURLToPath(new URL('../../proto/', import.meta.url));

async function load(resolve: (t: string) => string, files: string[]): Promise<protobuf.Root> {
  const root = new protobuf.Root();
  root.resolvePath = (_o, t) => (t.startsWith('google/') ? t : t.startsWith('gogoproto/') ? join(stub, t) : resolve(t));
  await root.load(files, { keepCase: true });
  root.resolveAll();
  return root;
}

const theirs =
  kind === 'thanos'
    ? await load((t) => join(dir, t), ['store/storepb/rpc.proto', 'info/infopb/rpc.proto', 'store/storepb/prompb/remote.proto', 'store/hintspb/hints.proto'])
    : await load((t) => (existsSync(join(dir, 'prompb', t)) ? join(dir, 'prompb', t) : join(dir, t)), ['prompb/remote.proto']);
const ours = await load((t) => ourDir + t, ['thanos/store.proto', 'thanos/info.proto', 'prometheus/remote.proto', 'thanos/hints.proto']);

const defs: Array<protobuf.Type | protobuf.Enum | protobuf.Service> = [];
const walk = (ns: protobuf.NamespaceBase) => {
  for (const n of ns.nestedArray) {
    if (n instanceof protobuf.Type || n instanceof protobuf.Enum || n instanceof protobuf.Service) defs.push(n);
    if (n instanceof protobuf.Namespace || n instanceof protobuf.Type) walk(n as protobuf.NamespaceBase);
  }
};
walk(theirs);
let problems = 0;
let checked = 0;
const typeName = (f: protobuf.Field) => (f.resolvedType ? f.resolvedType.name : f.type);
for (const t of defs) {
  const name = t.fullName.replace(/^\.prometheus_copy\./, '.prometheus.').slice(1);
  const o = ours.lookup(name);
  if (!o) {
    console.log(`missing in ours: ${name}`);
    problems++;
    continue;
  }
  if (t instanceof protobuf.Type && o instanceof protobuf.Type) {
    for (const f of t.fieldsArray) {
      checked++;
      const g = o.fields[f.name];
      if (!g) {
        console.log(`field missing: ${name}.${f.name} = ${f.id}`);
        problems++;
      } else if (g.id !== f.id || typeName(g) !== typeName(f) || g.repeated !== f.repeated || !!g.partOf !== !!f.partOf) {
        console.log(`differs: ${name}.${f.name}: upstream ${f.id} ${typeName(f)}${f.repeated ? '[]' : ''}; ours ${g.id} ${typeName(g)}${g.repeated ? '[]' : ''}`);
        problems++;
      }
    }
  } else if (t instanceof protobuf.Enum && o instanceof protobuf.Enum) {
    for (const [k, v] of Object.entries(t.values)) {
      checked++;
      if (o.values[k] !== v) {
        console.log(`enum differs: ${name}.${k}: upstream ${v}, ours ${o.values[k]}`);
        problems++;
      }
    }
  } else if (t instanceof protobuf.Service && o instanceof protobuf.Service) {
    for (const m of t.methodsArray) {
      checked++;
      const om = o.methods[m.name];
      if (!om || om.requestType.split('.').pop() !== m.requestType.split('.').pop() || om.responseType.split('.').pop() !== m.responseType.split('.').pop() || !!om.responseStream !== !!m.responseStream) {
        console.log(`method differs or missing: ${name}/${m.name}`);
        problems++;
      }
    }
  }
}
console.log(`checked ${checked} fields/values/methods across ${defs.length} definitions; differences: ${problems}`);
process.exitCode = problems === 0 ? 0 : 1;

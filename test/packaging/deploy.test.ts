// deploy/: the Kubernetes manifests (kustomize layout) validated offline against the Kubernetes
// schemas (kubernetes-models) and for consistency (selectors, volumes, referenced ConfigMaps and
// Secrets, the receive hashring); the systemd units with systemd-analyze; the Dockerfile's shape.
// Every `thanos` command line in them must parse with our own CLI (no unknown or refused flag).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import * as k8s from 'kubernetes-models';
import { parseCommandLine } from '../../host/cli.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const KDIR = path.join(ROOT, 'deploy/kubernetes');
const SDIR = path.join(ROOT, 'deploy/systemd');

type Obj = Record<string, any>;

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** The rendered kustomization: `kubectl kustomize` when installed, else its resources in order. */
function rendered(): Obj[] {
  let text: string;
  if (has('kubectl')) {
    const r = spawnSync('kubectl', ['kustomize', KDIR], { encoding: 'utf8' });
    assert.is(r.status, 0, r.stderr);
    text = r.stdout;
  } else {
    const k = parseAllDocuments(fs.readFileSync(path.join(KDIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Obj;
    text = (k.resources as string[]).map((f) => fs.readFileSync(path.join(KDIR, f), 'utf8')).join('\n---\n');
  }
  return parseAllDocuments(text).map((d) => {
    assert.equal(d.errors, [], String(d.errors));
    return d.toJS() as Obj;
  }).filter((o) => o);
}

/** The kubernetes-models class of apiVersion/kind, e.g. apps/v1 StatefulSet. */
function modelOf(o: Obj): { new (x: Obj): { validate(): void } } {
  const [group, version] = String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/') : ['', o.apiVersion];
  const ns = (k8s as Obj)[group ? group.replace(/\.k8s\.io$/, '').replace(/\./g, '_') : 'v1'];
  const cls = group ? ns?.[version!]?.[o.kind] : (k8s as Obj).v1?.[o.kind];
  assert.ok(cls, `no schema for ${o.apiVersion} ${o.kind}`);
  return cls;
}

async function checkThanosArgs(args: string[], where: string): Promise<void> {
  const inv = await parseCommandLine(args).catch((e: Error) => { throw new Error(`${where}: ${args.join(' ')}: ${e.message}`); });
  assert.ok(inv.kind === 'component' || inv.kind === 'tool', `${where}: ${inv.kind}`);
}

const objects = rendered();
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);

test('kubernetes: every object validates against its schema', () => {
  assert.ok(objects.length >= 10, `${objects.length} objects`);
  for (const o of objects) {
    const Model = modelOf(o);
    try {
      new Model(o).validate();
    } catch (e) {
      assert.unreachable(`${o.kind}/${o.metadata?.name}: ${(e as Error).message}`);
    }
    if (o.kind !== 'Namespace') assert.is(o.metadata.namespace, 'monitoring', `${o.kind}/${o.metadata.name}`);
  }
});

test('kubernetes: the reference deployment is there (sidecar beside Prometheus, store, query, compact singleton, receive with hashring)', () => {
  const sts = (name: string): Obj => byKind('StatefulSet').find((s) => s.metadata.name === name)!;
  const prom = sts('prometheus');
  assert.equal(prom.spec.template.spec.containers.map((c: Obj) => c.name), ['prometheus', 'thanos-sidecar']);
  assert.ok(sts('thanos-store'));
  assert.ok(byKind('Deployment').find((d) => d.metadata.name === 'thanos-query'));
  assert.is(sts('thanos-compact').spec.replicas, 1);
  const receive = sts('thanos-receive');
  const ring = JSON.parse(byKind('ConfigMap').find((c) => c.metadata.name === 'thanos-receive-hashring')!.data['hashrings.json']);
  assert.is(ring[0].endpoints.length, receive.spec.replicas, 'one hashring endpoint per receive replica');
  ring[0].endpoints.forEach((e: string, i: number) => assert.is(e, `thanos-receive-${i}.thanos-receive.monitoring.svc.cluster.local:10901`));
});

test('kubernetes: selectors match pod labels; volumes, ConfigMaps, Secrets and Services resolve', async () => {
  const names = (kind: string) => new Set(byKind(kind).map((o) => o.metadata.name));
  for (const w of [...byKind('StatefulSet'), ...byKind('Deployment')]) {
    const where = `${w.kind}/${w.metadata.name}`;
    for (const [k, v] of Object.entries(w.spec.selector.matchLabels)) assert.is(w.spec.template.metadata.labels[k], v, where);
    if (w.kind === 'StatefulSet') assert.ok(names('Service').has(w.spec.serviceName), `${where}: serviceName`);
    const pod = w.spec.template.spec;
    const vols = new Set([...(pod.volumes ?? []).map((v: Obj) => v.name), ...(w.spec.volumeClaimTemplates ?? []).map((v: Obj) => v.metadata.name)]);
    for (const v of pod.volumes ?? []) {
      if (v.configMap) assert.ok(names('ConfigMap').has(v.configMap.name), `${where}: configMap ${v.configMap.name}`);
      if (v.secret) assert.ok(names('Secret').has(v.secret.secretName), `${where}: secret ${v.secret.secretName}`);
    }
    for (const c of pod.containers) {
      for (const m of c.volumeMounts ?? []) assert.ok(vols.has(m.name), `${where}: ${c.name} mounts unknown volume ${m.name}`);
      if (c.image.startsWith('thanos-ts')) {
        assert.ok(c.securityContext?.allowPrivilegeEscalation === false, `${where}: ${c.name} privilege escalation`);
        await checkThanosArgs(c.args, `${where} ${c.name}`);
      }
    }
    assert.ok(pod.securityContext?.runAsNonRoot, `${where}: runAsNonRoot`);
  }
  for (const s of byKind('Service')) {
    const sel = s.spec.selector;
    assert.ok([...byKind('StatefulSet'), ...byKind('Deployment')].some((w) => Object.entries(sel).every(([k, v]) => w.spec.template.metadata.labels[k] === v)), `Service/${s.metadata.name} selects nothing`);
  }
});

test('kubernetes: a broken manifest fails the schema check (the check can fail)', () => {
  const bad = structuredClone(byKind('Deployment')[0]!);
  bad.spec.template.spec.containers[0].ports[0].containerPort = 'http';
  assert.throws(() => new (modelOf(bad))(bad).validate(), /containerPort/);
});

const units = fs.readdirSync(SDIR).filter((f) => f.endsWith('.service'));

test('systemd: one unit per component, hardened, each ExecStart a valid thanos command line', async () => {
  for (const c of ['sidecar', 'store', 'query', 'compact', 'receive', 'rule', 'query-frontend', 'bucket-web']) assert.ok(units.includes(`thanos-${c}.service`), c);
  for (const u of units) {
    const text = fs.readFileSync(path.join(SDIR, u), 'utf8');
    for (const k of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'CapabilityBoundingSet=', 'RestrictAddressFamilies=', 'SystemCallFilter=@system-service', 'User=thanos']) {
      assert.ok(text.includes(`\n${k}`), `${u}: ${k}`);
    }
    const exec = /^ExecStart=\/usr\/bin\/node \/opt\/thanos\/bin\/thanos\.mjs (.*) \$THANOS_ARGS$/m.exec(text);
    assert.ok(exec, `${u}: ExecStart`);
    await checkThanosArgs(exec![1]!.split(' ').map((a) => a.replace(/^(--[^=]+=)"(.*)"$/, '$1$2').replace(/\\"/g, '"')), u);
  }
});

test('systemd: systemd-analyze verify reports nothing for any unit', () => {
  if (!has('systemd-analyze')) { console.log('systemd-analyze not installed: skipped'); return; }
  for (const u of units) {
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', path.join(SDIR, u)], { encoding: 'utf8' });
    // Unknown keys are only warnings (exit 0): any output at all fails.
    assert.is(`${r.stdout}${r.stderr}`.trim(), '', u);
    assert.is(r.status, 0, u);
  }
});

test('Dockerfile: multi-stage, WASM and dist built in the image, non-root runtime, context files exist', () => {
  const text = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile'), 'utf8');
  const stages = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];
  assert.ok(stages.length >= 2, 'multi-stage');
  const runtime = text.slice(stages[stages.length - 1]!.index);
  assert.match(text, /npm run build:wasm/);
  assert.match(text, /node scripts\/build\.mjs/);
  assert.match(runtime, /^USER\s+(?!0\b|root\b)\S+/m);
  assert.not.match(runtime, /^RUN\b/m, 'the runtime stage runs nothing at build time (distroless: no shell)');
  assert.match(runtime, /ENTRYPOINT \[".*node", "\/app\/bin\/thanos\.mjs"\]/);
  for (const m of text.matchAll(/^COPY\s+(?!--from)(.+)\s+\S+$/gm)) {
    for (const src of m[1]!.trim().split(/\s+/).filter((s) => !s.startsWith('--'))) {
      assert.ok(src === '.' || fs.existsSync(path.join(ROOT, src)), `COPY ${src}: not in the repository`);
    }
  }
  const ignore = fs.readFileSync(path.join(ROOT, 'deploy/Dockerfile.dockerignore'), 'utf8').split('\n');
  for (const p of ['node_modules', 'dist', '.git', 'wasm/build']) assert.ok(ignore.includes(p), `dockerignore ${p}`);
});

test.run();

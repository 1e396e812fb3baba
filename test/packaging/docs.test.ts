// The documentation is run, not just read: every flag in a docs/components/*.md flag table exists
// in that component's --help with the default the table shows; every `thanos` command in a `sh`
// block of the component pages, the operator's guide and the README's first block is run when it
// is a --help/--version form, started when it is the all-in-one `thanos run -c plugins.yaml`, and
// otherwise parsed by our command line (unknown or refused flags fail).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCommandLine } from '../../host/cli.ts';
import { main } from '../../host/main.ts';
import { ROOT, startStack } from './aio.ts';

const COMPONENTS = path.join(ROOT, 'docs/components');
const pages = fs.readdirSync(COMPONENTS).filter((f) => f.endsWith('.md') && f !== 'README.md');

/** `thanos <args>` as a process (the published entry point). */
function thanosProcess(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/thanos.mjs'), ...args], { encoding: 'utf8', cwd: ROOT, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `thanos <args>` for a help or version form, through the same main() in this process (a process
 * per command costs seconds each on a loaded machine; main() only prints for these forms).
 */
async function thanos(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const [out, err] = [process.stdout.write, process.stderr.write];
  process.stdout.write = ((c: string | Uint8Array) => { stdout += String(c); return true; }) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => { stderr += String(c); return true; }) as typeof process.stderr.write;
  try {
    return { status: await main(args), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** Splits a shell command line into words ('…' and "…" quoting, no expansion). */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  let cur = '', quote = '', any = false;
  for (const c of line) {
    if (quote) {
      if (c === quote) quote = '';
      else cur += c;
    } else if (c === "'" || c === '"') { quote = c; any = true; } else if (/\s/.test(c)) {
      if (cur || any) out.push(cur);
      cur = ''; any = false;
    } else cur += c;
  }
  if (cur || any) out.push(cur);
  return out;
}

/** The `thanos …` argument lists of the sh blocks of a markdown file (README: its first block only). */
function documentedCommands(file: string, firstBlockOnly = false): string[][] {
  const text = fs.readFileSync(file, 'utf8');
  const blocks = [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const out: string[][] = [];
  for (const block of firstBlockOnly ? blocks.slice(0, 1) : blocks) {
    for (const raw of block.split('\n')) {
      for (const part of raw.replace(/\s+#.*$/, '').split('&&')) {
        const words = shellWords(part.trim());
        const at = words.findIndex((w, i) => w === 'thanos' || (w.endsWith('bin/thanos.mjs') && i > 0));
        if (at >= 0) out.push(words.slice(at + 1));
      }
    }
  }
  return out;
}

test('every flag of the component pages exists in --help, with the documented default', async () => {
  let rows = 0;
  for (const page of pages.filter((p) => p !== 'tools.md')) {
    const component = page.replace(/\.md$/, '');
    const help = await thanos([component, '--help']);
    assert.is(help.status, 0, `${component} --help: ${help.stderr}`);
    const lines = help.stdout.split('\n');
    for (const m of fs.readFileSync(path.join(COMPONENTS, page), 'utf8').matchAll(/^\| `--([\w.-]+)` \| ([^|]+?) \|/gm)) {
      rows++;
      const [, flag, def] = m as unknown as [string, string, string];
      const line = lines.find((l) => new RegExp(`^\\s+(-\\w, )?--(\\[no-\\])?${flag.replace(/\./g, '\\.')}[= ]`).test(l));
      assert.ok(line, `${page}: --${flag} is not in thanos ${component} --help`);
      if (def !== '—') assert.ok(line!.includes(`(default: ${def})`), `${page}: --${flag} default ${def}, --help says: ${line!.trim()}`);
    }
  }
  assert.ok(rows >= 40, `${rows} flag rows checked`);
});

const docs = [
  ...pages.map((p) => ({ file: path.join(COMPONENTS, p), first: false })),
  { file: path.join(ROOT, 'docs/operator-guide.md'), first: false },
  { file: path.join(ROOT, 'README.md'), first: true },
];
const commands = docs.flatMap((d) => documentedCommands(d.file, d.first).map((args) => ({ args, where: path.relative(ROOT, d.file) })));

test('documented --help and --version commands run and print (the first also as a process)', async () => {
  const runs = commands.filter((c) => c.args.includes('--help') || c.args.includes('--version'));
  assert.ok(runs.length >= 10, `${runs.length} commands`);
  const p = thanosProcess(runs[0]!.args);
  assert.is(p.status, 0, p.stderr);
  assert.is(p.stdout, (await thanos(runs[0]!.args)).stdout);
  for (const c of runs) {
    const r = await thanos(c.args);
    assert.is(r.status, 0, `${c.where}: thanos ${c.args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stdout.length > 50, `${c.where}: thanos ${c.args.join(' ')} printed ${JSON.stringify(r.stdout)}`);
  }
});

test('every other documented command line parses (flags exist, none refused)', async () => {
  const rest = commands.filter((c) => !c.args.includes('--help') && !c.args.includes('--version') && c.args[0] !== 'run');
  assert.ok(rest.length >= 8, `${rest.length} commands`);
  for (const c of rest) {
    const inv = await parseCommandLine(c.args).catch((e: Error) => e);
    assert.not.instance(inv, Error, `${c.where}: thanos ${c.args.join(' ')}: ${(inv as Error).message}`);
    assert.ok(['component', 'tool'].includes((inv as { kind: string }).kind), `${c.where}: ${c.args.join(' ')}`);
  }
});

test('the documented all-in-one start (thanos run -c plugins.yaml) comes up', async () => {
  const runs = commands.filter((c) => c.args[0] === 'run');
  assert.ok(runs.some((c) => c.where === 'README.md'), 'the README starts the all-in-one stack');
  for (const c of runs) {
    if (!(c.args[2] === 'plugins.yaml' || c.args[2] === 'deploy/edge/plugins.yaml')) assert.unreachable(`${c.where}: unknown manifest ${c.args[2]}`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'thanos-docs-aio-'));
  const stack = await startStack(work, [process.execPath, path.join(ROOT, 'bin/thanos.mjs')]);
  try {
    const stores = await (await fetch(`${stack.queryUrl}/api/v1/stores`)).json() as { status: string };
    assert.is(stores.status, 'success');
  } finally {
    await stack.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
});

test.run();

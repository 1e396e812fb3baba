// `thanos tools rules-check --rules <glob>…` (older spelling: `thanos check rules <file>…`): checks
// Prometheus rule files the way `promtool check rules` does and prints its report:
//   Checking rules.yml
//     SUCCESS: 2 rules found
// or `  FAILED:` and one error per line (on stderr). Exit 1 if any file failed, 2 on usage errors.
// Thanos's groups[].partial_response_strategy is accepted (promtool rejects it).
import { refuseUnusedCommonFlags, type ComponentContext, type TextOut, type ToolCommand } from '../../../lib/sdk/mod.ts';
import { glob, parseRuleFile } from '../../../lib/rules/mod.ts';
import { parseArgs, UsageError } from './args.ts';

function out(ctx: ComponentContext, which: 'stdout' | 'stderr'): TextOut {
  const t = ctx[which];
  if (t) return t;
  const c = globalThis.console;
  return { write: (s: string) => (which === 'stdout' ? c.log(s.replace(/\n$/, '')) : c.error(s.replace(/\n$/, ''))) };
}

/** Checks every file matched by the patterns; returns the number of failed files (or unmatched patterns). */
export async function checkRules(ctx: ComponentContext, patterns: string[], stdout: TextOut, stderr: TextOut): Promise<number> {
  let failed = 0;
  for (const pattern of patterns) {
    let files: string[];
    try {
      files = await glob(ctx.fs, pattern);
    } catch (e) {
      await stderr.write(`Checking ${pattern}\n  FAILED:\n${(e as Error).message}\n\n`);
      failed++;
      continue;
    }
    if (files.length === 0) {
      await stdout.write(`Checking ${pattern}\n`);
      await stderr.write(`  FAILED:\n${pattern}: matching file not found\n\n`);
      failed++;
      continue;
    }
    for (const f of files) {
      await stdout.write(`Checking ${f}\n`);
      let src: string;
      try {
        src = new TextDecoder('utf-8', { fatal: true }).decode(await ctx.fs.readFile(ctx.fs.resolve(f)));
      } catch (e) {
        await stderr.write(`  FAILED:\n${f}: ${(e as Error).message}\n\n`);
        failed++;
        continue;
      }
      const r = parseRuleFile(f, src);
      if (r.errors.length > 0) {
        await stderr.write(`  FAILED:\n${r.errors.join('\n')}\n\n`);
        failed++;
        continue;
      }
      const n = r.groups.reduce((a, g) => a + g.rules.length, 0);
      await stdout.write(`  SUCCESS: ${n} rules found\n\n`);
    }
  }
  return failed;
}

export const rulesCheck: ToolCommand = {
  name: 'rules-check',
  help: 'Check whether the rule files are valid (like promtool check rules): prints SUCCESS/FAILED per file, exits 1 on any error.',
  flags: [{ name: 'rules', key: 'rules', type: 'strings', help: 'The rule files glob to check (repeated).' }, ...refuseUnusedCommonFlags('thanos tools rules-check', [])],
  async run(ctx, argv) {
    const stdout = out(ctx, 'stdout');
    const stderr = out(ctx, 'stderr');
    try {
      const p = parseArgs(argv, { rules: false });
      const patterns = [...(p.flags.get('rules') ?? []), ...p.positionals];
      if (patterns.length === 0) throw new UsageError('usage: thanos tools rules-check --rules=<glob> [--rules=<glob>…] (or: thanos check rules <file>…)');
      return (await checkRules(ctx, patterns, stdout, stderr)) > 0 ? 1 : 0;
    } catch (e) {
      await stderr.write(`error: ${(e as Error).message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
  },
};

export const rulesCommands: ToolCommand[] = [rulesCheck];

// Loading rule files: --rule-file globs expanded over the fs capability, every file parsed, all
// problems reported together.
import type { FsCapability } from '../sdk/mod.ts';
import { glob } from './glob.ts';
import { parseRuleFile, RuleFileError, type RuleGroup } from './parse.ts';

/** Expands --rule-file globs and parses every file; throws RuleFileError listing all problems. */
export async function loadRuleFiles(ctx: { fs: FsCapability }, patterns: string[]): Promise<RuleGroup[]> {
  const groups: RuleGroup[] = [];
  const errors: string[] = [];
  const files = new Set<string>();
  for (const p of patterns) for (const f of await glob(ctx.fs, p)) files.add(ctx.fs.resolve(f));
  for (const f of [...files].sort()) {
    let src: string;
    try {
      src = new TextDecoder('utf-8', { fatal: true }).decode(await ctx.fs.readFile(f));
    } catch (e) {
      errors.push(`${f}: ${(e as Error).message}`);
      continue;
    }
    const r = parseRuleFile(f, src);
    errors.push(...r.errors);
    groups.push(...r.groups);
  }
  if (errors.length > 0) throw new RuleFileError(patterns.join(','), errors);
  return groups;
}

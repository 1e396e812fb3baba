// Minimal argv parsing for tool commands: positionals plus --flag=value / --flag value, with
// repeatable flags. Unknown flags are errors that name the flag.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string[]>;
}

/** Flags the host handles for every command (it already parsed them); tools skip them. */
const HOST_VALUE_FLAGS = new Set(['http-address', 'http-grace-period', 'grpc-address', 'grpc-grace-period', 'objstore.config-file', 'objstore.config', 'log.level', 'log.format', 'data-dir']);

/** known: flag name → true when it is boolean (takes no value). */
export function parseArgs(argv: readonly string[], known: Record<string, boolean>): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!a.startsWith('--') || a === '-') { positionals.push(a); continue; }
    const eq = a.indexOf('=');
    let name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
    let negate = false;
    if (!(name in known) && name.startsWith('no-') && known[name.slice(3)] === true) { name = name.slice(3); negate = true; }
    if (!(name in known) && HOST_VALUE_FLAGS.has(name)) {
      if (value === undefined) i++;
      continue;
    }
    if (!(name in known)) throw new UsageError(`unknown flag --${name}`);
    if (known[name]) value = negate ? 'false' : value ?? 'true';
    else if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`flag --${name} needs a value`);
      value = argv[++i]!;
    }
    const list = flags.get(name) ?? [];
    list.push(value);
    flags.set(name, list);
  }
  return { positionals, flags };
}

export function intFlag(p: ParsedArgs, name: string): number | undefined {
  const v = p.flags.get(name)?.at(-1);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw new UsageError(`--${name}: expected an integer (milliseconds), got ${JSON.stringify(v)}`);
  return Number(v);
}

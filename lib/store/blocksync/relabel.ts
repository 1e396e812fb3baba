// Prometheus relabelling over a label map, as used by --selector.relabel-config (block sharding on
// external labels and __block_id). Actions: replace, keep, drop, hashmod, labelmap, labeldrop,
// labelkeep, keepequal, dropequal, lowercase, uppercase. Regexes are RE2, anchored (lib/labels/regex.ts).
import { parse as parseYaml } from '../../cjs/yaml.ts';
import { compileRegex, type Regex } from '../../labels/mod.ts';
import { md5 } from '../../hash/md5.ts';

export type RelabelAction = 'replace' | 'keep' | 'drop' | 'hashmod' | 'labelmap' | 'labeldrop' | 'labelkeep' | 'keepequal' | 'dropequal' | 'lowercase' | 'uppercase';
const ACTIONS = new Set<RelabelAction>(['replace', 'keep', 'drop', 'hashmod', 'labelmap', 'labeldrop', 'labelkeep', 'keepequal', 'dropequal', 'lowercase', 'uppercase']);

export interface RelabelConfig {
  sourceLabels: string[];
  separator: string;
  regex: Regex;
  regexSrc: string;
  modulus: number;
  targetLabel: string;
  replacement: string;
  action: RelabelAction;
}

export class RelabelConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RelabelConfigError';
  }
}

const KNOWN = new Set(['source_labels', 'separator', 'regex', 'modulus', 'target_label', 'replacement', 'action']);

/** Parses a YAML (or already parsed) list of relabel configs. Unknown keys and bad values are errors. */
export function parseRelabelConfigs(input: string | unknown): RelabelConfig[] {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      raw = parseYaml(input);
    } catch (e) {
      throw new RelabelConfigError(`relabel config is not valid YAML: ${(e as Error).message}`);
    }
  }
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw new RelabelConfigError('relabel config must be a list');
  return raw.map((item, i) => parseOne(item, i));
}

function parseOne(item: unknown, i: number): RelabelConfig {
  const where = `relabel config [${i}]`;
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new RelabelConfigError(`${where}: must be a mapping`);
  const o = item as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KNOWN.has(k)) throw new RelabelConfigError(`${where}: unknown field ${JSON.stringify(k)}`);
  const action = String(o.action ?? 'replace').toLowerCase() as RelabelAction;
  if (!ACTIONS.has(action)) throw new RelabelConfigError(`${where}: unknown relabel action ${JSON.stringify(o.action)}`);
  const sl = o.source_labels ?? [];
  if (!Array.isArray(sl) || sl.some((s) => typeof s !== 'string')) throw new RelabelConfigError(`${where}: source_labels must be a list of strings`);
  const regexSrc = o.regex === undefined ? '(.*)' : String(o.regex);
  let regex: Regex;
  try {
    regex = compileRegex(regexSrc);
  } catch (e) {
    throw new RelabelConfigError(`${where}: invalid regex: ${(e as Error).message}`);
  }
  const modulus = o.modulus === undefined ? 0 : Number(o.modulus);
  if (!Number.isInteger(modulus) || modulus < 0) throw new RelabelConfigError(`${where}: modulus must be a non-negative integer`);
  const c: RelabelConfig = {
    sourceLabels: sl as string[],
    separator: o.separator === undefined ? ';' : String(o.separator),
    regex,
    regexSrc,
    modulus,
    targetLabel: o.target_label === undefined ? '' : String(o.target_label),
    replacement: o.replacement === undefined ? '$1' : String(o.replacement),
    action,
  };
  if (action === 'hashmod' && c.modulus === 0) throw new RelabelConfigError(`${where}: relabel configuration for hashmod requires non-zero modulus`);
  if ((action === 'replace' || action === 'hashmod' || action === 'lowercase' || action === 'uppercase' || action === 'keepequal' || action === 'dropequal') && !c.targetLabel) {
    throw new RelabelConfigError(`${where}: relabel configuration for ${action} action requires 'target_label' value`);
  }
  if ((action === 'keep' || action === 'drop') && c.sourceLabels.length === 0) {
    throw new RelabelConfigError(`${where}: relabel configuration for ${action} action requires 'source_labels' value`);
  }
  return c;
}

const enc = new TextEncoder();

/** Applies configs in order; returns the new label map or null when the target is dropped. */
export function relabel(labels: Record<string, string>, configs: readonly RelabelConfig[]): Record<string, string> | null {
  let ls: Record<string, string> = { ...labels };
  for (const c of configs) {
    const val = c.sourceLabels.map((n) => ls[n] ?? '').join(c.separator);
    switch (c.action) {
      case 'drop':
        if (c.regex.test(val)) return null;
        break;
      case 'keep':
        if (!c.regex.test(val)) return null;
        break;
      case 'keepequal':
        if (val !== (ls[c.targetLabel] ?? '')) return null;
        break;
      case 'dropequal':
        if (val === (ls[c.targetLabel] ?? '')) return null;
        break;
      case 'replace': {
        const m = c.regex.exec(val);
        if (!m) break;
        const target = c.regex.expand(c.targetLabel, m);
        const res = c.regex.expand(c.replacement, m);
        if (!target) break;
        if (res === '') delete ls[target];
        else ls[target] = res;
        break;
      }
      case 'lowercase':
        ls[c.targetLabel] = val.toLowerCase();
        break;
      case 'uppercase':
        ls[c.targetLabel] = val.toUpperCase();
        break;
      case 'hashmod': {
        // Prometheus: the last 8 bytes of md5(value), big-endian uint64, modulo the modulus.
        const h = md5(enc.encode(val));
        const dv = new DataView(h.buffer);
        const u = (BigInt(dv.getUint32(8)) << 32n) | BigInt(dv.getUint32(12));
        ls[c.targetLabel] = String(u % BigInt(c.modulus));
        break;
      }
      case 'labelmap': {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(ls)) {
          const m = c.regex.exec(k);
          if (m) out[c.regex.expand(c.replacement, m)] = v;
        }
        ls = { ...ls, ...out };
        break;
      }
      case 'labeldrop':
        for (const k of Object.keys(ls)) if (c.regex.test(k)) delete ls[k];
        break;
      case 'labelkeep':
        for (const k of Object.keys(ls)) if (!c.regex.test(k)) delete ls[k];
        break;
    }
  }
  return ls;
}

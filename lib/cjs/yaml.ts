// The yaml package (CommonJS), loaded with require instead of import. Every module takes yaml from
// here: if one `import ... from 'yaml'` remains, the gain below is lost (see lib/cjs/require.ts).
import type * as Yaml from 'yaml';
import { requireCjs } from './require.ts';

const yaml = requireCjs<typeof Yaml>('yaml');

export const { parse, stringify, parseDocument, LineCounter, isMap, isScalar, isSeq } = yaml;
// The classes are types too.
export type LineCounter = Yaml.LineCounter;
export type { Node, Pair, YAMLMap } from 'yaml';

// Glue between the codecs generated from proto/ (lib/proto/gen, @bufbuild/protobuf) and the
// plain shapes the rest of the code uses (int64 as number milliseconds, Label {name, value}).
// Cold-path codecs (Info, LabelNames/LabelValues, metadata, targets, remote-read request) are
// written with these; the hot paths keep the hand-written codecs (README.md).
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { configureTextEncoding, getTextEncoding } from '@bufbuild/protobuf/wire';
import type { Label, Matcher, MatchType } from '../labels/mod.ts';
import type { AnyMessage } from './common.ts';
import { ProtobufError } from './wire.ts';

// proto3 strings: @bufbuild/protobuf throws on invalid UTF-8 (as Go does); the hand-written
// decoders substitute U+FFFD. Keep one behaviour for both: lenient decoding. (Process-wide
// setting of @bufbuild/protobuf, which only these codecs use.)
{
  const te = getTextEncoding();
  configureTextEncoding({ encodeUtf8: te.encodeUtf8, checkUtf8: te.checkUtf8, decodeUtf8: (bytes) => te.decodeUtf8(bytes, false) });
}

const MAX_I64 = 0x7fffffffffffffffn;
const MIN_I64 = -0x8000000000000000n;

/** number -> int64: doubles at or past ±2^63 become MaxInt64/MinInt64 (as wire.ts Writer.int64). */
export function toInt64(v: number): bigint {
  if (v >= 2 ** 63) return MAX_I64;
  if (v <= -(2 ** 63)) return MIN_I64;
  if (Number.isNaN(v)) throw new ProtobufError('cannot encode NaN as an integer');
  return BigInt(Math.trunc(v));
}

/** int64 -> number (exact below 2^53; MaxInt64 becomes 2^63 as a double, as wire.ts Reader.int64). */
export const fromInt64 = (v: bigint): number => Number(v);

export const labelsToGen = (ls: readonly Label[]) => ls.map((l) => ({ name: l.name, value: l.value }));
export const labelsFromGen = (ls: ReadonlyArray<{ name: string; value: string }>): Label[] => ls.map((l) => ({ name: l.name, value: l.value }));

/** Encodes with a generated schema. */
export function encodeGen<D extends DescMessage>(schema: D, init: MessageInitShape<D>): Uint8Array {
  return toBinary(schema, create(schema, init));
}

/** Decodes with a generated schema; malformed input raises ProtobufError like the hand-written decoders. */
export function decodeGen<D extends DescMessage>(schema: D, buf: Uint8Array): MessageShape<D> {
  try {
    return fromBinary(schema, buf, { readUnknownFields: false });
  } catch (e) {
    throw new ProtobufError(`${schema.typeName}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const MATCH_TYPES: readonly MatchType[] = ['=', '!=', '=~', '!~'];
const MATCH_NUMBERS: Record<MatchType, number> = { '=': 0, '!=': 1, '=~': 2, '!~': 3 };

/** thanos.LabelMatcher / prometheus.LabelMatcher (same numbers: EQ=0 NEQ=1 RE=2 NRE=3). */
export const matchersToGen = (ms: readonly Matcher[]) => ms.map((m) => ({ type: MATCH_NUMBERS[m.type], name: m.name, value: m.value }));

/** Unknown matcher types are refused, as wire.ts readMatcher does. */
export function matchersFromGen(ms: ReadonlyArray<{ type: number; name: string; value: string }>): Matcher[] {
  return ms.map((m) => {
    const type = MATCH_TYPES[m.type];
    if (type === undefined) throw new ProtobufError(`unknown label matcher type ${m.type}`);
    return { type, name: m.name, value: m.value };
  });
}

export const anyToGen = (a: AnyMessage | undefined) => (a ? { typeUrl: a.typeUrl, value: a.value } : undefined);
export const anyFromGen = (a: { typeUrl: string; value: Uint8Array }): AnyMessage => ({ typeUrl: a.typeUrl, value: a.value });

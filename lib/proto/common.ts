// Shared pieces of the Thanos/Prometheus messages: labels (thanos.Label and prometheus.Label are the
// same on the wire: name=1, value=2), label sets, and google.protobuf.Any.
import type { Label } from '../labels/mod.ts';
import { ProtobufError, Reader, Writer, WIRE_LEN, sizeString, sizeVarint32 } from './wire.ts';

export type { Label } from '../labels/mod.ts';

/** google.protobuf.Any: type_url=1, value=2. */
export interface AnyMessage {
  typeUrl: string;
  value: Uint8Array;
}

export function sizeLabel(l: Label): number {
  let n = 0;
  if (l.name.length > 0) n += 1 + sizeString(l.name);
  if (l.value.length > 0) n += 1 + sizeString(l.value);
  return n;
}

/** Writes label fields (without the enclosing tag/length). */
export function writeLabelBody(w: Writer, l: Label): void {
  if (l.name.length > 0) {
    w.byte(0x0a);
    w.string(l.name);
  }
  if (l.value.length > 0) {
    w.byte(0x12);
    w.string(l.value);
  }
}

/** Writes `repeated Label <field>`. */
export function writeLabels(w: Writer, field: number, ls: readonly Label[]): void {
  const tag = (field << 3) | WIRE_LEN;
  for (let i = 0; i < ls.length; i++) {
    const l = ls[i]!;
    w.uint32(tag);
    w.uint32(sizeLabel(l));
    writeLabelBody(w, l);
  }
}

export function sizeLabels(field: number, ls: readonly Label[]): number {
  const tagSize = sizeVarint32(field << 3);
  let n = 0;
  for (let i = 0; i < ls.length; i++) {
    const s = sizeLabel(ls[i]!);
    n += tagSize + sizeVarint32(s) + s;
  }
  return n;
}

/** Reads one length-delimited Label at the reader's position. */
export function readLabel(r: Reader): Label {
  const n = r.len();
  const saved = r.push(n);
  let name = '';
  let value = '';
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x0a:
        name = r.string();
        break;
      case 0x12:
        value = r.string();
        break;
      default:
        r.skip(t & 7);
    }
  }
  r.pop(saved);
  return { name, value };
}

/** Reads a LabelSet / ZLabelSet (labels=1) at the reader's position. */
export function readLabelSet(r: Reader): Label[] {
  const n = r.len();
  const saved = r.push(n);
  const out: Label[] = [];
  while (r.pos < r.end) {
    const t = r.tag();
    if (t === 0x0a) out.push(readLabel(r));
    else r.skip(t & 7);
  }
  r.pop(saved);
  return out;
}

export function writeLabelSet(w: Writer, field: number, ls: readonly Label[]): void {
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  writeLabels(w, 1, ls);
  w.ldelim(at);
}

export function writeAny(w: Writer, field: number, a: AnyMessage): void {
  w.tag(field, WIRE_LEN);
  const at = w.fork();
  if (a.typeUrl.length > 0) {
    w.byte(0x0a);
    w.string(a.typeUrl);
  }
  if (a.value.length > 0) {
    w.byte(0x12);
    w.bytes(a.value);
  }
  w.ldelim(at);
}

export function readAny(r: Reader): AnyMessage {
  const n = r.len();
  const saved = r.push(n);
  let typeUrl = '';
  let value: Uint8Array = new Uint8Array(0);
  while (r.pos < r.end) {
    const t = r.tag();
    switch (t) {
      case 0x0a:
        typeUrl = r.string();
        break;
      case 0x12:
        value = r.bytes();
        break;
      default:
        r.skip(t & 7);
    }
  }
  r.pop(saved);
  return { typeUrl, value };
}

/** Writes `repeated string <field>`. */
export function writeStrings(w: Writer, field: number, ss: readonly string[]): void {
  const tag = (field << 3) | WIRE_LEN;
  for (const s of ss) {
    w.uint32(tag);
    w.string(s);
  }
}

/** Writes an int64 field unless it is zero (proto3 default). */
export function writeInt64Field(w: Writer, field: number, v: number): void {
  if (v !== 0) {
    w.tag(field, 0);
    w.int64(v);
  }
}

export function writeBoolField(w: Writer, field: number, v: boolean): void {
  if (v) {
    w.tag(field, 0);
    w.byte(1);
  }
}

export function writeStringField(w: Writer, field: number, s: string): void {
  if (s.length > 0) {
    w.tag(field, WIRE_LEN);
    w.string(s);
  }
}

/** An empty nested message (presence-only sub-messages such as RulesInfo). */
export function writeEmptyMessage(w: Writer, field: number): void {
  w.tag(field, WIRE_LEN);
  w.byte(0);
}

export function enumName(names: readonly string[], v: number, what: string, offset: number): string {
  const s = names[v];
  if (s === undefined) throw new ProtobufError(`unknown ${what} enum value ${v}`, offset);
  return s;
}

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

// Decoded labels shared by (name, value): a Series stream repeats the same few pairs (__name__,
// job, the external labels) in every series, and an object per label per series was a large part
// of what a querier holds through a query (and the garbage collector copies). Direct-mapped by a
// hash of the label's bytes, verified character by character. Only the canonical encoding (name
// then value, ASCII, one-byte lengths) is looked up; anything else is decoded as readLabel does.
// 65536 slots (512 KiB, plus the labels they keep): a dashboard's 10k+ distinct instance labels
// stay found from one query to the next (at 4096 they evicted each other: every miss decoded two
// strings and a new label object, which the query then held).
const SHARED_LABEL_MASK = (1 << 16) - 1;
// Allocated on first use: a process that never decodes a Series response (a receive-only edge
// node) does not carry it.
let sharedLabels: Array<Label | undefined> | undefined;

function sameAscii(s: string, b: Uint8Array, p: number, n: number): boolean {
  if (s.length !== n) return false;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) !== b[p + i]) return false;
  return true;
}

/**
 * readLabel, answering one shared (frozen by convention: labels are never mutated) object per
 * distinct label of the stream. For decoders whose labels are only read (Series responses).
 */
export function readLabelShared(r: Reader): Label {
  const start = r.pos;
  const n = r.len();
  const p = r.pos;
  const b = r.buf;
  // Canonical: 0x0a <nl> name 0x12 <vl> value, both lengths < 128 (then n < 260).
  if (n >= 4 && n < 260 && p + n <= r.end && b[p] === 0x0a) {
    const nl = b[p + 1]!;
    const q = p + 2 + nl;
    if (nl < 0x80 && q + 2 <= p + n && b[q] === 0x12 && b[q + 1]! < 0x80 && q + 2 + b[q + 1]! === p + n) {
      const vl = b[q + 1]!;
      let h = 0x811c9dc5;
      let ascii = true;
      for (let i = p; i < p + n; i++) {
        const c = b[i]!;
        if (c >= 0x80) {
          ascii = false;
          break;
        }
        h = Math.imul(h ^ c, 0x01000193);
      }
      if (ascii) {
        const slot = (h >>> 0) & SHARED_LABEL_MASK;
        const table = (sharedLabels ??= new Array<Label | undefined>(SHARED_LABEL_MASK + 1));
        const cand = table[slot];
        if (cand !== undefined && sameAscii(cand.name, b, p + 2, nl) && sameAscii(cand.value, b, q + 2, vl)) {
          r.pos = p + n;
          return cand;
        }
        r.pos = start;
        const l = readLabel(r);
        table[slot] = l;
        return l;
      }
    }
  }
  r.pos = start;
  return readLabel(r);
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

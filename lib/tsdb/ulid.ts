// ULIDs (https://github.com/ulid/spec): 48-bit ms timestamp + 80 random bits, Crockford base32.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export function ulid(timeMs: number = Date.now(), random?: Uint8Array): string {
  if (!Number.isInteger(timeMs) || timeMs < 0 || timeMs > 2 ** 48 - 1) throw new RangeError(`ulid: bad time ${timeMs}`);
  const rnd = random ?? crypto.getRandomValues(new Uint8Array(10));
  let out = '';
  let t = timeMs;
  const time: string[] = [];
  for (let i = 0; i < 10; i++) {
    time.push(ALPHABET[t % 32]!);
    t = Math.floor(t / 32);
  }
  out = time.reverse().join('');
  // 80 bits → 16 chars of 5 bits.
  let acc = 0, bits = 0;
  for (const byte of rnd) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >>> bits) & 31]!;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

export function isULID(s: string): boolean {
  return ULID_RE.test(s);
}

/** The ms timestamp encoded in a ULID. */
export function ulidTime(id: string): number {
  if (!isULID(id)) throw new Error(`not a ULID: ${JSON.stringify(id)}`);
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + ALPHABET.indexOf(id[i]!);
  return t;
}

/** Monotonic generator: ids created in the same ms still sort in creation order. */
export function monotonicULID(): () => string {
  let lastT = -1;
  let last = new Uint8Array(10);
  return () => {
    const now = Date.now();
    if (now === lastT) {
      for (let i = 9; i >= 0; i--) {
        last[i] = (last[i]! + 1) & 0xff;
        if (last[i] !== 0) break;
      }
    } else {
      lastT = now;
      last = crypto.getRandomValues(new Uint8Array(10));
    }
    return ulid(now, last);
  };
}

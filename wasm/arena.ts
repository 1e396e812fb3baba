// Bump arena over linear memory. The host lays out each batch's inputs and outputs from
// arenaBase() upward (it knows the layout and grows memory itself when needed); a kernel that
// needs scratch space takes it with arenaAlloc() starting at the end the host passed in.
// Everything is "freed" by the next batch: arenaReset() just moves the pointer back.

let top: usize = 0;

// @ts-ignore: decorator
@inline export function align16(p: usize): usize {
  return (p + 15) & ~(<usize>15);
}

/** First byte the host may use for batch data (16-byte aligned, after static data). */
export function arenaBase(): usize {
  return align16(__heap_base);
}

/** Resets the arena to `from` (a position the host handed in; it must be >= arenaBase()). */
export function arenaReset(from: usize): void {
  top = align16(from);
}

/** Takes `bytes` of scratch space (16-byte aligned), growing memory if needed; 0 if that fails. */
export function arenaAlloc(bytes: usize): usize {
  const p = top;
  const end = align16(p + bytes);
  const have = (<usize>memory.size()) << 16;
  if (end > have) {
    const pages = <i32>((end - have + 0xffff) >> 16);
    if (memory.grow(pages) < 0) return 0;
  }
  top = end;
  return p;
}

// The V8 heap's growth between full collections: by default what Thanos's Go runtime does (GOGC=100).
//
// After a full (mark-compact) collection V8 lets the old generation grow to a multiple of what
// survived before it collects again. Node leaves that multiple to V8's heap controller, which
// allows up to 4x on a machine with memory to spare (it trades memory for fewer pauses). A server
// is sized by its peak memory: `thanos store` answering a broad Series call over 24 blocks of 10k
// series kept ~50 MiB of heap live and peaked at 314-325 MiB RSS (npm run bench -- store). Go
// collects when the heap has doubled since the last collection (GOGC=100, Thanos's default), which
// is what operators of Thanos size for; V8's --heap-growing-percent=100 is the same rule. An
// operator's own setting wins: `node --heap-growing-percent=N bin/thanos.mjs ...` (0: V8's dynamic
// factor; Node refuses the flag in NODE_OPTIONS). Node only: Deno and Bun keep their own.

/** Growth allowed between full collections, in percent of the live heap (Go's GOGC default). */
export const HEAP_GROWING_PERCENT = 100;

/** The V8 flag to set, or undefined when the operator gave node the factor (V8 flags may be spelled with - or _). */
export function heapGrowingFlag(execArgv) {
  const given = /^--heap[-_]growing[-_]percent\b/;
  return execArgv.some((a) => given.test(a)) ? undefined : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/** Sets the heap growth default for this process (Node only; elsewhere nothing). */
export async function applyHeapDefaults() {
  if (typeof globalThis.Deno !== 'undefined' || typeof globalThis.Bun !== 'undefined') return;
  const flag = heapGrowingFlag(process.execArgv);
  if (flag !== undefined) (await import('node:v8')).setFlagsFromString(flag);
}

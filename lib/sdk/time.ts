// Time helpers plugins share.

/**
 * Waits ms milliseconds or until signal aborts, whichever comes first; never rejects. Resolves at
 * once when signal is already aborted. A negative ms waits as setTimeout does (about 1 ms).
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

// Date text in UTC, built from the getUTC* fields rather than Date.prototype.toISOString/toUTCString.
// Why: V8 (Node 20) formats those two through its local-time-zone machinery even though they print
// UTC, and the first call loads ICU's time-zone data and display names (zoneinfo64, metaZones,
// zone/*.res: about 0.8 MiB resident for the life of the process). The logger stamps every line and
// Node's HTTP server every response's Date header with them, so an idle process paid it at startup.
// The getUTC* methods read the time value only. The text is the same, character for character.

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** `d.toISOString()` (`2026-12-07T09:33:04.120Z`); years outside 0–9999 and invalid dates go to it. */
export function isoUtc(d: Date): string {
  const y = d.getUTCFullYear();
  if (!(y >= 0 && y <= 9999)) return d.toISOString();
  return `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}T${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(d.getUTCMilliseconds(), 3)}Z`;
}

/** `d.toUTCString()`, the HTTP Date format (`Mon, 07 Dec 2026 09:33:04 GMT`); as isoUtc for other years. */
export function httpDate(d: Date): string {
  const y = d.getUTCFullYear();
  if (!(y >= 0 && y <= 9999)) return d.toUTCString();
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate(), 2)} ${MONTHS[d.getUTCMonth()]} ${pad(y, 4)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)} GMT`;
}

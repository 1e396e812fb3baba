// HTTP helpers shared by the query-frontend end-to-end suites (e2e.test.ts, vertical.test.ts).

/** GET a loopback path; `body` is the parsed JSON, or undefined when the answer is not JSON. */
export async function get(port: number, path: string): Promise<{ status: number; body: any; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  const text = await r.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: r.status, body, text };
}

/** A /api/v1/query_range path; start and end in milliseconds, step in seconds, `extra` appended as is. */
export const rangePath = (q: string, start: number, end: number, step = 60, extra = '') =>
  `/api/v1/query_range?query=${encodeURIComponent(q)}&start=${start / 1000}&end=${end / 1000}&step=${step}${extra}`;

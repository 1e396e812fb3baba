// The isolation error type on its own, so the host can name isolation problems (host/main.ts) without
// loading the process-isolation machinery (host/isolate/host.ts: child_process, the wire protocol,
// the proxies), which host/isolate/entry.ts imports only when a plugin does run in its own process.

/** A manifest-level isolation problem: key is the plugins.yaml key to name. */
export class IsolationError extends Error {
  constructor(readonly key: string, readonly detail: string) {
    super(`${key}: ${detail}`);
    this.name = 'IsolationError';
  }
}

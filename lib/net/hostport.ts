// host:port addresses as components listen on them (--http-address, --remote-write.address): Go's
// net.SplitHostPort plus the port number. "[v6]:port" loses its brackets; an empty host (":10902")
// is `defaultHost` when one is given (listeners bind 0.0.0.0).

/** Splits "host:port" / "[v6]:port" into hostname and port (0..65535). Throws Error on a missing or bad port. */
export function splitHostPort(addr: string, defaultHost?: string): { hostname: string; port: number } {
  const i = addr.lastIndexOf(':');
  if (i < 0) throw new Error(`expected host:port, got "${addr}"`);
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port in "${addr}"`);
  let hostname = addr.slice(0, i);
  if (hostname.startsWith('[') && hostname.endsWith(']')) hostname = hostname.slice(1, -1);
  return { hostname: hostname === '' && defaultHost !== undefined ? defaultHost : hostname, port };
}

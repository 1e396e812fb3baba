// The one port picker of the test suite, for servers a test starts (often in another process) on
// a port it must know in advance.
//
// Why not `listen(0)` then close: the kernel hands out that port from its ephemeral range
// (32768–60999 here), the same range it uses for the local side of every outgoing connection. Between
// our close and the server's bind, any connect() on the machine (Prometheus scraping, a gRPC dial,
// the other test file running beside us) can take it, and the server dies with EADDRINUSE. That
// was the suite's flake (about one fresh-clone run in four: `listen EADDRINUSE 127.0.0.1:41707`).
//
// So ports come from below the ephemeral range, where the kernel never assigns one by itself, and
// each test-runner worker (scripts/test.mjs sets TEST_WORKER) owns a block of its own, so two test
// files running at the same time never pick the same port. Within a block ports are handed out in
// order and never twice per process; a bind check skips any port something else still holds (a
// process of an earlier test file that is still exiting, a system service).
import { createServer } from 'node:net';

const FIRST = 20000;
const LAST = 32767; // below /proc/sys/net/ipv4/ip_local_port_range's start (32768)
const BLOCKS = 8;
const BLOCK = Math.floor((LAST - FIRST + 1) / BLOCKS);

function blockIndex(): number {
  const w = Number(process.env.TEST_WORKER);
  if (Number.isInteger(w) && w >= 0) return w % BLOCKS;
  // Run by hand (one file, no runner): any block; a collision needs another hand-run file at once.
  return process.pid % BLOCKS;
}

const base = FIRST + blockIndex() * BLOCK;
// Start at a random place in the block: successive files of one worker then rarely reuse a port
// that the previous file's servers may still hold in TIME_WAIT or while exiting.
let cursor = Math.floor(Math.random() * BLOCK);
let handedOut = 0;

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A loopback port that is free now and that no other test file of this run will be given. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < BLOCK; tries++) {
    if (handedOut >= BLOCK) throw new Error(`test/harness/ports: all ${BLOCK} ports of this worker's block are used`);
    const port = base + (cursor++ % BLOCK);
    handedOut++;
    if (await canBind(port)) return port;
  }
  throw new Error(`test/harness/ports: no free port in ${base}-${base + BLOCK - 1}`);
}

#!/usr/bin/env node
// Entry point of the `thanos` binary: TypeScript runs through tsx's loader on Node >= 20.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../host/main.ts');
process.exitCode = await main(process.argv.slice(2));
// main() has returned: everything should be closed. If a leaked handle keeps the process alive,
// do not hang forever (the timer itself does not keep the process alive).
setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();

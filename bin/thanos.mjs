#!/usr/bin/env node
// Entry point of the `thanos` binary: TypeScript runs through tsx's loader on Node >= 20.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../host/main.ts');
process.exitCode = await main(process.argv.slice(2));

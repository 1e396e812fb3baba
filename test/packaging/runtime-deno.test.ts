// The built artifact under Deno 2, with permission flags generated from the manifest (see runtimes.ts).
import { runtimeSuite } from './runtimes.ts';

runtimeSuite('deno');

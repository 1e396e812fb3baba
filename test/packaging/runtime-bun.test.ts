// The built artifact under Bun (see runtimes.ts).
import { runtimeSuite } from './runtimes.ts';

runtimeSuite('bun');

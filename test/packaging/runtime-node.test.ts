// The built artifact under Node (see runtimes.ts).
import { runtimeSuite } from './runtimes.ts';

runtimeSuite('node');

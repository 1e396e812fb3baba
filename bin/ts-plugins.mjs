// Third-party plugins written in TypeScript, when the host runs from dist/ on Node (imported once by
// host/loader.ts before such a plugin is loaded; built-in plugins never need it). Registers tsx's
// loader for the plugin's own files and a resolve hook that sends the plugin's imports of this
// package's sources (host/index.ts, lib/…) to their build in dist/, so the plugin shares the host's
// module instances (ConfigError, GrpcError, ... stay the same classes) instead of loading a second copy.
import { register } from 'node:module';

register(new URL('./ts-plugins-hooks.mjs', import.meta.url), { data: { root: new URL('../', import.meta.url).href } });
(await import('tsx/esm/api')).register();

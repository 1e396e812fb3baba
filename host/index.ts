// What external plugins import from the host: the plugin contract (lib/sdk) and the program's one
// version. The host adds nothing to the contract; built-in plugins import lib/sdk directly.
export * from '../lib/sdk/mod.ts';
// The one version of the program (CLI --version, /api/v1/status/buildinfo, thanos_build_info).
export { BUILD_INFO, type BuildInfo } from './version.ts';

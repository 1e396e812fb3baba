// The plugin SDK: the contract between the host and its plugins. Imports nothing from host/.
export * from './plugin.ts';
export * from './errors.ts';
// Flag specs and parsing: the host parses the command line with these, tools parse their own argv.
export * from './flags.ts';
// The plugin API's name for parseFlagDuration (external plugins import it as parseDuration).
export { parseFlagDuration as parseDuration } from './flags.ts';
// Abortable sleep for plugin loops.
export * from './time.ts';

// The `tools` component: one-shot commands (`thanos tools <group> <cmd> …`). Each group lives in
// its own file and contributes a ToolCommand[]; add new groups (e.g. bucket.ts) to the list below.
import { definePlugin, ConfigError, type ToolCommand } from '../../../lib/sdk/mod.ts';
import { tsdbCommands } from './tsdb.ts';
import { bucketCommands } from './bucket.ts';
import { rulesCommands } from './rules.ts';
import { bucketReplicate } from './replicate.ts';

export const commands: ToolCommand[] = [...tsdbCommands, ...rulesCommands, ...bucketCommands, bucketReplicate];

export default definePlugin({
  manifest: {
    id: 'component:tools',
    apiVersion: 1,
    permissions: { read: true, write: true, net: true, env: true },
    description: 'One-shot tools: read block directories and input files, write output blocks; bucket tools reach object storage.',
  },
  commands,
  parseConfig(raw: unknown) {
    if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Object.keys(raw as object).length > 0)) throw new ConfigError('', 'tools takes no configuration; run a subcommand');
    return {};
  },
  async setup() {
    throw new ConfigError('', 'tools is not a long-running component; run `thanos tools <command>`');
  },
});

// lib/rules: Prometheus rule files (parse.ts), alert templates (template.ts), globbing (glob.ts) and
// the evaluation state machine the ruler runs (eval.ts), rule-file loading (files.ts), query API
// answers (queryapi.ts), the ruler's local TSDB served over the StoreAPI (head.ts) and /api/v1/rules|alerts
// (api.ts), the thanos.Rules gRPC server (grpc.ts), --alertmanagers.config / --query.config (sdconfig.ts),
// the stateless ruler's remote-write queue (remotewrite.ts).
export * from './parse.ts';
export { expandTemplate, checkTemplate, parseTemplate, TemplateError, humanize, humanize1024, humanizeDuration, sprintf, goFloat, type TemplateData } from './template.ts';
export { glob, hasMeta, type GlobFs } from './glob.ts';
export * from './eval.ts';
export { loadRuleFiles } from './files.ts';
export { parseQueryResponse } from './queryapi.ts';
export { RuleTSDB, type RuleTSDBOptions } from './head.ts';
export { formatAlertValue, ruleGroupsProto } from './api.ts';
export { rulesServices } from './grpc.ts';
export { DnsProvider, dnsMetrics, type DnsMetrics, isDnsAddr, parseDnsAddr, resolveDnsAddr, type DnsResolver } from './dns.ts';
export { parseAlertmanagersConfig, parseQueryEndpointsConfig, EndpointsResolver, SdConfigError, type AlertmanagerConfig, type EndpointsConfig } from './sdconfig.ts';
export { queryApiClient, alertSender, type QueryApiOptions, type AlertSenderOptions } from './remote.ts';
export { parseRemoteWriteConfig, RemoteWriteQueue, RemoteWriteConfigError, type RemoteWriteConfig, type RemoteWriteMetrics } from './remotewrite.ts';
export { RuleMetrics, alertMetrics, groupLabels, type AlertMetrics } from './metrics.ts';

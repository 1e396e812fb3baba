// The sidecar next to one Prometheus: its HTTP API / remote-read client (promclient.ts), the
// StoreAPI over it (store.ts), the Metadata and Targets APIs (apis.ts), and the external labels /
// min time / flag checks it keeps of its Prometheus (peer.ts). The plugin
// (plugins/component/sidecar) reads the config and wires these with the shipper and the loops.
export { PromClient, PromError, type PromTargets } from './promclient.ts';
export { PromStore, matchersWithoutExternal, withExternalLabels } from './store.ts';
export { sidecarApiServices } from './apis.ts';
export { PromPeer, NO_EXTERNAL_LABELS, type PromPeerOptions } from './peer.ts';

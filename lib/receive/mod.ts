// Receive: tenants -> local TSDBs, the write path, the StoreAPI over them, Info, the block
// cut/upload/retention tick (receiver.ts), its HTTP API (http.ts), and the router: hashrings
// (hashring.ts, watched by watch.ts) and forwarding with replication and quorum (forward.ts). The
// plugin (plugins/component/receive) reads the config and wires these to the host.
export { Receiver, checkLabelLimits, type LabelLimits, type ReceiverOptions, type WriteOutcome } from './receiver.ts';
export { receiveHttpHandler, type ReceiveHttpOptions } from './http.ts';
export { Tenants, validTenant, type Tenant, type TenantsOptions } from './tenants.ts';
export {
  HASHRING_ALGORITHMS, HashmodHashring, HashringConfigError, KetamaHashring, MultiHashring, SingleNodeHashring, hashWithPrefix, newMultiHashring, parseHashringsConfig,
  type Endpoint, type Hashring, type HashringAlgorithm, type HashringConfig,
} from './hashring.ts';
export { Router, determineMode, writeQuorum, type ReceiverMode, type RouterOptions, type TenantSeries } from './forward.ts';
export { HashringWatcher, type HashringWatcherOptions } from './watch.ts';
export { HashringChangeHandler, serialQueue, type HashringChangeOptions } from './hashringchange.ts';

// Receive (ingestor): tenants -> local TSDBs, the write path, the StoreAPI over them, Info, the
// block cut/upload/retention tick (receiver.ts), and its HTTP API (http.ts). The plugin
// (plugins/component/receive) reads the config and wires these to the host.
export { Receiver, checkLabelLimits, type LabelLimits, type ReceiverOptions, type WriteOutcome } from './receiver.ts';
export { receiveHttpHandler, type ReceiveHttpOptions } from './http.ts';
export { Tenants, validTenant, type Tenant, type TenantsOptions } from './tenants.ts';

// The Info API (thanos.info.Info/Info) every gRPC listener serves: lib/store/server.ts's
// infoServices (the one implementation) answering with component.info() in the Info API's shape.
import { GrpcError, GrpcStatus } from '../../lib/sdk/mod.ts';
import { INFO_METHOD, infoResponseFromComponentInfo } from '../../lib/proto/info.ts';
import { infoServices } from '../../lib/store/server.ts';
import type { Component, GrpcServices } from '../index.ts';

export { INFO_METHOD };

/** Info/Info for the component; Unavailable until the component is set up. */
export function infoService(component: () => Component | undefined): GrpcServices {
  return infoServices(() => {
    const c = component();
    if (!c) throw new GrpcError(GrpcStatus.Unavailable, 'component is not set up yet');
    return infoResponseFromComponentInfo(c.info());
  });
}

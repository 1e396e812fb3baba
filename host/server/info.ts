// The Info API (thanos.info.Info/Info) every gRPC listener serves, built from component.info()
// with lib/proto/info.ts's codecs.
import type { Component, GrpcServices } from '../index.ts';
import { INFO_METHOD, decodeInfoRequest, encodeInfoResponse, infoResponseFromComponentInfo, type InfoResponse } from '../../lib/proto/info.ts';

export { INFO_METHOD };

export function infoService(component: () => Component | undefined): GrpcServices {
  return {
    [INFO_METHOD]: {
      kind: 'unary',
      requestDecode: decodeInfoRequest,
      responseEncode: (m) => encodeInfoResponse(m as InfoResponse),
      async handler() {
        const c = component();
        if (!c) throw Object.assign(new Error('component is not set up yet'), { code: 14 });
        return infoResponseFromComponentInfo(c.info());
      },
    },
  };
}

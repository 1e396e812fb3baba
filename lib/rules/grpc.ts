// A thanos.Rules/Rules server over any source of rule groups (the ruler's evaluator, the sidecar's
// Prometheus): the request's filters are applied here (lib/query/rules.ts filterRuleGroups), one
// answer frame per group. A matcher_string that does not parse is InvalidArgument.
import { GrpcError, GrpcStatus, type GrpcServices } from '../sdk/mod.ts';
import { decodeRulesRequest, encodeRulesResponse, RULES_METHOD, type RuleGroup, type RulesRequest, type RulesResponse } from '../proto/rules.ts';
import { filterRuleGroups, parseRuleMatchers } from '../query/rules.ts';
import { ProtobufError } from '../proto/wire.ts';
import { grpcDecoder } from '../store/server.ts';

function grpcErr(e: unknown): unknown {
  if (e instanceof GrpcError) return e;
  if (e instanceof ProtobufError) return new GrpcError(GrpcStatus.InvalidArgument, e.message);
  return e;
}

export function rulesServices(groups: (req: RulesRequest, signal: AbortSignal) => Promise<RuleGroup[]>, toErr: (e: unknown) => unknown = grpcErr): GrpcServices {
  return {
    [RULES_METHOD]: {
      kind: 'serverStream',
      requestDecode: grpcDecoder(decodeRulesRequest, toErr),
      responseEncode: (m) => encodeRulesResponse(m as RulesResponse),
      async *handler(req, signal) {
        const r = req as RulesRequest;
        try {
          parseRuleMatchers(r.matcherString);
        } catch (e) {
          throw new GrpcError(GrpcStatus.InvalidArgument, `parsing matcher_string: ${(e as Error).message}`);
        }
        let gs: RuleGroup[];
        try {
          gs = filterRuleGroups(await groups(r, signal), r);
        } catch (e) {
          throw toErr(e);
        }
        for (const group of gs) yield { type: 'group', group } satisfies RulesResponse;
      },
    },
  };
}

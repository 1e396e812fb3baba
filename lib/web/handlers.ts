// Thanos's HTTP handler names (the `handler` label of http_requests_total & co. and the server span
// name), as upstream's routers register them with ins.NewHandler / instr(name, …): pkg/api (the
// base API), pkg/api/query/v1.go, pkg/api/rule/v1.go, pkg/api/blocks/v1.go, pkg/ui (react-static).
// A component builds its Component.http from these tables; requests no entry matches are not
// instrumented, as routes Thanos registers without the middleware are not.
import type { HttpInstrumentation } from '../sdk/plugin.ts';

export interface HandlerRoute {
  /** Upper-case methods the route answers. */
  methods: readonly string[];
  /** Exact path, or a pattern for parameterised paths. */
  path: string | RegExp;
  name: string;
}

const GP = ['GET', 'POST'];

/** pkg/api/api.go BaseAPI.Register, under /api/v1. */
export const BASE_API_ROUTES: readonly HandlerRoute[] = [
  { methods: ['OPTIONS'], path: /^\/api\/v1\/.*$/, name: 'options' },
  { methods: ['GET'], path: '/api/v1/status/flags', name: 'status_flags' },
  { methods: ['GET'], path: '/api/v1/status/runtimeinfo', name: 'status_runtime' },
  { methods: ['GET'], path: '/api/v1/status/buildinfo', name: 'status_build' },
];

/** pkg/api/query/v1.go QueryAPI.Register. */
export const QUERY_API_ROUTES: readonly HandlerRoute[] = [
  ...BASE_API_ROUTES,
  { methods: GP, path: '/api/v1/query', name: 'query' },
  { methods: GP, path: '/api/v1/query_explain', name: 'query' },
  { methods: GP, path: '/api/v1/query_range', name: 'query_range' },
  { methods: GP, path: '/api/v1/query_range_explain', name: 'query' },
  { methods: ['GET'], path: /^\/api\/v1\/label\/[^/]+\/values$/, name: 'label_values' },
  { methods: GP, path: '/api/v1/series', name: 'series' },
  { methods: GP, path: '/api/v1/labels', name: 'label_names' },
  { methods: ['GET'], path: '/api/v1/stores', name: 'stores' },
  { methods: ['GET'], path: '/api/v1/alerts', name: 'alerts' },
  { methods: ['GET'], path: '/api/v1/rules', name: 'rules' },
  { methods: ['GET'], path: '/api/v1/targets', name: 'targets' },
  { methods: ['GET'], path: '/api/v1/metadata', name: 'metadata' },
  { methods: GP, path: '/api/v1/query_exemplars', name: 'exemplars' },
  { methods: ['GET'], path: '/api/v1/status/tsdb', name: 'status_tsdb' },
];

/** pkg/api/rule/v1.go RuleAPI.Register. */
export const RULE_API_ROUTES: readonly HandlerRoute[] = [
  ...BASE_API_ROUTES,
  { methods: ['GET'], path: '/api/v1/alerts', name: 'alerts' },
  { methods: ['GET'], path: '/api/v1/rules', name: 'rules' },
];

/** pkg/api/blocks/v1.go BlocksAPI.Register (compact, store, tools bucket web). */
export const BLOCKS_API_ROUTES: readonly HandlerRoute[] = [
  ...BASE_API_ROUTES,
  { methods: ['GET'], path: '/api/v1/blocks', name: 'blocks' },
  { methods: ['POST'], path: '/api/v1/blocks/mark', name: 'blocks_mark' },
];

/** pkg/ui's React router paths (GET, handler "react-static"). */
export const REACT_UI_ROUTES: readonly HandlerRoute[] = [
  '/', '/alerts', '/blocks', '/config', '/flags', '/global', '/graph', '/loaded', '/rules', '/service-discovery', '/status', '/stores', '/targets', '/tsdb-status',
].map((path) => ({ methods: ['GET'], path, name: 'react-static' }));

/**
 * cmd/thanos/query_frontend.go: the frontend registers its whole handler on the mux's "/" under one
 * name, with the tenant instrumentation middleware (a `tenant` label from the tenant header, the
 * default tenant when absent). The HTTP server's own routes (/metrics, the probes, /debug/) are
 * registered apart and not instrumented.
 */
export const QUERY_FRONTEND_HANDLER = 'query-frontend';
const HTTP_SERVER_OWN_PATH = /^\/(metrics|-\/healthy|-\/ready)$|^\/debug\/(pprof\/|fgprof$)/;

/** Component.http of thanos query-frontend; `tenant`: --query-frontend.tenant-header and --query-frontend.default-tenant-id. */
export function queryFrontendInstrumentation(tenant: { header: string; default: string }): HttpInstrumentation {
  return {
    handlerName: (req) => (HTTP_SERVER_OWN_PATH.test(new URL(req.url).pathname) ? undefined : QUERY_FRONTEND_HANDLER),
    tenant,
  };
}

/** A handlerName function over a route table; `prefix` is a path prefix the routes sit under (--web.route-prefix), '' for none. */
export function handlerNamer(routes: readonly HandlerRoute[], prefix = ''): (req: Request) => string | undefined {
  const exact = new Map<string, HandlerRoute[]>();
  const patterns: HandlerRoute[] = [];
  for (const r of routes) {
    if (typeof r.path === 'string') exact.set(r.path, [...(exact.get(r.path) ?? []), r]);
    else patterns.push(r);
  }
  const p0 = prefix.replace(/\/+$/, '');
  return (req) => {
    let p = new URL(req.url).pathname;
    if (p0) {
      if (p !== p0 && !p.startsWith(`${p0}/`)) return undefined;
      p = p.slice(p0.length) || '/';
    }
    const m = req.method;
    for (const r of exact.get(p) ?? []) if (r.methods.includes(m)) return r.name;
    for (const r of patterns) if (r.methods.includes(m) && (r.path as RegExp).test(p)) return r.name;
    return undefined;
  };
}

/** Component.http for a route table; `preCreate`: the series dashboards and alerts read (handler → methods). */
export function routeInstrumentation(routes: readonly HandlerRoute[], preCreate?: Record<string, readonly string[]>, prefix = ''): HttpInstrumentation {
  return { handlerName: handlerNamer(routes, prefix), preCreate };
}

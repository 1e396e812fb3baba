// Query tenancy as Thanos's pkg/tenancy: which tenant a request is for (the tenant header, else the
// internal THANOS-TENANT header, else the default tenant), and --query.enforce-tenancy's rewrite of
// every selector so it can only select that tenant's series (prom-label-proxy's enforcer as Thanos
// configures it: an `=` matcher on the tenant label is appended and any matcher the query had on
// that label is dropped, so `tenant_id="B"` or `tenant_id=~".+"` still selects only the caller's tenant).
import type { Matcher } from '../labels/mod.ts';
import type { Expr } from '../promql/ast.ts';
import { walk } from '../promql/walk.ts';

/** The header Thanos components pass the tenant in between themselves (HTTP and gRPC metadata). */
export const INTERNAL_TENANT_HEADER = 'THANOS-TENANT';
/** gRPC metadata keys are lower case on the wire. */
export const TENANT_METADATA_KEY = INTERNAL_TENANT_HEADER.toLowerCase();
export const DEFAULT_TENANT = 'default-tenant';
export const DEFAULT_TENANT_LABEL = 'tenant_id';

export class TenantError extends Error {}

/**
 * Thanos's IsTenantValid: the tenant must be its own path.Base (no "/" in it, not empty), so it
 * cannot name another directory wherever it is used as one.
 */
export function isTenantValid(tenant: string): boolean {
  if (tenant === '/') return true; // path.Base("/") is "/"
  return tenant !== '' && !tenant.includes('/');
}

/** Thanos's GetTenantFromHTTP without client certificates: the configured header, else THANOS-TENANT, else the default. */
export function tenantFromHeaders(headers: Headers, tenantHeader: string, defaultTenant: string): string {
  const tenant = headers.get(tenantHeader) || headers.get(INTERNAL_TENANT_HEADER) || defaultTenant;
  if (!isTenantValid(tenant)) throw new TenantError('tenant name not valid');
  return tenant;
}

/** Thanos's tenant of a gRPC call: the THANOS-TENANT metadata, else the default tenant. */
export function tenantFromGrpcMetadata(md: Record<string, string> | undefined): string {
  return md?.[TENANT_METADATA_KEY] || DEFAULT_TENANT;
}

/** prom-label-proxy's EnforceMatchers for an `=` matcher: same-named matchers dropped, the enforced one appended. */
export function enforceMatchers(ms: readonly Matcher[], label: string, tenant: string): Matcher[] {
  const out = ms.filter((m) => m.name !== label);
  out.push({ type: '=', name: label, value: tenant });
  return out;
}

/**
 * Every vector and matrix selector of `expr` gets <label>="<tenant>" (in place). Unlike
 * prom-label-proxy, the parameter of an aggregation (`topk(scalar(x), ...)`, `quantile(...)`) is
 * enforced too: it is a selector like any other and would otherwise read another tenant's series.
 */
export function enforceExprTenancy(expr: Expr, label: string, tenant: string): Expr {
  walk(expr, (node) => {
    if (node.type === 'VectorSelector') node.matchers = enforceMatchers(node.matchers, label, tenant);
  });
  return expr;
}

/**
 * Thanos's getLabelMatchers for the match[] of the series / labels / label values APIs: each set
 * enforced; no set at all becomes one set holding only the tenant matcher.
 */
export function enforceMatcherSets(sets: readonly Matcher[][], label: string, tenant: string): Matcher[][] {
  if (sets.length === 0) return [[{ type: '=', name: label, value: tenant }]];
  return sets.map((ms) => enforceMatchers(ms, label, tenant));
}

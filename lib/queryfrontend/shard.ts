// Vertical query sharding (--query-frontend.vertical-shards), as Thanos's pkg/querysharding: a
// query is shardable when every output series depends on input series that agree on some labels;
// the frontend then asks for it once per shard with shard_info {shard_index, total_shards, by,
// labels}, the stores answer only the series hashing into that shard (lib/store/shard.ts), and the
// shard answers are merged (their series are disjoint).
// The analysis walks the expression and narrows the sharding labels at every aggregation (by: its
// grouping; without: all labels but its grouping), binary expression with vector matching (on: its
// labels; ignoring/none: all but them and __name__) and histogram_quantile (all but le); absent,
// absent_over_time and scalar make a query unshardable; label_replace/label_join target labels are
// removed at the end (they are computed above the stores).
import { parseExpr, walk, type Expr } from '../promql/mod.ts';
import type { ShardInfo } from '../store/shard.ts';
import type { InstantSortPlan } from './response.ts';

export interface QueryAnalysis {
  /** undefined: nothing narrowed the labels yet (upstream's nil). */
  labels: string[] | undefined;
  by: boolean;
}

const NON_SHARDABLE: QueryAnalysis = { labels: undefined, by: false };

const intersect = (a: readonly string[], b: readonly string[]) => {
  const s = new Set(b);
  return [...new Set(a)].filter((x) => s.has(x));
};
const union = (a: readonly string[], b: readonly string[]) => [...new Set([...a, ...b])];
const minus = (a: readonly string[], b: readonly string[]) => {
  const s = new Set(b);
  return [...new Set(a)].filter((x) => !s.has(x));
};

/** Upstream's QueryAnalysis.scopeToLabels. */
function scopeToLabels(q: QueryAnalysis, labels: readonly string[], by: boolean): QueryAnalysis {
  if (q.labels === undefined) return { labels: [...labels], by };
  if (q.by && by) return { labels: intersect(q.labels, labels), by: true };
  if (!q.by && !by) return { labels: union(q.labels, labels), by: false };
  // by and without at once: the by labels that are not without labels
  const [byLabels, withoutLabels] = q.by ? [q.labels, labels] : [labels, q.labels];
  return { labels: minus(byLabels, withoutLabels), by: true };
}

export function isShardable(a: QueryAnalysis): boolean {
  return a.labels !== undefined && a.labels.length > 0;
}

function unwrapParens(e: Expr): Expr {
  while (e.type === 'ParenExpr') e = e.expr;
  return e;
}

/** How a query can be sharded; parse errors make it unshardable (the querier reports them). */
export function analyzeQuery(query: string): QueryAnalysis {
  let expr: Expr;
  try {
    expr = parseExpr(query);
  } catch {
    return NON_SHARDABLE;
  }
  let a: QueryAnalysis = { labels: undefined, by: false };
  const dynamicLabels: string[] = [];
  let shardable = true;
  walk(expr, (n) => {
    if (!shardable) return false;
    switch (n.type) {
      case 'Call':
        if (n.func === 'label_join' || n.func === 'label_replace') {
          const dst = n.args[1] && unwrapParens(n.args[1]);
          if (dst?.type === 'StringLiteral') dynamicLabels.push(dst.val);
        } else if (n.func === 'absent_over_time' || n.func === 'absent' || n.func === 'scalar') {
          shardable = false;
          return false;
        } else if (n.func === 'histogram_quantile') {
          a = scopeToLabels(a, ['le'], false);
        }
        break;
      case 'BinaryExpr':
        if (n.matching) {
          const labels = n.matching.on ? n.matching.matchingLabels : [...n.matching.matchingLabels, '__name__'];
          a = scopeToLabels(a, labels, n.matching.on);
        }
        break;
      case 'AggregateExpr':
        a = scopeToLabels(a, n.grouping, !n.without);
        break;
    }
    return undefined;
  });
  if (!shardable) return NON_SHARDABLE;
  if (dynamicLabels.length > 0) a = scopeToLabels(a, dynamicLabels, false);
  return a;
}

/** The shard_info of each of `total` shards of an analysed query. */
export function shardInfos(a: QueryAnalysis, total: number): ShardInfo[] {
  return Array.from({ length: total }, (_, i) => ({ shardIndex: i, totalShards: total, by: a.by, labels: [...(a.labels ?? [])] }));
}

/** Upstream's CachedQueryAnalyzer: the last 256 analyses by query text. */
export class CachedQueryAnalyzer {
  private readonly cache = new Map<string, QueryAnalysis>();
  constructor(private readonly size = 256) {}

  analyze(query: string): QueryAnalysis {
    const hit = this.cache.get(query);
    if (hit) {
      this.cache.delete(query);
      this.cache.set(query, hit);
      return hit;
    }
    const a = analyzeQuery(query);
    this.cache.set(query, a);
    if (this.cache.size > this.size) this.cache.delete(this.cache.keys().next().value!);
    return a;
  }
}

/** Thanos's sortPlanForQuery: how the merged shards of an instant query are ordered. */
export function instantSortPlan(query: string): InstantSortPlan {
  let e: Expr;
  try {
    e = unwrapParens(parseExpr(query));
  } catch {
    return 'labels';
  }
  if (e.type === 'AggregateExpr' && (e.op === 'topk' || e.op === 'bottomk' || e.op === 'limitk' || e.op === 'limit_ratio')) return 'merge-only';
  const sortOf = (x: Expr): InstantSortPlan | undefined => {
    if (x.type !== 'Call') return undefined;
    if (x.func === 'sort' || x.func === 'sort_by_label') return 'values-asc';
    if (x.func === 'sort_desc' || x.func === 'sort_by_label_desc') return 'values-desc';
    return undefined;
  };
  return sortOf(e) ?? (e.type === 'BinaryExpr' ? sortOf(e.lhs) ?? sortOf(e.rhs) : undefined) ?? 'labels';
}

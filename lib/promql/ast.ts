// PromQL abstract syntax tree (Prometheus 3.x shapes). Positions are UTF-16 offsets into the source.
import type { Matcher } from '../labels/mod.ts';

export type ValueType = 'scalar' | 'vector' | 'matrix' | 'string';

export interface PosRange {
  start: number;
  end: number;
}

export type AtModifier = 'start' | 'end' | null;

export interface NumberLiteral {
  type: 'NumberLiteral';
  val: number;
  pos: PosRange;
}

export interface StringLiteral {
  type: 'StringLiteral';
  val: string;
  pos: PosRange;
}

export interface VectorSelector {
  type: 'VectorSelector';
  /** Metric name when written outside the braces or as {__name__="x"} (informational). */
  name: string;
  matchers: Matcher[];
  /** Offset in ms (negative allowed). */
  offset: number;
  /** @ timestamp in ms, or null. */
  at: number | null;
  atModifier: AtModifier;
  pos: PosRange;
}

export interface MatrixSelector {
  type: 'MatrixSelector';
  vs: VectorSelector;
  /** Range in ms. */
  range: number;
  pos: PosRange;
}

export interface SubqueryExpr {
  type: 'SubqueryExpr';
  expr: Expr;
  range: number;
  /** Resolution step in ms; 0 means the engine default. */
  step: number;
  offset: number;
  at: number | null;
  atModifier: AtModifier;
  pos: PosRange;
}

export interface Call {
  type: 'Call';
  func: string;
  args: Expr[];
  pos: PosRange;
}

export type AggregateOp =
  | 'sum' | 'avg' | 'count' | 'min' | 'max' | 'group' | 'stddev' | 'stdvar'
  | 'topk' | 'bottomk' | 'count_values' | 'quantile' | 'limitk' | 'limit_ratio';

export interface AggregateExpr {
  type: 'AggregateExpr';
  op: AggregateOp;
  expr: Expr;
  param: Expr | null;
  grouping: string[];
  without: boolean;
  pos: PosRange;
}

export type BinaryOp =
  | '+' | '-' | '*' | '/' | '%' | '^' | 'atan2'
  | '==' | '!=' | '>' | '<' | '>=' | '<='
  /** Native histogram bucket trimming (Prometheus 3.x TRIM_UPPER / TRIM_LOWER): keep observations below / above the float. */
  | '</' | '>/'
  | 'and' | 'or' | 'unless';

export type Cardinality = 'one-to-one' | 'many-to-one' | 'one-to-many' | 'many-to-many';

export interface VectorMatching {
  card: Cardinality;
  /** Labels of on(...) / ignoring(...). */
  matchingLabels: string[];
  /** true: on(...), false: ignoring(...) (or nothing written). */
  on: boolean;
  /** Extra labels of group_left(...) / group_right(...). */
  include: string[];
}

export interface BinaryExpr {
  type: 'BinaryExpr';
  op: BinaryOp;
  lhs: Expr;
  rhs: Expr;
  returnBool: boolean;
  /** Present when both sides are vectors (or written explicitly). */
  matching: VectorMatching | null;
  pos: PosRange;
}

export interface UnaryExpr {
  type: 'UnaryExpr';
  op: '-' | '+';
  expr: Expr;
  pos: PosRange;
}

export interface ParenExpr {
  type: 'ParenExpr';
  expr: Expr;
  pos: PosRange;
}

export type Expr =
  | NumberLiteral | StringLiteral | VectorSelector | MatrixSelector | SubqueryExpr
  | Call | AggregateExpr | BinaryExpr | UnaryExpr | ParenExpr;

export const COMPARISON_OPS = new Set<string>(['==', '!=', '>', '<', '>=', '<=']);
export const SET_OPS = new Set<string>(['and', 'or', 'unless']);

export function isComparison(op: string): boolean {
  return COMPARISON_OPS.has(op);
}
export function isSetOp(op: string): boolean {
  return SET_OPS.has(op);
}

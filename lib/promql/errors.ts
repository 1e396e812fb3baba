// Typed PromQL errors. `errorType` is the Prometheus HTTP API error type the querier should answer with.

export type ErrorType = 'bad_data' | 'execution' | 'timeout' | 'canceled' | 'internal';

export class PromQLError extends Error {
  readonly errorType: ErrorType;
  constructor(message: string, errorType: ErrorType) {
    super(message);
    this.name = 'PromQLError';
    this.errorType = errorType;
  }
}

/** A syntax or type error in the query text (HTTP 400, bad_data). */
export class ParseError extends PromQLError {
  /** UTF-16 offsets of the offending range in the source. */
  readonly position: { start: number; end: number };
  readonly line: number;
  readonly col: number;
  /** The message without the position prefix. */
  readonly detail: string;
  constructor(detail: string, src: string, start: number, end: number = start) {
    const { line, col } = lineCol(src, start);
    super(`${line}:${col}: parse error: ${detail}`, 'bad_data');
    this.name = 'ParseError';
    this.position = { start, end };
    this.line = line;
    this.col = col;
    this.detail = detail;
  }
}

export function lineCol(src: string, pos: number): { line: number; col: number } {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < pos && i < src.length; i++) {
    if (src.charCodeAt(i) === 10) {
      line++;
      lastNl = i;
    }
  }
  return { line, col: pos - lastNl };
}

/** An invalid query parameter (HTTP 400, bad_data), e.g. a bad step or time. */
export class BadDataError extends PromQLError {
  constructor(message: string) {
    super(message, 'bad_data');
    this.name = 'BadDataError';
  }
}

/** An error while evaluating (HTTP 422, execution), e.g. many-to-many matching. */
export class ExecutionError extends PromQLError {
  constructor(message: string) {
    super(message, 'execution');
    this.name = 'ExecutionError';
  }
}

/** The query loaded more samples than allowed (HTTP 422, execution; Prometheus wording). */
export class TooManySamplesError extends PromQLError {
  constructor() {
    super('query processing would load too many samples into memory in query execution', 'execution');
    this.name = 'TooManySamplesError';
  }
}

/** The query ran longer than its timeout (HTTP 503, timeout). */
export class QueryTimeoutError extends PromQLError {
  constructor(where = 'query execution') {
    super(`query timed out in ${where}`, 'timeout');
    this.name = 'QueryTimeoutError';
  }
}

/** The query was canceled through its AbortSignal (HTTP 503, canceled). */
export class QueryCanceledError extends PromQLError {
  constructor(where = 'query execution') {
    super(`query was canceled in ${where}`, 'canceled');
    this.name = 'QueryCanceledError';
  }
}

/** A storage error while selecting series (HTTP 500/422 depending on the querier; internal). */
export class StorageError extends PromQLError {
  constructor(message: string, override readonly cause?: unknown) {
    super(message, 'internal');
    this.name = 'StorageError';
  }
}

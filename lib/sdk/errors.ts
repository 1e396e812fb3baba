// Errors of the plugin contract: a plugin throws them, the host turns them into exit codes, gRPC
// statuses and messages that name the offending key or grant.

/** A configuration error that names the offending key. */
export class ConfigError extends Error {
  constructor(public readonly key: string, message: string) {
    super(key ? `${key}: ${message}` : message);
    this.name = 'ConfigError';
  }
}

/** Raised when a capability call is outside the plugin's grant. */
export class PermissionDenied extends Error {
  constructor(
    public readonly pluginId: string,
    public readonly api: string,
    public readonly descriptor: string,
    public readonly manifestKey: string,
    /** Why, when it is not simply a missing grant (e.g. the plugin's own manifest does not ask for it). */
    public readonly reason?: string,
  ) {
    super(reason
      ? `permission denied: plugin ${pluginId} called ${api}(${descriptor}): ${reason}`
      : `permission denied: plugin ${pluginId} called ${api}(${descriptor}); grant it with ${manifestKey} in plugins.yaml`);
    this.name = 'PermissionDenied';
  }
}

/** gRPC status codes (the subset of grpc's codes.proto a handler typically throws). */
export const GrpcStatus = {
  OK: 0, Cancelled: 1, Unknown: 2, InvalidArgument: 3, DeadlineExceeded: 4, NotFound: 5, AlreadyExists: 6,
  PermissionDenied: 7, ResourceExhausted: 8, FailedPrecondition: 9, Aborted: 10, OutOfRange: 11,
  Unimplemented: 12, Internal: 13, Unavailable: 14, DataLoss: 15, Unauthenticated: 16,
} as const;

/** Go's codes.Code.String() of each code: the grpc_code label, gRPC error texts. */
export const GRPC_CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];
export function grpcCodeName(code: number): string {
  return GRPC_CODE_NAMES[code] ?? `Code(${code})`;
}

/** Throw from a GrpcMethod handler to answer with this status; other errors become Unknown (2). */
export class GrpcError extends Error {
  constructor(public readonly code: number, message: string) {
    super(message);
    this.name = 'GrpcError';
  }
}

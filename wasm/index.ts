// Placeholder until the core kernels land (issue 3).
export function version(): i32 { return 1; }

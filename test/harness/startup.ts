// How long a test waits for a process it started (ours under tsx, Prometheus, Alertmanager, ...) to
// become ready. Startup is bounded by the machine, not by the code under test: a fresh clone compiles
// every TypeScript file on the first start, and CI runs two test files at once on two cores. A short
// limit here only turns a slow machine into a failed test (seen: `thanos rule` not ready within
// 20 s on a loaded machine), so the limit catches hangs, and what a test asserts about speed it
// asserts with its own limits after the process is ready.
export const STARTUP_MS = 120_000;

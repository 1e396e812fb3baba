// Linux only (/proc), as the suites and benchmarks that use it: they start the component as a child process.
// The one owner of reading a process's CPU time and memory figures from /proc (tests and bench/).
import * as fs from 'node:fs';

/** /proc's clock tick: USER_HZ is 100 on Linux, so utime/stime count 10 ms ticks. */
const TICK_MS = 1000 / 100;

/**
 * utime + stime of a process (all its threads) in ms, from /proc/<pid>/stat ('self' for this
 * process). Throws when it cannot be read (the process is gone, no /proc) unless `orElse` is given.
 */
export function procCpuMs(pid: number | 'self', orElse?: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name (which may contain spaces): state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch (e) {
    if (orElse !== undefined) return orElse;
    throw e;
  }
}

/** utime and stime of a process separately, in seconds. */
export function procCpuSplitS(pid: number | 'self'): { user: number; system: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: (Number(f[11]) * TICK_MS) / 1000, system: (Number(f[12]) * TICK_MS) / 1000 };
}

/**
 * A /proc/<pid>/status memory field in MiB (VmHWM: peak RSS, VmRSS: current). Throws when it
 * cannot be read unless `orElse` is given.
 */
export function procStatusMiB(pid: number | 'self', field: 'VmHWM' | 'VmRSS', orElse?: number): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    if (!m) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]) / 1024;
  } catch (e) {
    if (orElse !== undefined) return orElse;
    throw e;
  }
}

/**
 * A process's CPU time (user + system, all threads) sampled every 50 ms from /proc. A wait
 * the second client sees is a stall of the process under test only if that process was busy during
 * it: on a machine at load 40 a probe can wait seconds while the process gets no CPU, and that is the
 * machine, not a frozen event loop. A real freeze (a 2 s regex on the event loop) burns CPU for its length.
 */
export class ProcessCpu {
  private samples: Array<{ at: number; cpuMs: number }> = [];
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private pid: number) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), 50);
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    const cpuMs = procCpuMs(this.pid, NaN);
    if (!Number.isNaN(cpuMs)) this.samples.push({ at: Date.now(), cpuMs }); // NaN: the process is gone
  }

  /** CPU the process used in [from, to], widened to the samples around it (at most 50 ms each side). */
  between(from: number, to: number): number {
    let a = this.samples[0], b = this.samples[this.samples.length - 1];
    for (const x of this.samples) {
      if (x.at <= from) a = x;
      if (x.at >= to) { b = x; break; }
    }
    return a && b ? b.cpuMs - a.cpuMs : Infinity;
  }
}


// Linux only (/proc), as the suites that use it: they start the component as a child process.
import * as fs from 'node:fs';

/**
 * A process's CPU time (user + system, all threads) sampled every 50 ms from /proc. A wait
 * the second client sees is a stall of the process under test only if that process was busy during
 * it: on a machine at load 40 a probe can wait seconds while the process gets no CPU, and that is the
 * machine, not a frozen event loop. A real freeze (a 2 s regex on the event loop) burns CPU for its length.
 */
export class ProcessCpu {
  private samples: Array<{ at: number; cpuMs: number }> = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly tickMs = 1000 / 100; // USER_HZ: /proc reports clock ticks of 10 ms on Linux

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
    try {
      const stat = fs.readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      this.samples.push({ at: Date.now(), cpuMs: (Number(f[11]) + Number(f[12])) * this.tickMs });
    } catch { /* the process is gone */ }
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


import { readFileSync } from 'node:fs';

/** Linux clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every mainstream kernel). */
const CLOCK_TICKS = 100;

export interface ProcessUsage {
  /** Average CPU over the window, in percent of one core (200 = two cores busy). */
  cpuPercent: number;
  /** Highest resident set size seen while sampling, in MiB. */
  peakRssMiB: number;
  /** Resident set size at the end of the window, in MiB. */
  endRssMiB: number;
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; fields after its closing paren are fixed.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS;
}

/** Resident set size in MiB, from /proc/<pid>/status. */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : 0;
}

/**
 * Samples one process (the server under test) while a load runs: CPU time between start()
 * and stop(), and peak RSS polled every `intervalMs`. Linux only (/proc); elsewhere it reports
 * nothing rather than failing the benchmark.
 */
export class ProcessSampler {
  private timer: NodeJS.Timeout | undefined;
  private startCpu = 0;
  private startWall = 0;
  private peak = 0;
  private available = true;

  constructor(
    private readonly pid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): void {
    try {
      this.startCpu = cpuSeconds(this.pid);
      this.peak = rssMiB(this.pid);
    } catch {
      this.available = false;
      return;
    }
    this.startWall = performance.now();
    this.timer = setInterval(() => {
      try {
        this.peak = Math.max(this.peak, rssMiB(this.pid));
      } catch {
        // the process exited; stop() reports what was seen
      }
    }, this.intervalMs);
    this.timer.unref();
  }

  stop(): ProcessUsage | undefined {
    if (this.timer) clearInterval(this.timer);
    if (!this.available) return undefined;
    try {
      const cpu = cpuSeconds(this.pid) - this.startCpu;
      const wall = (performance.now() - this.startWall) / 1000;
      const end = rssMiB(this.pid);
      this.peak = Math.max(this.peak, end);
      return { cpuPercent: wall > 0 ? (100 * cpu) / wall : 0, peakRssMiB: this.peak, endRssMiB: end };
    } catch {
      return undefined;
    }
  }
}

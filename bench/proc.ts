/**
 * Memory and CPU of the processes under test, from Linux /proc (the bench
 * prints nothing for them elsewhere): the service, and the database and
 * Redis servers when this process started them.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcSample {
  pid: number;
  name: string;
  rssBytes: number;
  peakRssBytes: number;
  /** user + system CPU time so far */
  cpuMs: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every mainstream Linux build

export function sample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the name is in parentheses and may itself contain spaces or parentheses
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    // fields[11], fields[12]: utime and stime (fields 14 and 15 of proc(5), counted from state)
    const cpuMs = ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
    return { pid, name, rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), cpuMs };
  } catch {
    return undefined;
  }
}

/** Direct children of this process (the service, FerretDB or mongod, redis-server). */
export function children(): ProcSample[] {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return [];
  }
  const found: ProcSample[] = [];
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
    } catch {
      continue; // exited while we looked
    }
    const s = sample(Number(pid));
    if (s) found.push(s);
  }
  return found;
}

export interface CpuShare {
  name: string;
  /** % of one core over the measured time */
  percent: number;
}

/**
 * CPU of each child process (the targets, the database, Redis) and of this
 * one (the load generator) from construction to the first stop(), busiest first.
 */
export class CpuMeter {
  private readonly before = children();
  private readonly selfBefore = process.cpuUsage();
  private readonly t0 = performance.now();
  private result: CpuShare[] | undefined;

  /** @param labels names for some pids (the target's processes); others go by their process name */
  constructor(private readonly labels: Map<number, string>) {}

  stop(): CpuShare[] {
    if (this.result) return this.result;
    const ms = performance.now() - this.t0;
    const self = process.cpuUsage(this.selfBefore);
    const shares = children().flatMap((a) => {
      const b = this.before.find((x) => x.pid === a.pid);
      // esbuild is tsx's transpiler for this process: idle once the bench is loaded
      if (!b || a.name === 'esbuild') return [];
      return [{ name: this.labels.get(a.pid) ?? a.name, percent: ((a.cpuMs - b.cpuMs) / ms) * 100 }];
    });
    shares.push({ name: 'generator', percent: ((self.user + self.system) / 1000 / ms) * 100 });
    this.result = shares.sort((x, y) => y.percent - x.percent);
    return this.result;
  }
}

// `npm run bench [-- --pairs 100 --rate 200 --duration 10 | --smoke]`: starts
// the service in a child process on throwaway data, sets up visitor/agent
// pairs over REST, drives them with an open-loop message load over WebSocket
// and prints throughput, latency, loss, duplicates and the service's memory.
// Exits 1 when a message was lost, duplicated, misordered or misrouted; slow
// is reported, not failed.
import { parseArgs } from 'node:util';
import { runLoad } from './load.js';
import { type ProcSample, children, sample } from './proc.js';
import { startService } from './service.js';
import { createPairs } from './setup.js';
import { latency, mb, perSecond, summarize, table } from './stats.js';

const log = (line: string) => console.error(`[bench] ${line}`);

const USAGE = `usage: npm run bench -- [--pairs N] [--rate MSGS_PER_S] [--duration S] [--drain S] [--smoke]
  --pairs     visitor/agent pairs, each in its own session (default 100)
  --rate      messages per second offered, all clients together (default 200)
  --duration  seconds of load (default 10)
  --drain     after the load, seconds without progress before missing messages count as lost (default 10)
  --smoke     5 pairs for 2 s: a quick sanity run for CI`;

function options() {
  const { values } = parseArgs({
    options: {
      pairs: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      drain: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const number = (name: string, raw: string | undefined, fallback: number, max: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0 || n > max) throw new Error(`--${name} ${raw}: expected a number above 0 and at most ${max}\n${USAGE}`);
    return n;
  };
  const smoke = values.smoke;
  return {
    pairs: Math.round(number('pairs', values.pairs, smoke ? 5 : 100, 5000)),
    rate: number('rate', values.rate, 200, 100_000),
    durationS: number('duration', values.duration, smoke ? 2 : 10, 3600),
    drainS: number('drain', values.drain, 10, 600),
  };
}

/** CPU share of each process between two samples, as "name 85%". */
function cpuShares(servicePid: number, before: ProcSample[], after: ProcSample[], ms: number, self: { before: NodeJS.CpuUsage; after: NodeJS.CpuUsage }): string {
  const parts = after.flatMap((a) => {
    const b = before.find((x) => x.pid === a.pid);
    // esbuild is tsx's transpiler for this process: idle once the bench is loaded
    if (!b || a.name === 'esbuild') return [];
    return [`${a.pid === servicePid ? 'service' : a.name} ${(((a.cpuMs - b.cpuMs) / ms) * 100).toFixed(0)}%`];
  });
  const selfMs = (self.after.user + self.after.system - self.before.user - self.before.system) / 1000;
  parts.push(`load generator ${((selfMs / ms) * 100).toFixed(0)}%`);
  return parts.join(', ');
}

async function main(): Promise<number> {
  const opts = options();
  log(`starting the service (${opts.pairs} pairs, ${opts.rate} msg/s for ${opts.durationS} s)`);
  const service = await startService(log);
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= service.stop());
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop().then(() => process.exit(130)));
  try {
    const setupStart = performance.now();
    const pairs = await createPairs(service.url, opts.pairs);
    const setupMs = performance.now() - setupStart;
    log(`${pairs.length} pairs set up in ${(setupMs / 1000).toFixed(1)} s`);

    let cpuBefore: ProcSample[] = [];
    let cpuAfter: ProcSample[] = [];
    let selfBefore = process.cpuUsage();
    let selfAfter = selfBefore;
    const r = await runLoad(pairs, { wsUrl: service.wsUrl, rate: opts.rate, durationS: opts.durationS, drainS: opts.drainS, log }, {
      windowStart: () => {
        cpuBefore = children();
        selfBefore = process.cpuUsage();
      },
      windowEnd: () => {
        cpuAfter = children();
        selfAfter = process.cpuUsage();
      },
    });
    const mem = sample(service.pid);

    const seconds = r.windowMs / 1000;
    const allSeconds = (r.windowMs + r.drainMs) / 1000;
    const lost = r.issued - r.delivered;
    const notStored = r.issued - r.stored - r.sendErrors;
    const ok = lost === 0 && r.duplicates === 0 && r.outOfOrder === 0 && r.misrouted === 0;
    console.log(
      [
        '',
        `im-service bench: ${opts.pairs} pairs (${r.clients} WebSocket clients), ${opts.rate} msg/s offered for ${opts.durationS} s, ${service.backend}`,
        table([
          ['setup', `${opts.pairs} pairs over REST in ${(setupMs / 1000).toFixed(1)} s`],
          ['sent', `${r.issued} (${perSecond(r.issued, seconds)}; generator lag max ${r.generatorLagMs.toFixed(1)} ms)`],
          ['stored (sent acks)', `${r.stored}: ${perSecond(r.storedInWindow, seconds)} during the load, ${perSecond(r.stored, allSeconds)} overall`],
          ['delivered to peer', `${r.delivered}: ${perSecond(r.deliveredInWindow, seconds)} during the load, ${perSecond(r.delivered, allSeconds)} overall`],
          ['send → stored', latency(summarize(r.storeLatency))],
          ['send → delivered', latency(summarize(r.deliverLatency))],
          ['drain after load', `${(r.drainMs / 1000).toFixed(2)} s${r.drained ? '' : ` (gave up: no progress for ${opts.drainS} s)`}`],
          ['lost', `${lost}${notStored > 0 ? ` (${notStored} never stored)` : ''}${r.sendErrors > 0 ? ` (${r.sendErrors} send errors)` : ''}`],
          ['duplicates', String(r.duplicates)],
          ['out of order', String(r.outOfOrder)],
          ['misrouted', String(r.misrouted)],
          ['reconnects', String(r.reconnects)],
          ['service RSS', mem ? `${mb(mem.rssBytes)} (peak ${mb(mem.peakRssBytes)})` : 'n/a (no /proc)'],
          ['CPU during load', cpuAfter.length ? cpuShares(service.pid, cpuBefore, cpuAfter, r.windowMs, { before: selfBefore, after: selfAfter }) : 'n/a (no /proc)'],
        ]),
        '',
        ok ? 'PASS: no loss, no duplicates, in order' : 'FAIL: messages were lost, duplicated, misordered or misrouted',
      ].join('\n'),
    );
    return ok ? 0 : 1;
  } finally {
    await stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(2);
  },
);

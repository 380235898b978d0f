/** The bench's command line: flags, defaults, checks. */
import { parseArgs } from 'node:util';
import { TARGETS, type TargetName } from './target.js';

export interface Options {
  targets: TargetName[];
  instances: number;
  pairs: number;
  /** offered rates, ascending; undefined: no sweep */
  sweep: number[] | undefined;
  /** after the sweep, how many times to halve each target's step between its last sustained and first missed rate */
  refine: number;
  /** idle connections per target; undefined: no idle scenario */
  idle: number | undefined;
  /** the failover scenario (ours only): idle clients on the instance killed, and the pairs' rate meanwhile; undefined: not run */
  failover: { idle: number; rate: number } | undefined;
  durationS: number;
  drainS: number;
  /** seconds at each rate before each target's measured run, not reported */
  warmupS: number;
  holdS: number;
  heartbeatS: number;
}

export const DEFAULT_SWEEP = [100, 200, 400, 700, 1000];
/** idle scenario: the end of the hold that counts as settled (the "held" memory) */
export const STEADY_S = 30;
/**
 * idle scenario: how long the connections are held by default. A process
 * whose heartbeats keep allocating a few MB a second is never "quiet" to
 * V8's memory reducer, which then hands the heap back only through its
 * watchdog: 100 s after the last full GC (checked every 8 s), and that GC
 * comes while connecting. So the last STEADY_S seconds of this hold are past
 * it; a shorter one measures where in that wait the window falls.
 */
export const DEFAULT_HOLD_S = 150;
/** idle scenario: the start of the hold that counts as just after connecting */
export const EARLY_S = 15;

export const USAGE = `usage: npm run bench -- [--target ours|r0|r1|r1d|all] [--instances 1|2] [--sweep R1,R2,...] [--idle N] [--failover N] [--smoke] [...]
  --target     what to load: ours (the service), r0 (bare ws relay), r1 (ws + batched
               insertMany + Redis pub/sub), r1d (r1 storing the service's message documents
               under its dedup index; swept only), all (default)
  --instances  processes per target (default 1); with 2, each pair's visitor is on one and
               its agent on the other (r0 has no cross-process path and is skipped)
  --sweep      offered rates in msg/s, all clients together (default ${DEFAULT_SWEEP.join(',')});
               a rate missed is tried once more; a target's sweep stops at the first missed twice
  --refine     then halve each target's step between its last sustained and its first missed
               rate this many times, each halfway rate tried like the others (default 2, 0 with --smoke)
  --idle       open N idle authenticated connections to one process of each target and
               measure its memory per connection (runs alone unless --sweep is given too)
  --failover   ours only, two instances: the pairs chat at --failover-rate while one instance,
               holding their visitors and N more idle visitors, is SIGKILLed; reports how long
               until every client it held is back (on the other) and that nothing was lost
               (runs alone unless --sweep is given too)
  --failover-rate  msg/s offered during the failover scenario (default 1000)
  --pairs      visitor/agent pairs for the sweep, each in its own session (default 100)
  --duration   seconds of load per rate (default 10)
  --drain      after a rate's load, seconds without progress before missing messages count as lost (default 10)
  --warmup     seconds at each rate before each target's measured run, not reported (default 2)
  --hold       seconds the idle connections are held (default ${DEFAULT_HOLD_S}: the held memory is the median
               of the last ${STEADY_S} s, once V8 has handed back what connecting left)
  --heartbeat  HEARTBEAT_SECONDS of every target (default 25, the service's own default)
  --smoke      5 pairs, 200 msg/s for 2 s, every target: a sanity run of seconds`;

export function options(argv?: string[]): Options {
  const { values } = parseArgs({
    ...(argv ? { args: argv } : {}),
    options: {
      target: { type: 'string' },
      instances: { type: 'string' },
      sweep: { type: 'string' },
      refine: { type: 'string' },
      idle: { type: 'string' },
      failover: { type: 'string' },
      'failover-rate': { type: 'string' },
      pairs: { type: 'string' },
      duration: { type: 'string' },
      drain: { type: 'string' },
      warmup: { type: 'string' },
      hold: { type: 'string' },
      heartbeat: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const fail = (message: string): never => {
    throw new Error(`${message}\n${USAGE}`);
  };
  const number = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} ${raw}: expected a number from ${min} to ${max}`);
    return n;
  };

  const target = values.target ?? 'all';
  if (target !== 'all' && !(TARGETS as readonly string[]).includes(target)) fail(`--target ${target}: expected ours, r0, r1, r1d or all`);
  const instances = number('instances', values.instances, 1, 1, 2);
  if (!Number.isInteger(instances)) fail('--instances: expected 1 or 2');

  const smoke = values.smoke;
  const rates = values.sweep?.split(',').map((r) => number('sweep', r.trim(), 0, 1, 100_000));
  const idle = values.idle === undefined ? undefined : Math.round(number('idle', values.idle, 0, 1, 15_000));
  const failover =
    values.failover === undefined
      ? undefined
      : { idle: Math.round(number('failover', values.failover, 0, 0, 15_000)), rate: number('failover-rate', values['failover-rate'], 1000, 1, 100_000) };
  if (values['failover-rate'] !== undefined && !failover) fail('--failover-rate needs --failover');
  if (target === 'r1d' && !rates && !smoke) fail('--target r1d: it is swept only (its idle connections are R1\'s); give --sweep');
  return {
    targets: target === 'all' ? [...TARGETS] : [target as TargetName],
    instances,
    pairs: Math.round(number('pairs', values.pairs, smoke ? 5 : 100, 1, 5000)),
    sweep: rates ? [...new Set(rates)].sort((a, b) => a - b) : idle !== undefined || failover ? undefined : smoke ? [200] : DEFAULT_SWEEP,
    refine: Math.round(number('refine', values.refine, smoke ? 0 : 2, 0, 10)),
    idle,
    failover,
    durationS: number('duration', values.duration, smoke ? 2 : 10, 0.5, 3600),
    drainS: number('drain', values.drain, 10, 1, 600),
    warmupS: number('warmup', values.warmup, smoke ? 0 : 2, 0, 60),
    holdS: number('hold', values.hold, DEFAULT_HOLD_S, 1, 3600),
    heartbeatS: Math.round(number('heartbeat', values.heartbeat, 25, 1, 600)),
  };
}

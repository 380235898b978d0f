/**
 * Idle connections: N authenticated SDK clients on one target process, held
 * with heartbeats running (the client's `ping` frames and the server's
 * WebSocket pings), to see how many a process holds and what each costs.
 * Memory per connection, four ways:
 * - RSS while held: the growth of the process's RSS from just before the
 *   first connection to the median of the samples of the hold's last
 *   STEADY_S seconds: what holding the connections costs once the process
 *   has settled. Connecting leaves garbage, and V8 hands the heap it took
 *   back only when its memory reducer runs: for a process with heartbeats
 *   running, through its watchdog, 100-108 s after the last full GC (see
 *   DEFAULT_HOLD_S), so the hold must be long enough for that;
 * - RSS just after connecting: the same growth over the hold's first
 *   EARLY_S seconds, garbage and heap not yet handed back included;
 * - RSS after a full GC: the growth with each end read right after a full
 *   collection (through the inspector): what the connections themselves keep;
 * - live heap: the JavaScript objects still referenced, after a full GC.
 * Each is a median of samples, so one collection either side does not decide it.
 */
import WebSocket from 'ws';
import { ImClient } from '../src/client/index.js';
import { type CpuMeter, type CpuShare, sample } from './proc.js';
import { EARLY_S, STEADY_S } from './options.js';
import { percentile } from './stats.js';
import { withTimeout } from './load.js';
import { type LiveMemory, liveMemory } from './heap.js';
import type { Target } from './target.js';

export interface IdleResult {
  connections: number;
  /** still connected at the end of the hold */
  held: number;
  disconnects: number;
  /** from the first connect to the last `ready` */
  connectMs: number;
  rssBeforeBytes: number;
  /** the median RSS of the hold's last STEADY_S seconds */
  rssAfterBytes: number;
  bytesPerConnection: number;
  /** the same over the hold's first EARLY_S seconds, right after the connects */
  earlyBytesPerConnection: number;
  /** live heap after a full GC, before connecting and while held (bench/heap.ts); absent without an inspector */
  heapBeforeBytes?: number;
  heapHeldBytes?: number;
  heapPerConnection?: number;
  /**
   * RSS growth with the garbage gone: RSS right after a full GC while held,
   * minus the same before connecting. RSS while held also counts what the
   * connecting left for the collector and heap V8 has not handed back yet.
   */
  settledRssPerConnection?: number;
  /** while connecting: what authentication costs, and where */
  connectCpu: CpuShare[];
  /** during the hold: what the heartbeats cost */
  holdCpu: CpuShare[];
}

/** connections opening at once: enough to be quick, few enough not to overflow the listen backlog */
const PARALLEL = 200;
const SAMPLE_EVERY_MS = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function holdIdle(target: Target, opts: { count: number; holdS: number; log: (line: string) => void; cpu: () => CpuMeter }): Promise<IdleResult> {
  const proc = target.processes[0]!;
  const tokensStart = performance.now();
  const tokens = await target.idleTokens(opts.count);
  opts.log(`${target.name}: ${tokens.length} tokens in ${((performance.now() - tokensStart) / 1000).toFixed(1)} s`);
  await sleep(1000);
  const memBefore = await liveHeap(proc.inspectorUrl, opts.log);
  const before = sample(proc.pid);
  if (!before) throw new Error('the idle scenario needs /proc to read the target process memory');

  const clients: ImClient[] = [];
  let disconnects = 0;
  const start = performance.now();
  const connectCpu = opts.cpu();
  try {
    await connectClients(tokens, proc.wsUrl, clients, {
      onReady: (client) =>
        client.on('state', (s) => {
          if (s.newState === 'disconnected') disconnects++;
        }),
    });
    const connectMs = performance.now() - start;
    connectCpu.stop();
    opts.log(`${target.name}: ${clients.length} idle clients connected in ${(connectMs / 1000).toFixed(1)} s; holding ${opts.holdS} s`);

    const rss: number[] = [];
    const holdCpu = opts.cpu();
    for (let t = 0; t < opts.holdS * 1000; t += SAMPLE_EVERY_MS) {
      await sleep(SAMPLE_EVERY_MS);
      const s = sample(proc.pid);
      if (s) rss.push(s.rssBytes);
    }
    holdCpu.stop();
    opts.log(`  RSS while held, every ${SAMPLE_EVERY_MS / 1000} s: ${rss.map((b) => Math.round(b / 1048576)).join(' ')} MB`);
    const memHeld = await liveHeap(proc.inspectorUrl, opts.log);
    const samplesIn = (seconds: number) => Math.max(1, Math.round((seconds * 1000) / SAMPLE_EVERY_MS));
    const median = (samples: number[]) => (samples.length ? percentile(samples.sort((a, b) => a - b), 50) : before.rssBytes);
    const after = median(rss.slice(-samplesIn(STEADY_S)));
    const early = median(rss.slice(0, samplesIn(EARLY_S)));
    return {
      connections: opts.count,
      held: clients.filter((c) => c.state === 'connected').length,
      disconnects,
      connectMs,
      rssBeforeBytes: before.rssBytes,
      rssAfterBytes: after,
      bytesPerConnection: (after - before.rssBytes) / opts.count,
      earlyBytesPerConnection: (early - before.rssBytes) / opts.count,
      ...(memBefore !== undefined && memHeld !== undefined
        ? {
            heapBeforeBytes: memBefore.heapUsed,
            heapHeldBytes: memHeld.heapUsed,
            heapPerConnection: (memHeld.heapUsed - memBefore.heapUsed) / opts.count,
            settledRssPerConnection: (memHeld.rss - memBefore.rss) / opts.count,
          }
        : {}),
      connectCpu: connectCpu.stop(),
      holdCpu: holdCpu.stop(),
    };
  } finally {
    for (const c of clients) c.close();
  }
}

/**
 * Connects a client per token to `url`, PARALLEL at a time, each added to
 * `clients` as it is made (for the caller to close, however this ends);
 * resolves once every one is ready; `onReady` hears of each as it gets
 * ready. After a failure the openers stop.
 */
export async function connectClients(
  tokens: string[],
  url: string,
  clients: ImClient[],
  opts: { WebSocket?: new (url: string) => WebSocket; onReady?: (client: ImClient) => void } = {},
): Promise<void> {
  let next = 0;
  const open = async () => {
    while (next < tokens.length) {
      const client = new ImClient({ url, token: tokens[next++]!, WebSocket: opts.WebSocket ?? WebSocket });
      clients.push(client);
      await new Promise<void>((resolve, reject) => {
        const offReady = client.on('ready', () => {
          offReady();
          offState();
          resolve();
        });
        const offState = client.on('state', (s) => {
          if (s.newState === 'closed') reject(new Error(`an idle client could not connect: ${s.code ?? ''} ${s.reason ?? ''}`));
        });
        client.connect();
      });
      opts.onReady?.(client);
    }
  };
  try {
    await withTimeout(Promise.all(Array.from({ length: PARALLEL }, open)), 600_000, `${tokens.length} idle clients did not all connect`);
  } finally {
    next = tokens.length; // after a failure, the other openers stop too
  }
}

/** Memory after a full GC, or undefined (said in the log) when the process has no inspector or it does not answer. */
async function liveHeap(inspectorUrl: string | undefined, log: (line: string) => void): Promise<LiveMemory | undefined> {
  if (!inspectorUrl) return undefined;
  try {
    const m = await liveMemory(inspectorUrl);
    log(`  after a full GC: ${describe(m)}`);
    return m;
  } catch (err) {
    log(`live heap not measured: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

const MB = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
const describe = (m: LiveMemory) =>
  `rss ${MB(m.rss)}, heap ${MB(m.heapUsed)} used of ${MB(m.heapTotal)}, external ${MB(m.external)} (array buffers ${MB(m.arrayBuffers)})`;

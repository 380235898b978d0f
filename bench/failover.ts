/**
 * The failover scenario (`--failover N`): two instances of ours; the pairs
 * chat, each pair's visitor on one and its agent on the other (Fleet.connect:
 * half the visitors and half the agents on each), and as many bystander pairs
 * chat wholly on the second, the two groups sharing the rate; N idle
 * visitors are on the first as well. A third of the
 * way into the run the first instance is SIGKILLed. Its clients reconnect
 * through a stand-in for a load balancer that has taken the dead instance
 * out of its pool at once (a real one notices within its health-check
 * interval, which adds to every figure here), sync what they missed and
 * resend what was not answered. Reported: how long until each client the
 * dead instance held was ready again on the other (the reconnect storm:
 * the SDK's jittered backoff spreads it), whether the chat lost, duplicated
 * or reordered anything across it, which it must not, and what the storm
 * did to the bystanders' chat, whose instance took it.
 * Ours only: the baseline relays have no catch-up to fail over with.
 */
import WebSocket from 'ws';
import { ImClient } from '../src/client/index.js';
import { connectClients } from './idle.js';
import { Fleet, withTimeout, type LoadResult } from './load.js';
import { latency, ms, summarize } from './stats.js';
import type { Target } from './target.js';

export interface FailoverOptions {
  /** idle visitors on the instance killed, besides the pairs' visitors */
  idle: number;
  /** msg/s offered throughout, half by the pairs, half by the bystanders */
  rate: number;
  pairs: number;
  durationS: number;
  drainS: number;
  log: (line: string) => void;
}

export interface FailoverResult {
  rate: number;
  /** the pairs split across the instances (as many bystander pairs chat on the second) */
  pairs: number;
  /** clients the killed instance held: the split pairs' members on it, then the idle ones */
  held: { chatting: number; idle: number };
  /** seconds into the run the instance was killed */
  killedAtS: number;
  /** per client the killed instance held that came back: ms from the kill until it was ready again */
  backMs: number[];
  /** the pairs split across the instances */
  load: LoadResult;
  /** the pairs wholly on the instance that survived */
  bystanders: LoadResult;
  /**
   * what the instance that survived refused during the run, by reason
   * (im_refusals_total): upgrades turned back for overload are clients sent
   * to retry by their backoff, which is what made the last of them slow once
   */
  refused: Record<string, number>;
}

/** how long the clients of the killed instance get to come back */
const BACK_WITHIN_MS = 120_000;

/**
 * A WebSocket that goes where a load balancer would send it: to the
 * instance asked for while it is alive, else to the first live one.
 */
function balanced(urls: string[], dead: Set<string>): new (url: string) => WebSocket {
  return class extends WebSocket {
    constructor(url: string) {
      super(dead.has(url) ? (urls.find((u) => !dead.has(u)) ?? url) : url);
    }
  };
}

export async function failover(target: Target, opts: FailoverOptions): Promise<FailoverResult> {
  if (target.processes.length < 2) throw new Error('the failover scenario needs two instances');
  const urls = target.processes.map((p) => p.wsUrl);
  const dead = new Set<string>();
  const Balanced = balanced(urls, dead);

  const fleet = await Fleet.connect(await target.pairs(opts.pairs), urls, opts.log, Balanced);
  const idle: ImClient[] = [];
  let bystanders: Fleet | undefined;
  try {
    bystanders = await Fleet.connect(await target.pairs(opts.pairs), [urls[1]!], opts.log);
    await connectClients(await target.idleTokens(opts.idle), urls[0]!, idle, { WebSocket: Balanced });
    opts.log(`failover: ${opts.pairs} pairs split across the instances, ${opts.pairs} on ${urls[1]} and ${idle.length} idle visitors connected; ${urls[0]} is killed a third of the way into the run`);

    // every client the first instance holds: half the pairs' visitors, half their agents, and the idle visitors
    const held = [...fleet.clientsOn(0), ...idle];
    let killedAt = 0;
    const backMs: number[] = [];
    const returned = new Set<ImClient>();
    let allBack: () => void = () => {};
    const back = new Promise<void>((resolve) => (allBack = resolve));
    for (const client of held) {
      client.on('ready', () => {
        if (killedAt === 0 || returned.has(client)) return;
        returned.add(client);
        backMs.push(performance.now() - killedAt);
        if (returned.size === held.length) allBack();
      });
    }
    const survivor = target.processes[1]!.url;
    const refusedBefore = await refusals(survivor);
    let runStart = 0;
    let killTimer: NodeJS.Timeout | undefined;
    const run = { rate: opts.rate / 2, durationS: opts.durationS, drainS: opts.drainS };
    const [load, calm] = await Promise.all([
      fleet.run(run, {
        windowStart() {
          runStart = performance.now();
          killTimer = setTimeout(() => {
            dead.add(urls[0]!);
            killedAt = performance.now();
            process.kill(target.processes[0]!.pid, 'SIGKILL');
            opts.log(`failover: SIGKILLed ${urls[0]} holding ${held.length} clients`);
          }, (opts.durationS * 1000) / 3);
        },
        windowEnd() {},
      }),
      bystanders.run(run, { windowStart() {}, windowEnd() {} }),
    ]);
    clearTimeout(killTimer);
    if (killedAt > 0) await withTimeout(back, BACK_WITHIN_MS, 'the killed instance’s clients were not all back').catch((err: unknown) => opts.log(String(err)));
    const refused = await refusals(survivor);
    for (const [reason, before] of Object.entries(refusedBefore)) refused[reason] = (refused[reason] ?? 0) - before;
    return { rate: opts.rate, pairs: opts.pairs, held: { chatting: held.length - idle.length, idle: idle.length }, killedAtS: (killedAt - runStart) / 1000, backMs, load, bystanders: calm, refused };
  } finally {
    for (const client of idle) client.close();
    bystanders?.close();
    fleet.close();
  }
}

/** An instance's refusals so far, by reason, from its /metrics. */
async function refusals(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const [, reason, value] of text.matchAll(/^im_refusals_total\{reason="([^"]+)"\} (\S+)$/gm)) counts[reason!] = Number(value);
  return counts;
}

/** Whether the scenario kept every promise: nothing lost, duplicated, reordered or misrouted, and everyone back. */
export function failoverCorrect(f: FailoverResult): boolean {
  const whole = (r: LoadResult) => r.delivered === r.issued && r.duplicates === 0 && r.outOfOrder === 0 && r.misrouted === 0;
  return whole(f.load) && whole(f.bystanders) && f.backMs.length === f.held.chatting + f.held.idle;
}

export function describeFailover(f: FailoverResult): string {
  const total = f.held.chatting + f.held.idle;
  const back = summarize(f.backMs);
  const chat = (r: LoadResult) =>
    `issued ${r.issued}, stored ${r.stored}, delivered ${r.delivered}, lost ${r.issued - r.delivered}, dups ${r.duplicates}, order ${r.outOfOrder}, misrouted ${r.misrouted}, send errors ${r.sendErrors}; send→deliver ${latency(summarize(r.deliverLatency))}`;
  return [
    `Failover: 2 instances of ours, ${f.rate} msg/s offered by ${f.pairs} pairs split across them and as many bystander pairs on the second; the first, holding ${f.held.chatting} of the split pairs' members and ${f.held.idle} idle visitors, SIGKILLed ${f.killedAtS.toFixed(1)} s into the run`,
    `  back on the other instance: ${back.count} of ${total} clients, ready again after p50 ${ms(back.p50)}, p99 ${ms(back.p99)}, the last ${ms(back.max)}`,
    `  the split pairs' chat: ${chat(f.load)}`,
    `  the bystanders' chat: ${chat(f.bystanders)}`,
    `  refused by the instance that survived: ${refusedText(f.refused)}`,
  ].join('\n');
}

function refusedText(refused: Record<string, number>): string {
  const some = Object.entries(refused).filter(([, n]) => n > 0);
  return some.length === 0 ? 'nothing' : some.map(([reason, n]) => `${n} (${reason})`).join(', ');
}

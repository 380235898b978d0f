/**
 * What the load runs against: the service ("ours") or a baseline relay
 * (R0, R1), as one or more processes on the shared database and Redis, each
 * with a fresh database and Redis prefix. All three are driven by the same
 * SDK clients; only how pairs and tokens come to exist differs.
 */
import { randomBytes } from 'node:crypto';
import { freePort } from '../src/embedded/free-port.js';
import { startProcess, type TargetProcess } from './child.js';
import type { Infra } from './infra.js';
import { createPairs, createVisitors, type Pair } from './setup.js';

export const TARGETS = ['ours', 'r0', 'r1', 'r1d'] as const;
export type TargetName = (typeof TARGETS)[number];

export const DESCRIPTIONS: Record<TargetName, string> = {
  ours: 'the service',
  r0: 'R0, bare ws relay',
  r1: 'R1, ws + batched insertMany + Redis pub/sub',
  r1d: "R1d, R1 storing the service's message documents under its unique (cid, session, sender) index",
};

/**
 * Targets swept for their rate only. R1d holds connections exactly as R1
 * does, so its idle scenario would repeat R1's.
 */
export const RATE_ONLY: readonly TargetName[] = ['r1d'];

export const ADMIN_TOKEN = 'bench-operator-token-0123456789';

export interface Target {
  name: TargetName;
  /** one per instance, in the order clients are spread over them */
  processes: TargetProcess[];
  pairs(count: number): Promise<Pair[]>;
  /** tokens of accounts that may connect and stay idle */
  idleTokens(count: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startTarget(name: TargetName, infra: Infra, opts: { instances: number; heartbeatS: number; log: (line: string) => void }): Promise<Target> {
  const unique = infra.fresh();
  const env: Record<string, string> = {
    HEARTBEAT_SECONDS: String(opts.heartbeatS),
    MONGODB_URL: infra.mongoUrl,
    MONGODB_DB: unique,
    REDIS_URL: infra.redisUrl,
    REDIS_PREFIX: unique,
  };
  if (name === 'ours') {
    Object.assign(env, {
      DATA_DIR: infra.dataDir,
      DEMO: 'false',
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN,
      // shared by the instances, so a token one issues is good at the other
      TOKEN_SECRET: randomBytes(36).toString('base64url'),
      // the cross-instance broker; a single instance could do with `memory`, but runs the same as two
      BROKER: 'redis',
      // Abuse limits per IP and per sender: the whole load comes from one address, at up to
      // 5 msg/s per client, so they would measure the limiter, not the service. 0 turns each off.
      REST_RATE_PER_MIN: '0',
      WS_CONNECT_PER_MIN: '0',
      MSG_RATE_PER_SEC: '0',
      MAX_CONNECTIONS: '0',
    });
  }
  if (name === 'r1d') env.R1_DOCUMENTS = 'service';
  // compiled by `npm run bench` first (prebench): what `npm start` runs, and the baselines alike
  const entry = { ours: 'dist/src/server.js', r0: 'dist/bench/baselines/r0-relay.js', r1: 'dist/bench/baselines/r1-store-relay.js', r1d: 'dist/bench/baselines/r1-store-relay.js' }[name];
  const processes: TargetProcess[] = [];
  const stop = async () => {
    for (const p of processes.splice(0).reverse()) await p.stop();
  };
  try {
    for (let i = 0; i < opts.instances; i++) {
      const label = opts.instances > 1 ? `${name}#${i + 1}` : name;
      processes.push(await startProcess({ label, entry, port: await freePort(), env, log: opts.log }));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  if (name === 'ours') {
    const url = processes[0]!.url;
    return { name, processes, pairs: (count) => createPairs(url, count, ADMIN_TOKEN), idleTokens: (count) => createVisitors(url, count, ADMIN_TOKEN), stop };
  }
  // a relay's account is its token (see baselines/relay.ts)
  return {
    name,
    processes,
    pairs: async (count) =>
      Array.from({ length: count }, (_, i) => ({
        sessionId: `pair-${i}`,
        visitor: { id: `pair-${i}-v`, token: `pair-${i}-v` },
        agent: { id: `pair-${i}-a`, token: `pair-${i}-a` },
      })),
    idleTokens: async (count) => Array.from({ length: count }, (_, i) => `idle-${i}-v`),
    stop,
  };
}

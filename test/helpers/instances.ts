/**
 * Service instances as real processes (src/server.ts, as `npm start` runs
 * it), sharing one database, Redis prefix and token secret: what a
 * deployment of several instances behind a load balancer looks like.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { freePort } from '../../src/embedded/free-port.js';
import { testUrls, uniqueName } from './infra.js';
import { ADMIN_TOKEN } from './service.js';

export interface Instance {
  port: number;
  url: string;
  wsUrl: string;
  child: ChildProcess;
  output(): string;
  /** resolves with the exit code (null when killed by a signal) */
  exited: Promise<number | null>;
}

export interface Cluster {
  db: string;
  prefix: string;
  env: Record<string, string>;
  start(): Promise<Instance>;
  /** Kills what still runs and drops the database and Redis keys the instances used. */
  cleanup(instances: Instance[]): Promise<void>;
}

export function cluster(dataDir: string, extraEnv: Record<string, string> = {}): Cluster {
  const { mongoUrl, redisUrl } = testUrls();
  const db = uniqueName('t');
  const prefix = uniqueName('imt');
  const env = {
    DATA_DIR: dataDir,
    MONGODB_URL: mongoUrl,
    MONGODB_DB: db,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN,
    TOKEN_SECRET: 'test-token-secret-0123456789-0123456789',
    DEMO: 'false',
    LOG_LEVEL: 'warn',
    ...extraEnv,
  };
  return {
    db,
    prefix,
    env,
    async start() {
      const port = await freePort();
      return startInstance(port, { ...env, PORT: String(port) });
    },
    async cleanup(instances) {
      for (const i of instances) if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
      await Promise.all(instances.map((i) => i.exited));
      const mongo = new MongoClient(mongoUrl);
      await mongo.db(db).dropDatabase();
      await mongo.close();
      const redis = new Redis(redisUrl);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    },
  };
}

async function startInstance(port: number, env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance on ${port} did not start: ${output}`)), 30_000);
    const check = () => {
      if (output.includes('IM service ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`instance on ${port} exited with ${code}: ${output}`));
    });
  });
  return { port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws`, child, output: () => output, exited };
}

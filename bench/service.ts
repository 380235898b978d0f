/**
 * The service under load, started the way an operator runs it: its own Node
 * process (`node --import tsx src/server.ts`), so the load generator's CPU is
 * not the service's. MongoDB and Redis come from MONGODB_URL / REDIS_URL, else
 * the embedded servers the tests use. Everything is throwaway: a temporary
 * DATA_DIR, a fresh database and Redis prefix, removed by stop().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { startEmbeddedMongo } from '../src/embedded/mongo.js';
import { startEmbeddedRedis } from '../src/embedded/redis.js';
import { freePort } from '../src/embedded/free-port.js';

export const ADMIN_TOKEN = 'bench-operator-token-0123456789';

export interface RunningService {
  url: string;
  wsUrl: string;
  pid: number;
  /** which database server answered: for the report */
  backend: string;
  stop(): Promise<void>;
}

const rootDir = fileURLToPath(new URL('..', import.meta.url));
const FORWARDED_LINES = 5;

export async function startService(log: (line: string) => void): Promise<RunningService> {
  const undo: Array<() => Promise<unknown>> = [];
  const stop = async () => {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch (err) {
        log(`clean-up failed: ${String(err)}`);
      }
    }
  };
  try {
    const dataDir = await mkdtemp(join(tmpdir(), 'im-bench-'));
    undo.push(() => rm(dataDir, { recursive: true, force: true }));
    const unique = `bench_${randomBytes(5).toString('hex')}`;

    let mongoUrl = process.env.MONGODB_URL;
    let backend = 'MongoDB at MONGODB_URL';
    if (mongoUrl) {
      const given = mongoUrl;
      undo.push(() => dropDatabase(given, unique));
    } else {
      const mongo = await startEmbeddedMongo({ dataDir, log });
      undo.push(() => mongo.stop());
      mongoUrl = mongo.url;
      backend = 'embedded MongoDB-compatible server';
    }
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const redis = await startEmbeddedRedis({ dataDir, log });
      undo.push(() => redis.stop());
      redisUrl = redis.url;
    }
    const sharedRedis = redisUrl;
    undo.push(() => deleteKeys(sharedRedis, `${unique}:*`));

    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: rootDir,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: String(port),
        MONGODB_URL: mongoUrl,
        MONGODB_DB: unique,
        REDIS_URL: redisUrl,
        REDIS_PREFIX: unique,
        DATA_DIR: dataDir,
        DEMO: 'false',
        LOG_LEVEL: 'warn',
        ADMIN_TOKEN,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = captureOutput(child, log);
    undo.push(async () => {
      await terminate(child);
      if (output.unshown() > 0) log(`[service] ${output.unshown()} more log lines not shown`);
    });

    const url = `http://127.0.0.1:${port}`;
    await waitUntilReady(url, child, output.tail);
    return { url, wsUrl: `ws://127.0.0.1:${port}/ws`, pid: child.pid!, backend, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * Keeps the service's last lines for a start-up failure. Its log (pino JSON
 * on stdout: warnings and errors at LOG_LEVEL=warn) is passed on as it comes;
 * stderr carries only the start banner, kept for the tail.
 */
function captureOutput(child: ChildProcess, log: (line: string) => void) {
  const lines: string[] = [];
  let logged = 0;
  const collect = (forward: boolean) => (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      lines.push(line);
      if (lines.length > 30) lines.shift();
      // an overloaded service can log one error per frame: show the first few, count the rest
      if (forward && ++logged <= FORWARDED_LINES) log(`[service] ${line.length > 400 ? `${line.slice(0, 400)}…` : line}`);
    }
  };
  child.stdout?.on('data', collect(true));
  child.stderr?.on('data', collect(false));
  return { tail: () => lines.join('\n'), unshown: () => Math.max(0, logged - FORWARDED_LINES) };
}

async function waitUntilReady(url: string, child: ChildProcess, tail: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the service exited while starting:\n${tail()}`);
    try {
      const res = await fetch(`${url}/health/ready`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the service was not ready within ${timeoutMs} ms:\n${tail()}`);
}

/** SIGTERM (graceful shutdown), then SIGKILL if it hangs. */
function terminate(child: ChildProcess, graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function dropDatabase(url: string, name: string): Promise<void> {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.db(name).dropDatabase();
  } finally {
    await client.close();
  }
}

async function deleteKeys(url: string, pattern: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    for await (const keys of redis.scanStream({ match: pattern, count: 500 }) as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys);
    }
  } finally {
    redis.disconnect();
  }
}

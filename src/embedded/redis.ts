import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './free-port.js';
import { sleep, spawnLogged, which } from './process.js';

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
  /** false when an already running Redis is used (and stop() leaves it alone) */
  embedded: boolean;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';

/**
 * A Redis for `npm start` and the tests when no REDIS_URL is given: the one
 * answering at `preferUrl` (default 127.0.0.1:6379) if any, else a
 * redis-server started on a free port with its files under `dataDir`.
 */
export async function startEmbeddedRedis(opts: {
  dataDir: string;
  log: (line: string) => void;
  preferUrl?: string;
}): Promise<EmbeddedRedis> {
  const preferUrl = opts.preferUrl ?? DEFAULT_URL;
  if (await answersPing(preferUrl)) {
    opts.log(`using the Redis at ${preferUrl}`);
    return { url: preferUrl, stop: async () => {}, embedded: false };
  }
  const redisServer = await which('redis-server');
  if (!redisServer) {
    throw new Error(
      'No Redis: set REDIS_URL, or start Redis on 127.0.0.1:6379, or install redis-server (apt-get install redis-server)',
    );
  }
  return spawnRedisServer({ ...opts, command: redisServer, port: await freePort() });
}

/** Exported for tests of the spawn path on a machine that already runs Redis. */
export async function spawnRedisServer(opts: {
  dataDir: string;
  log: (line: string) => void;
  command: string;
  port: number;
}): Promise<EmbeddedRedis> {
  const dir = join(opts.dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  const server = spawnLogged(
    opts.command,
    ['--port', String(opts.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir],
    // redis-server prints its banner and every save on stdout; keep it for errors only
    { log: opts.log, logPrefix: '[redis-server]', quietStdout: true },
  );
  const url = `redis://127.0.0.1:${opts.port}`;

  let exited = false;
  void server.exited.then(() => (exited = true));
  const deadline = Date.now() + 10_000;
  while (!(await answersPing(url))) {
    if (exited || Date.now() > deadline) {
      await server.stop();
      throw new Error(`redis-server did not answer PING at ${url}:\n${server.tail()}`);
    }
    await sleep(100);
  }
  opts.log(`redis-server ready at ${url}`);
  // SIGTERM makes redis-server flush the append-only file and exit cleanly
  return { url, stop: () => server.stop(), embedded: true };
}

async function answersPing(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 500,
    retryStrategy: () => null,
  });
  // connect() rejects with the same error; this only keeps ioredis from
  // printing "Unhandled error event" for a probe that is expected to fail
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

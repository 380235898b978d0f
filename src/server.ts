/**
 * The entry point (`npm start`): reads the configuration, brings up embedded
 * MongoDB-compatible and Redis servers when no URL is given, listens, and
 * shuts down gracefully on SIGTERM/SIGINT (drain WebSockets with 1012, finish
 * in-flight writes, close MongoDB, Redis and the queues).
 */
import { join } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { buildServer } from './app.js';
import { ConfigError, loadConfig, withGeneratedSecrets } from './config.js';
import { describeStart, ensureDemo } from './demo.js';
import { startEmbeddedMongo } from './embedded/mongo.js';
import { startEmbeddedRedis } from './embedded/redis.js';

const say = (line: string) => process.stderr.write(`${line}\n`);

async function main() {
  let config;
  try {
    config = withGeneratedSecrets(loadConfig());
  } catch (err) {
    if (err instanceof ConfigError) {
      say(err.message);
      process.exit(78);
    }
    throw err;
  }

  const stops: Array<() => Promise<void>> = [];
  let mongodbUrl = config.mongodbUrl;
  if (!mongodbUrl) {
    say('MONGODB_URL is not set: starting an embedded MongoDB-compatible server (data in DATA_DIR)...');
    const mongo = await startEmbeddedMongo({ dataDir: config.dataDir, log: say });
    stops.push(mongo.stop);
    mongodbUrl = `${mongo.url}im`;
  }
  let redisUrl = config.redisUrl;
  if (!redisUrl) {
    const redis = await startEmbeddedRedis({ dataDir: config.dataDir, log: say });
    stops.push(redis.stop);
    redisUrl = redis.url;
    say(redis.embedded ? `REDIS_URL is not set: started redis-server at ${redisUrl}` : `REDIS_URL is not set: using the Redis at ${redisUrl}`);
  }

  const app = await buildServer({ ...config, mongodbUrl, redisUrl });

  closeWithGrace({ delay: config.shutdownTimeoutMs }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    await app.close();
    for (const stop of stops.reverse()) await stop();
  });

  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const baseUrl = config.publicUrl ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const demo = config.demo ? await ensureDemo(app, config.dataDir) : null;
  const tokenFile = process.env.ADMIN_TOKEN ? null : join(config.dataDir, 'admin-token');
  say(describeStart(baseUrl, demo, tokenFile));
}

main().catch((err: unknown) => {
  say(`could not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

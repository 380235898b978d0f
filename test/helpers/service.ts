/**
 * Starts the real service for a test: real HTTP and WebSocket on a loopback
 * port, a database and Redis prefix of its own on the servers test/run.ts
 * provides. `restart()` stops it and starts it again on the same port and
 * data, as a deploy or crash-restart would.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { type AppConfig, buildServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { testUrls, uniqueName } from './infra.js';

export const ADMIN_TOKEN = 'test-operator-token-0123456789';

export interface Service {
  app: FastifyInstance;
  config: AppConfig;
  url: string;
  wsUrl: string;
  restart(): Promise<void>;
  /** stop() and start() are restart() in two steps, for work done while the service is down */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  /**
   * Another service's database and Redis prefix are shared (passed in
   * `overrides`): `close()` leaves them for that service to clean up.
   */
  shared?: boolean;
  /** the service refuses new work as overloaded while this returns true */
  overloadProbe?: () => boolean;
}

export async function startService(overrides: Partial<AppConfig> = {}, options: StartOptions = {}): Promise<Service> {
  const { mongoUrl, redisUrl } = testUrls();
  const dataDir = mkdtempSync(join(tmpdir(), 'im-svc-'));
  const config: AppConfig = {
    ...loadConfig({}),
    host: '127.0.0.1',
    port: 0,
    dataDir,
    adminToken: ADMIN_TOKEN,
    tokenSecret: 'test-token-secret-0123456789-0123456789',
    mongodbUrl: mongoUrl,
    mongodbDb: uniqueName('t'),
    redisUrl,
    redisPrefix: uniqueName('imt'),
    logLevel: 'warn',
    ...overrides,
  };
  let app = await listen(config, options);
  const port = (app.server.address() as { port: number }).port;
  config.port = port;
  const service: Service = {
    app,
    config,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async restart() {
      await service.stop();
      await service.start();
    },
    async stop() {
      await app.close();
    },
    async start() {
      app = await listen(config, options);
      service.app = app;
    },
    async close() {
      if (options.shared) {
        await app.close();
        rmSync(dataDir, { recursive: true, force: true });
        return;
      }
      // leave the shared servers as we found them: drop this test's database and Redis keys
      await app.mongo.client.db(config.mongodbDb).dropDatabase();
      await app.close();
      const redis = new Redis(config.redisUrl);
      const keys = await redis.keys(`${config.redisPrefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return service;
}

async function listen(config: AppConfig, options: StartOptions): Promise<FastifyInstance> {
  const app = await buildServer(config, {
    logger: process.env.TEST_LOG ? { level: process.env.TEST_LOG } : false,
    ...(options.overloadProbe ? { overloadProbe: options.overloadProbe } : {}),
  });
  await app.listen({ host: config.host, port: config.port });
  return app;
}

/**
 * The whole service as one Fastify plugin: infrastructure plugins first, then
 * the routes. It never listens; src/server.ts does, and a host platform can
 * register it under a prefix of its own Fastify instance instead.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import authPlugin from '../plugins/auth.js';
import brokerPlugin from '../plugins/broker.js';
import domainPlugin from '../plugins/domain.js';
import limitsPlugin from '../plugins/limits.js';
import metricsPlugin from '../plugins/metrics.js';
import mongoPlugin from '../plugins/mongo.js';
import pressurePlugin from '../plugins/pressure.js';
import queuesPlugin from '../plugins/queues.js';
import redisPlugin from '../plugins/redis.js';
import restRateLimitPlugin from '../plugins/rest-rate-limit.js';
import websocketPlugin from '../plugins/websocket.js';
import type { Config } from './config.js';
import { readDemo } from './demo.js';
import { type ErrorCode, errorBody, isAppError, retryAfterSeconds } from './errors.js';
import agentRoutes from './routes/agents.js';
import healthRoutes from './routes/health.js';
import metricsRoutes from './routes/metrics.js';
import sessionRoutes from './routes/sessions.js';
import siteRoutes from './routes/sites.js';
import slowModeRoutes from './routes/slow-mode.js';
import { validatorCompiler } from './routes/validator.js';
import uiRoutes from './routes/ui.js';
import visitorRoutes from './routes/visitors.js';
import widgetRoutes from './routes/widget.js';

export type AppConfig = Config & { mongodbUrl: string; redisUrl: string };

export interface AppOptions {
  config: AppConfig;
  /** an overload signal of the host's (or a test's) beside the built-in thresholds: true while new work should be refused */
  overloadProbe?: () => boolean;
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'bad_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_EMPTY_TYPE: 'bad_request',
};

function installErrorHandling(app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (isAppError(err)) {
      if (err.retryAfterMs !== undefined) reply.header('retry-after', retryAfterSeconds(err.retryAfterMs));
      return reply.code(err.status).send(errorBody(err.code, err.message));
    }
    if (err.validation) {
      return reply.code(400).send(errorBody('bad_request', `${err.validationContext ?? 'request'}${err.message.replace(/^(body|querystring|params|headers)/, '')}`));
    }
    const mapped = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (mapped) return reply.code(mapped === 'too_large' ? 413 : 400).send(errorBody(mapped, err.message));
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      // body-parser and similar client errors (for example malformed JSON)
      return reply.code(err.statusCode).send(errorBody(err.statusCode === 413 ? 'too_large' : 'bad_request', err.message));
    }
    request.log.error({ err }, 'request failed');
    return reply.code(503).send(errorBody('unavailable', 'internal error, try again'));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`)));
}

const app: FastifyPluginAsync<AppOptions> = async (instance, { config, overloadProbe }) => {
  installErrorHandling(instance);
  await instance.register(metricsPlugin);
  await instance.register(pressurePlugin, {
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    maxHeapUsedBytes: config.maxHeapUsedBytes,
    maxStoreLagMs: config.maxStoreLagMs,
    ...(overloadProbe ? { probe: overloadProbe } : {}),
  });

  await instance.register(swagger, {
    openapi: {
      info: { title: 'IM customer-service API', version: '1', description: 'REST part of shared/PROTOCOL.md. WebSocket: GET /ws (see the README).' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await instance.register(swaggerUi, { routePrefix: '/docs' });

  await instance.register(redisPlugin, { url: config.redisUrl });
  await instance.register(limitsPlugin, { prefix: config.redisPrefix, msgRatePerSec: config.msgRatePerSec, msgBurst: config.msgBurst, wsConnectPerMin: config.wsConnectPerMin });
  await instance.register(brokerPlugin, { kind: config.broker, prefix: config.redisPrefix, presenceTtlMs: config.presenceTtlMs });
  await instance.register(mongoPlugin, { url: config.mongodbUrl, ...(config.mongodbDb ? { dbName: config.mongodbDb } : {}) });
  await instance.register(queuesPlugin, { prefix: config.redisPrefix });
  await instance.register(domainPlugin, { maxTextLength: config.maxTextLength, inactivityCloseMs: config.inactivityCloseMs });
  await instance.register(authPlugin, { adminToken: config.adminToken, tokenSecret: config.tokenSecret });
  await instance.register(websocketPlugin, {
    heartbeatMs: config.heartbeatMs,
    ackTimeoutMs: config.ackTimeoutMs,
    resyncGapMs: config.resyncGapMs,
    authTimeoutMs: config.authTimeoutMs,
    setupConcurrency: config.wsSetupConcurrency,
    maxFrameBytes: config.maxFrameBytes,
    maxConnections: config.maxConnections,
  });

  await instance.register(healthRoutes);
  await instance.register(metricsRoutes, config.metricsToken ? { token: config.metricsToken } : {});
  await instance.register(
    async (api) => {
      installErrorHandling(api);
      api.setValidatorCompiler(validatorCompiler);
      await api.register(restRateLimitPlugin, { prefix: config.redisPrefix, perMinute: config.restRatePerMin });
      await api.register(siteRoutes);
      await api.register(agentRoutes);
      await api.register(visitorRoutes);
      await api.register(sessionRoutes);
      await api.register(slowModeRoutes);
      await api.register(widgetRoutes);
    },
    { prefix: '/api/v1' },
  );
  await instance.register(uiRoutes, { uiDir: config.uiDir, demoSiteKey: demoSiteKeyOf(config) });
};

/** The seeded demo site's key (DATA_DIR/demo.json, see demo.ts), read when /demo asks. */
function demoSiteKeyOf(config: AppConfig): () => string | undefined {
  return () => (config.demo ? readDemo(config.dataDir)?.siteKey : undefined);
}

export default fp(app, { name: 'im-service' });

/** Trusts the nearest `hops` peers: the client is the address that many steps back in X-Forwarded-For. */
function trustHops(hops: number) {
  return (_address: string, hop: number) => hop < hops;
}

/** A Fastify instance with the service registered, configured as `npm start` runs it (not listening yet). */
export async function buildServer(config: AppConfig, opts: { logger?: boolean | object; overloadProbe?: () => boolean } = {}): Promise<FastifyInstance> {
  const { default: Fastify } = await import('fastify');
  const server = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    bodyLimit: 64 * 1024,
    // a hop count as the function proxy-addr makes of one (Fastify's types take no number here)
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
  });
  await server.register(app, { config, ...(opts.overloadProbe ? { overloadProbe: opts.overloadProbe } : {}) });
  return server;
}

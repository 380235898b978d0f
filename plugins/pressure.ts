/**
 * Overload protection (@fastify/under-pressure): while the event loop lags,
 * the heap grows or messages wait to be stored past their thresholds, new
 * work is refused at once with 503 `unavailable` and Retry-After instead of
 * queueing until every answer is late. The store's lag is what shows when
 * the database, not this process, is what cannot keep up: the event loop
 * keeps turning while the messages admitted pile up on the heap. Routes with `config: { overloadExempt: true }` (liveness, readiness,
 * metrics) are always answered: they are how operators see the overload.
 *
 * WebSocket upgrades are left to their route (plugins/websocket.ts refuses
 * them under overload, and the gateway refuses `send` frames): this hook runs
 * before @fastify/websocket marks a request as an upgrade, and an answer
 * given here would leave the upgraded socket open.
 */
import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import { overloaded } from '../src/limits/overload.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** answer this route even under overload */
    overloadExempt?: boolean;
  }
}

export interface PressurePluginOptions {
  /** mean event-loop delay over a sample that means overload; 0: not checked */
  maxEventLoopDelayMs: number;
  /** V8 heap in use that means overload; 0: not checked */
  maxHeapUsedBytes: number;
  /** how long messages waiting to be stored may have waited (the message store's lag); 0: not checked */
  maxStoreLagMs: number;
  /** an extra overload signal (a host platform's own, or a test's): true while new work should be refused */
  probe?: () => boolean;
}

/** how often the thresholds (and the probe) are sampled */
const SAMPLE_MS = 500;

export default fp<PressurePluginOptions>(
  async (app, opts) => {
    const { probe, maxStoreLagMs } = opts;
    // registered before the store (it guards every route): its lag counts once it is there
    const storeBehind = () => maxStoreLagMs > 0 && app.hasDecorator('mongo') && app.mongo.stores.messages.lagMs() > maxStoreLagMs;
    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      maxHeapUsedBytes: opts.maxHeapUsedBytes,
      sampleInterval: SAMPLE_MS,
      healthCheck: async () => !storeBehind() && !probe?.(),
      healthCheckInterval: SAMPLE_MS,
      pressureHandler: async (request) => {
        if (request.routeOptions.config.overloadExempt || request.headers.upgrade !== undefined) return;
        app.metrics.refused('overload');
        // the error handler answers it like any other: 503 `unavailable` with Retry-After
        throw overloaded();
      },
    });
  },
  { name: 'pressure', dependencies: ['metrics'] },
);

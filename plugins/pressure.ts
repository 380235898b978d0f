/**
 * Overload protection (@fastify/under-pressure): while the event loop lags
 * or the heap grows past its thresholds, new work is refused at once with
 * 503 `unavailable` and Retry-After instead of queueing until every answer is
 * late.
 *
 * While messages wait to be stored longer than `maxStoreLagMs` (the
 * database, not this process, cannot keep up: the event loop keeps turning
 * while the messages taken pile up on the heap), new REST calls are refused
 * the same way, but the `send` frames of connections already open are
 * still taken: their conversations go on, later, in order.
 * Refusing those sends made things worse, not better (bench/RESULTS.md):
 * every refused message comes back with the client's resend, and a session
 * holds its later sends behind a refused one, so a flood turned into waves of
 * resends that stored half as much. New connections are not refused for it
 * either: the store falls behind most when an instance dies and its clients
 * all come back at once, and a refused client comes back by its backoff,
 * seconds later each time (bench/RESULTS.md: the last client back after 30
 * to 51 s instead of 7 to 10), while one let in waits its turn in the
 * gateway's set-up queue, which is what paces the reads of a reconnect storm.
 * Nor does readiness fail for it: every instance shares the store, so all of
 * them would leave the balancer at once. Routes with `config: {
 * overloadExempt: true }` (liveness, readiness, metrics) are always
 * answered: they are how operators see the overload.
 *
 * WebSocket upgrades are left to their route (plugins/websocket.ts refuses
 * them under the event-loop and heap thresholds, and the gateway refuses
 * `send` frames then): this hook runs before @fastify/websocket marks a
 * request as an upgrade, and an answer given here would leave the upgraded
 * socket open.
 */
import underPressure from '@fastify/under-pressure';
import type { FastifyRequest } from 'fastify';
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
    const refuse = async (request: FastifyRequest) => {
      if (request.routeOptions.config.overloadExempt || request.headers.upgrade !== undefined) return;
      app.metrics.refused('overload');
      // the error handler answers it like any other: 503 `unavailable` with Retry-After
      throw overloaded();
    };
    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      maxHeapUsedBytes: opts.maxHeapUsedBytes,
      sampleInterval: SAMPLE_MS,
      ...(probe ? { healthCheck: async () => !probe(), healthCheckInterval: SAMPLE_MS } : {}),
      pressureHandler: refuse,
    });
    // registered before the store (it guards every route): its lag counts once it is there
    const storeBehind = () => maxStoreLagMs > 0 && app.hasDecorator('mongo') && app.mongo.stores.messages.lagMs() > maxStoreLagMs;
    // after under-pressure's own hook, which answers its thresholds first
    app.addHook('onRequest', async (request) => {
      if (storeBehind()) await refuse(request);
    });
  },
  { name: 'pressure', dependencies: ['metrics'] },
);

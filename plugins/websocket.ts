/**
 * The WebSocket endpoint `/ws` and the gateway behind it. Frames up to
 * `maxFrameBytes` are handled; larger ones (up to a hard cap) get a
 * `too_large` error and the connection stays usable; beyond the hard cap ws
 * closes the socket (1009) before buffering it.
 *
 * An upgrade is refused before it happens while the instance is overloaded
 * or holds `maxConnections` (503: the client reconnects, elsewhere behind a
 * load balancer), or when the client's IP made too many attempts this minute
 * (429). The route answers overload itself (plugins/pressure.ts leaves
 * upgrades alone).
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import websocket from '@fastify/websocket';
import type { FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { WebSocket } from 'ws';
import { type AppError, errorBody, rateLimited, retryAfterSeconds, unavailable } from '../src/errors.js';
import { Gateway } from '../src/gateway/gateway.js';
import { OVERLOAD_RETRY_AFTER_MS, overloaded } from '../src/limits/overload.js';
import { METRIC } from '../src/metrics/names.js';
import { CLOSE } from '../src/protocol/codes.js';

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
}

export interface WebsocketPluginOptions {
  heartbeatMs: number;
  ackTimeoutMs: number;
  resyncGapMs: number;
  authTimeoutMs: number;
  /** connections set up at once (Gateway) */
  setupConcurrency: number;
  maxFrameBytes: number;
  /** WebSocket connections this instance holds at most; 0: no limit */
  maxConnections: number;
}

export default fp<WebsocketPluginOptions>(
  async (app, opts) => {
    const gateway = new Gateway({
      chat: app.domain.chat,
      broker: app.broker,
      authenticate: (token) => app.auth.actor(token),
      log: app.log,
      heartbeatMs: opts.heartbeatMs,
      ackTimeoutMs: opts.ackTimeoutMs,
      resyncGapMs: opts.resyncGapMs,
      authTimeoutMs: opts.authTimeoutMs,
      setupConcurrency: opts.setupConcurrency,
      maxRetries: 6,
      maxFrameBytes: opts.maxFrameBytes,
      maxBufferedBytes: 8 * 1024 * 1024,
      // the event loop or the heap, not the store's lag: an open connection's sends are taken then (plugins/pressure.ts)
      refuseSend: () => {
        if (!app.isUnderPressure()) return null;
        app.metrics.refused('overload');
        return overloaded();
      },
    });
    app.decorate('gateway', gateway);
    app.metrics.gauge(METRIC.connections, 'WebSocket connections this instance holds', () => gateway.connectionCount);
    app.metrics.gauge(METRIC.setupsWaiting, 'WebSocket connections waiting their turn to be set up (WS_SETUP_CONCURRENCY)', () => gateway.setupsWaiting);

    await app.register(websocket, {
      options: { maxPayload: Math.max(opts.maxFrameBytes * 4, 256 * 1024) },
      // Drain before the HTTP server stops: clients are told 1012 and move on.
      preClose: async () => {
        await gateway.drain();
        // this instance's own sends are done: the sessions it wrote go to the instances still writing them
        await app.broker.writers?.leave();
        await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
      },
    });

    const full = () => opts.maxConnections > 0 && gateway.connectionCount >= opts.maxConnections;

    /** Why an upgrade must not happen now, or null. */
    async function refusal(request: FastifyRequest): Promise<AppError | null> {
      // the event loop or the heap, not the store's lag: the set-up queue paces what a connection reads (plugins/pressure.ts)
      if (app.isUnderPressure()) {
        app.metrics.refused('overload');
        return overloaded();
      }
      if (full()) {
        app.metrics.refused('max_connections');
        return unavailable('this instance is at its connection limit, try again later', OVERLOAD_RETRY_AFTER_MS);
      }
      const limited = await app.limits.connects.take(request.ip);
      if (limited) {
        app.metrics.refused('ws_connect_rate');
        return rateLimited('too many connection attempts from this address, retry later', limited.retryAfterMs);
      }
      return null;
    }

    async function admit(request: FastifyRequest, reply: FastifyReply) {
      const err = await refusal(request);
      if (!err) return;
      return reply
        .code(err.status)
        .header('retry-after', retryAfterSeconds(err.retryAfterMs ?? OVERLOAD_RETRY_AFTER_MS))
        .send(errorBody(err.code, err.message));
    }

    app.get('/ws', { websocket: true, onRequest: admit }, (socket, request) => {
      forgetUpgradeRequest(socket, request);
      // Upgrades admitted together can pass the check above together: the last ones are turned back here.
      if (full()) {
        app.metrics.refused('max_connections');
        socket.on('error', () => {}); // closing anyway
        socket.close(CLOSE.TRY_AGAIN_LATER, 'this instance is at its connection limit');
        return;
      }
      gateway.accept(socket);
    });
  },
  { name: 'websocket', dependencies: ['domain', 'auth', 'broker', 'limits', 'metrics', 'pressure'] },
);

/**
 * Lets the upgrade's HTTP request and response go once the WebSocket is open.
 * Left alone they live as long as the connection (about 4 KB of Fastify
 * request, reply, logger and Node HTTP objects per idle connection): the TCP
 * socket still points at the ServerResponse @fastify/websocket made for
 * routing, and that plugin's error listener closes over request and reply.
 * The gateway adds its own error listener.
 */
function forgetUpgradeRequest(socket: WebSocket, request: FastifyRequest): void {
  const tcp = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null };
  tcp._httpMessage?.detachSocket(tcp);
  socket.removeAllListeners('error');
}

/**
 * The WebSocket endpoint `/ws` and the gateway behind it. Frames up to
 * `maxFrameBytes` are handled; larger ones (up to a hard cap) get a
 * `too_large` error and the connection stays usable; beyond the hard cap ws
 * closes the socket (1009) before buffering it.
 */
import websocket from '@fastify/websocket';
import fp from 'fastify-plugin';
import { Gateway } from '../src/gateway/gateway.js';

declare module 'fastify' {
  interface FastifyInstance {
    gateway: Gateway;
  }
}

export interface WebsocketPluginOptions {
  heartbeatMs: number;
  ackTimeoutMs: number;
  authTimeoutMs: number;
  maxFrameBytes: number;
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
      authTimeoutMs: opts.authTimeoutMs,
      maxRetries: 6,
      maxFrameBytes: opts.maxFrameBytes,
      maxBufferedBytes: 8 * 1024 * 1024,
    });
    app.decorate('gateway', gateway);

    await app.register(websocket, {
      options: { maxPayload: Math.max(opts.maxFrameBytes * 4, 256 * 1024) },
      // Drain before the HTTP server stops: clients are told 1012 and move on.
      preClose: async () => {
        await gateway.drain();
        await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
      },
    });

    app.get('/ws', { websocket: true }, (socket) => {
      gateway.accept(socket);
    });
  },
  { name: 'websocket', dependencies: ['domain', 'auth', 'broker'] },
);

/**
 * The same client over the real `ws` package (in-process server, loopback):
 * checks that `ws`'s event shapes fit WebSocketLike, not the server's logic.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { ImClient, type MessageObject, type WebSocketFactory } from '../../../src/client/index.js';
import { CLOSE } from '../../../src/protocol/codes.js';
import { ACCOUNT, msgFrame } from './fake-socket.js';

// Compile-time: both real implementations are accepted as they are.
const browserFits: WebSocketFactory | undefined = typeof globalThis.WebSocket === 'function' ? globalThis.WebSocket : undefined;
const wsFits: WebSocketFactory = WebSocket;
void browserFits;

async function withServer(onFrame: (socket: WebSocket, f: Record<string, unknown>) => void, body: (url: string) => Promise<void>) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  wss.on('connection', (socket) => socket.on('message', (raw) => onFrame(socket, JSON.parse(String(raw)) as Record<string, unknown>)));
  try {
    await body(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  } finally {
    for (const c of wss.clients) c.terminate();
    wss.close();
  }
}

test('over ws: auth, ready, send → sent, push → message → ack', async () => {
  const acks: unknown[] = [];
  let gotAck!: () => void;
  const acked = new Promise<void>((r) => (gotAck = r));
  await withServer(
    (socket, f) => {
      const reply = (x: object) => socket.send(JSON.stringify(x));
      if (f.t === 'auth') reply({ t: 'ready', account: ACCOUNT, sessions: [], heartbeatMs: 10_000 });
      if (f.t === 'send') {
        reply({ t: 'sent', sid: f.sid, cid: f.cid, id: 'm1', seq: 1, ts: 1 });
        reply(msgFrame(f.sid as string, 1));
      }
      if (f.t === 'ack') {
        acks.push(f);
        gotAck();
      }
    },
    async (url) => {
      const client = new ImClient({ url, token: 'tok', WebSocket: wsFits, ackDelayMs: 0 });
      const delivered: MessageObject[] = [];
      client.on('message', (m) => delivered.push(m));
      client.connect();
      const sent = await client.send('s1', 'hello');
      await acked;
      assert.equal(sent.seq, 1);
      assert.deepEqual(delivered.map((m) => m.seq), [1]);
      assert.deepEqual(acks, [{ t: 'ack', sid: 's1', seq: 1 }]);
      client.close();
    },
  );
});

test('over ws: a 4001 close ends the client', async () => {
  await withServer(
    (socket, f) => {
      if (f.t === 'auth') socket.close(CLOSE.UNAUTHORIZED, 'bad token');
    },
    async (url) => {
      const client = new ImClient({ url, token: 'nope', WebSocket: wsFits });
      const closed = new Promise<{ code?: number; reason?: string }>((resolve) => client.on('state', (s) => s.newState === 'closed' && resolve(s)));
      client.connect();
      const s = await closed;
      assert.equal(s.code, CLOSE.UNAUTHORIZED);
      assert.equal(s.reason, 'bad token');
    },
  );
});

/**
 * `Connection.sent` corks the `ws` socket's own net.Socket (`ws` has no
 * public cork) so that `sent` and the sender's copy of its message leave in
 * one write. This holds that reach into `ws` to the real thing: should a
 * `ws` upgrade drop `_socket`, both frames still arrive, only in two writes,
 * and this test says so.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import type { Message } from '../../../src/domain/model.js';
import { Connection } from '../../../src/gateway/connection.js';

const message: Message = {
  id: 's1:1',
  sessionId: 's1',
  siteId: 'site-1',
  seq: 1,
  cid: 'c1',
  from: { id: 'visitor-1', kind: 'visitor', name: 'V' },
  type: 'chat',
  body: { text: 'hello' },
  status: 'ok',
  createdAt: new Date(0),
};

test('with the real ws, `sent` and the sender\'s own message reach the client in one write, in that order', async () => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  await once(client, 'open');
  const [serverSide] = await accepted;
  try {
    // what the server's net.Socket hands the kernel: one entry per write (writev or write)
    const writes: number[] = [];
    type Writer = (this: Socket, ...args: unknown[]) => unknown;
    const socket = (serverSide as unknown as { _socket: Socket })._socket as unknown as Socket & { _writev: Writer; _write: Writer };
    const { _writev: writev, _write: write } = socket;
    socket._writev = function (this: Socket, ...args: unknown[]) {
      writes.push((args[0] as unknown[]).length);
      return writev.apply(this, args);
    };
    socket._write = function (this: Socket, ...args: unknown[]) {
      writes.push(1);
      return write.apply(this, args);
    };
    const frames: Array<{ t: string }> = [];
    const both = new Promise<void>((resolve) =>
      client.on('message', (data) => {
        frames.push(JSON.parse(String(data)) as { t: string });
        if (frames.length === 2) resolve();
      }),
    );
    const conn = new Connection(serverSide, 'c1', {
      waitAck: { timeoutMs: 3000, maxRetries: 3 },
      maxBufferedBytes: 1 << 20,
      fetchAfter: async () => [],
      onError: (err) => assert.fail(String(err)),
      now: () => 0,
    });
    conn.follow('s1', 0);
    conn.sent({ t: 'sent', sid: 's1', cid: 'c1', id: 's1:1', seq: 1, ts: 0 }, message);
    await both;
    assert.deepEqual(frames.map((f) => f.t), ['sent', 'msg']);
    assert.deepEqual(writes, [4], 'one write of both frames (a header and a payload each)');
  } finally {
    client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  }
});

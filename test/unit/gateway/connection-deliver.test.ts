/**
 * A connection's pushes of one session: in seq order, each once, a gap filled
 * from the store first (src/gateway/connection.ts). The usual push, next in
 * line with nothing waiting, is written at once; one that arrives while a gap
 * is being filled waits behind it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MessageDelivery } from '../../../src/broker/broker.js';
import { deliveryOf } from '../../../src/broker/codec.js';
import type { Message } from '../../../src/domain/model.js';
import { Connection } from '../../../src/gateway/connection.js';
import { FakeSocket } from './fake-socket.js';

function message(seq: number): Message {
  return {
    id: `s1:${seq}`,
    sessionId: 's1',
    siteId: 'site-1',
    seq,
    cid: `c${seq}`,
    from: { id: 'visitor-1', kind: 'visitor', name: 'V' },
    type: 'chat',
    body: { text: `m${seq}` },
    status: 'ok',
    createdAt: new Date(0),
  };
}

/** the message as the broker hands it over */
function pushed(seq: number): MessageDelivery {
  return deliveryOf({ kind: 'message', message: message(seq) }) as MessageDelivery;
}

function setup() {
  const ws = new FakeSocket();
  let release!: () => void;
  const fetched: Array<[number, number]> = [];
  const conn = new Connection(ws.ws, 'c1', {
    waitAck: { timeoutMs: 3000, maxRetries: 3 },
    maxBufferedBytes: 1 << 20,
    fetchAfter: async (_sid, after, limit) => {
      fetched.push([after, limit]);
      await new Promise<void>((resolve) => (release = resolve));
      return Array.from({ length: limit }, (_, i) => message(after + 1 + i));
    },
    onError: (err) => assert.fail(String(err)),
    now: () => 0,
  });
  const seqs = () => ws.sent.map((f) => (JSON.parse(f) as { seq: number }).seq);
  return { conn, ws, seqs, fetched, release: () => release() };
}

test('a push next in line is written at once; a repeat is dropped', () => {
  const { conn, seqs } = setup();
  conn.follow('s1', 0);
  void conn.deliver(pushed(1));
  void conn.deliver(pushed(2));
  void conn.deliver(pushed(1));
  assert.deepEqual(seqs(), [1, 2], 'written before any await, each once');
});

test('a push past a gap waits for the gap to be filled from the store, and so does every push behind it', async () => {
  const { conn, seqs, fetched, release } = setup();
  conn.follow('s1', 0);
  void conn.deliver(pushed(1));
  const gap = conn.deliver(pushed(4));
  // 5 would be next in line after 4, and 2 is the next seq the connection lacks: both wait for the fill
  const behind = [conn.deliver(pushed(5)), conn.deliver(pushed(2))];
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(fetched, [[1, 2]], 'seqs 2 and 3 asked of the store');
  assert.deepEqual(seqs(), [1]);
  release();
  await Promise.all([gap, ...behind]);
  assert.deepEqual(seqs(), [1, 2, 3, 4, 5], 'in order, each once');
  void conn.deliver(pushed(6));
  assert.deepEqual(seqs(), [1, 2, 3, 4, 5, 6], 'the queue is idle again: at once');
});

function sentFor(m: Message) {
  return { t: 'sent' as const, sid: m.sessionId, cid: m.cid, id: m.id, seq: m.seq, ts: 0 };
}

test("a sender's own message, next in line, goes out right behind its `sent`, in one write; the broker's copy is dropped", () => {
  const { conn, ws } = setup();
  conn.follow('s1', 0);
  void conn.deliver(pushed(1));
  conn.sent(sentFor(message(2)), message(2));
  void conn.deliver(pushed(2)); // the broker's copy, later
  void conn.deliver(pushed(3));
  const frames = ws.writes.map((w) => w.map((f) => JSON.parse(f) as { t: string; seq: number }).map((f) => `${f.t} ${f.seq}`));
  assert.deepEqual(frames, [['msg 1'], ['sent 2', 'msg 2'], ['msg 3']]);
});

test('a sender whose connection still lacks an earlier message gets `sent` alone, and its own message in order after that one', async () => {
  const { conn, ws } = setup();
  conn.follow('s1', 0);
  void conn.deliver(pushed(1));
  // seq 2 (the other member's) has not reached this connection when the sender's seq 3 is stored
  conn.sent(sentFor(message(3)), message(3));
  assert.deepEqual(ws.writes.at(-1)!.map((f) => (JSON.parse(f) as { t: string }).t), ['sent']);
  await Promise.all([conn.deliver(pushed(2)), conn.deliver(pushed(3))]);
  const pushes = ws.sent.map((f) => JSON.parse(f) as { t: string; seq: number }).filter((f) => f.t === 'msg');
  assert.deepEqual(pushes.map((f) => f.seq), [1, 2, 3], 'each once, in order');
});

test('a connection that does not follow the session yet (its first message) gets `sent` alone; the push comes through the broker', () => {
  const { conn, ws } = setup();
  conn.sent(sentFor(message(1)), message(1));
  void conn.deliver(pushed(1));
  assert.deepEqual(ws.writes.map((w) => w.map((f) => (JSON.parse(f) as { t: string }).t)), [['sent'], ['msg']]);
});

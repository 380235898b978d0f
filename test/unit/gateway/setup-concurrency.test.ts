/**
 * Connections are set up a few at a time (WS_SETUP_CONCURRENCY): when an
 * instance dies its clients all arrive at once, and the others wait their
 * turn in arrival order instead of crowding out the chat of those already
 * connected. A client that leaves while waiting costs nothing.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createMemoryBroker } from '../../../src/broker/memory.js';
import type { ChatService } from '../../../src/domain/chat.js';
import type { Actor } from '../../../src/domain/model.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { FakeSocket } from './fake-socket.js';

/** tokens whose look-up has started, in order; each waits until released */
const started: string[] = [];
const release = new Map<string, () => void>();

const gateway = new Gateway({
  chat: { overview: async () => [], agentOnline: async () => {}, noteStored: () => {} } as unknown as ChatService,
  broker: createMemoryBroker(),
  authenticate: (token) =>
    new Promise<Actor>((resolve) => {
      started.push(token);
      release.set(token, () => resolve({ id: `visitor-${token}`, siteId: 'site-1', kind: 'visitor', name: token }));
    }),
  log: { warn() {}, error() {} },
  authTimeoutMs: 5000,
  setupConcurrency: 2,
  heartbeatMs: 60_000,
  ackTimeoutMs: 3000,
  maxRetries: 3,
  maxFrameBytes: 16_384,
  maxBufferedBytes: 1 << 20,
  resyncGapMs: 1000,
});
after(() => gateway.drain(100));

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};
const isReady = (ws: FakeSocket) => ws.sent.some((f) => JSON.parse(f).t === 'ready');

test('two set-ups at a time, the rest in arrival order; one that left while waiting is skipped', async () => {
  const sockets = ['a', 'b', 'c', 'd', 'e'].map((token) => {
    const ws = new FakeSocket();
    gateway.accept(ws.ws);
    ws.emit('message', Buffer.from(JSON.stringify({ t: 'auth', token })), false);
    return ws;
  });
  await settle();
  assert.deepEqual(started, ['a', 'b'], 'two set-ups under way, three waiting');
  assert.equal(gateway.setupsWaiting, 3, 'the backlog im_ws_setups_waiting shows');

  sockets[2]!.close(1000); // c gives up while waiting
  release.get('a')!();
  await settle();
  assert.ok(isReady(sockets[0]!), 'a is ready');
  assert.deepEqual(started, ['a', 'b', 'd'], 'c left: d is next');

  release.get('b')!();
  release.get('d')!();
  await settle();
  assert.deepEqual(started, ['a', 'b', 'd', 'e']);
  assert.equal(gateway.setupsWaiting, 0);
  release.get('e')!();
  await settle();
  assert.deepEqual(
    sockets.map(isReady),
    [true, true, false, true, true],
    'everyone who stayed is ready',
  );
  assert.equal(gateway.connectionCount, 4);
});

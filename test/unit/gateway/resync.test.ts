/**
 * After the broker lost pushes (Redis flapped), the gateway asks its clients
 * to reconnect and sync (1013), at most once per `resyncGapMs`.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createMemoryBroker } from '../../../src/broker/memory.js';
import type { ChatService } from '../../../src/domain/chat.js';
import { Gateway } from '../../../src/gateway/gateway.js';
import { CLOSE } from '../../../src/protocol/codes.js';
import { FakeSocket } from './fake-socket.js';

const GAP_MS = 300;
const broker = createMemoryBroker();
let pushesLost = () => {};
broker.onPushesLost = (listener) => (pushesLost = listener);

const gateway = new Gateway({
  chat: { overview: async () => [], agentOnline: async () => {}, noteStored: () => {} } as unknown as ChatService,
  broker,
  authenticate: async () => ({ id: 'visitor-1', siteId: 'site-1', kind: 'visitor', name: 'V' }),
  log: { warn() {}, error() {} },
  authTimeoutMs: 5000,
  setupConcurrency: 4,
  heartbeatMs: 60_000,
  ackTimeoutMs: 3000,
  maxRetries: 3,
  maxFrameBytes: 16_384,
  maxBufferedBytes: 1 << 20,
  resyncGapMs: GAP_MS,
});
after(() => gateway.drain(100));

/** A client that has authenticated and been sent `ready`. */
async function client(): Promise<FakeSocket> {
  const ws = new FakeSocket();
  gateway.accept(ws.ws);
  ws.emit('message', Buffer.from(JSON.stringify({ t: 'auth', token: 't' })), false);
  for (let i = 0; i < 100 && !ws.sent.some((f) => JSON.parse(f).t === 'ready'); i++) await new Promise((r) => setImmediate(r));
  assert.ok(ws.sent.some((f) => JSON.parse(f).t === 'ready'), 'the client is ready');
  return ws;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a loss asks every client at once; losses soon after are asked about once, when the gap is over', async () => {
  const first = await client();
  pushesLost();
  assert.equal(first.closedWith, CLOSE.TRY_AGAIN_LATER, 'asked at once after the first loss');

  // the client is back, and Redis flaps twice more within the gap
  const again = await client();
  pushesLost();
  pushesLost();
  assert.equal(again.closedWith, undefined, 'not closed again within the gap');
  await sleep(GAP_MS + 200);
  assert.equal(again.closedWith, CLOSE.TRY_AGAIN_LATER, 'asked once the gap is over: it may have missed pushes of the later losses');

  // nothing pending now: a loss a gap after the last ask is asked about at once
  const later = await client();
  await sleep(GAP_MS + 50);
  pushesLost();
  assert.equal(later.closedWith, CLOSE.TRY_AGAIN_LATER);
});

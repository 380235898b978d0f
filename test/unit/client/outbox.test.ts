import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { ClientError, Outbox } from '../../../src/client/index.js';
import type { SentFrame } from '../../../src/client/index.js';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

function setup() {
  const wire: string[] = [];
  let connected = true;
  const outbox = new Outbox({
    timeoutMs: 1000,
    retryDelay: (attempt) => 100 * 2 ** attempt,
    transmit: (f) => {
      if (!connected) return false;
      wire.push(`${f.sid}/${f.cid}`);
      return true;
    },
  });
  const sent = (sid: string, cid: string, seq = 1): SentFrame => ({ t: 'sent', sid, cid, id: `id-${cid}`, seq, ts: 0 });
  return { outbox, wire, sent, setConnected: (v: boolean) => (connected = v) };
}

test('nothing goes out before the connection is ready; then in send order', () => {
  const { outbox, wire } = setup();
  void outbox.add('s1', 'a', 'A');
  void outbox.add('s2', 'b', 'B');
  void outbox.add('s1', 'c', 'C');
  assert.deepEqual(wire, []);
  outbox.goOnline();
  assert.deepEqual(wire, ['s1/a', 's2/b', 's1/c']);
});

test('the same sid and cid while pending is one send', async () => {
  const { outbox, wire, sent } = setup();
  outbox.goOnline();
  const p1 = outbox.add('s1', 'a', 'A');
  const p2 = outbox.add('s1', 'a', 'A');
  assert.equal(p1, p2);
  assert.deepEqual(wire, ['s1/a']);
  assert.equal(outbox.settle(sent('s1', 'a')), true);
  assert.equal(outbox.settle(sent('s1', 'a')), false);
  assert.equal((await p1).id, 'id-a');
});

test('a retryable error parks the send and holds later sends of that session only', () => {
  const { outbox, wire } = setup();
  outbox.goOnline();
  void outbox.add('s1', 'a', 'A');
  assert.equal(outbox.fail('a', 'unavailable', 'db down'), true);
  void outbox.add('s1', 'b', 'B');
  void outbox.add('s2', 'x', 'X');
  assert.deepEqual(wire, ['s1/a', 's2/x']);
  mock.timers.tick(100);
  assert.deepEqual(wire, ['s1/a', 's2/x', 's1/a', 's1/b']);
});

test('a rate_limited error with retryAfterMs holds the send for that long, not just the backoff', () => {
  const { outbox, wire } = setup();
  outbox.goOnline();
  void outbox.add('s1', 'a', 'A');
  assert.equal(outbox.fail('a', 'rate_limited', 'slow mode', 30_000), true);
  mock.timers.tick(29_999);
  assert.deepEqual(wire, ['s1/a']);
  mock.timers.tick(1);
  assert.deepEqual(wire, ['s1/a', 's1/a']);
});

test('a definite error rejects that send with its code', async () => {
  const { outbox } = setup();
  outbox.goOnline();
  const p = outbox.add('s1', 'a', 'A');
  outbox.fail('a', 'moderation_blocked', 'blocked word');
  await assert.rejects(p, (e: unknown) => e instanceof ClientError && e.code === 'moderation_blocked' && e.cid === 'a');
  assert.equal(outbox.size, 0);
});

test('timeouts resend only while online; going offline and online resends all', () => {
  const { outbox, wire, setConnected } = setup();
  outbox.goOnline();
  void outbox.add('s1', 'a', 'A');
  mock.timers.tick(1000);
  assert.deepEqual(wire, ['s1/a', 's1/a']);
  setConnected(false);
  outbox.goOffline();
  mock.timers.tick(5000);
  assert.equal(wire.length, 2);
  setConnected(true);
  outbox.goOnline();
  assert.deepEqual(wire, ['s1/a', 's1/a', 's1/a']);
});

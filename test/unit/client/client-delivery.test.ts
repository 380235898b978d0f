import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { CLOSE } from '../../../src/protocol/codes.js';
import { batch, harness, msgFrame } from './fake-socket.js';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

test('out-of-order pushes are delivered in order, with one sync for the gap', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready([{ id: 's1', lastSeq: 0 }]);
  s.push(msgFrame('s1', 1));
  s.push(msgFrame('s1', 3));
  s.push(msgFrame('s1', 4));
  assert.deepEqual(h.messages, ['s1:1']);
  assert.deepEqual(s.frames('sync'), [{ t: 'sync', sid: 's1', after: 1 }]);
  s.push(batch('s1', [2, 3, 4]));
  assert.deepEqual(h.messages, ['s1:1', 's1:2', 's1:3', 's1:4']);
  assert.equal(h.client.lastSeq('s1'), 4);
  s.push(msgFrame('s1', 5));
  assert.deepEqual(h.messages.at(-1), 's1:5');
  assert.equal(s.frames('sync').length, 1);
  h.client.close();
});

test('a push filling the gap before the batch arrives is fine too', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  s.push(msgFrame('s1', 1));
  s.push(msgFrame('s1', 3));
  s.push(msgFrame('s1', 2));
  s.push(batch('s1', [2, 3]));
  assert.deepEqual(h.messages, ['s1:1', 's1:2', 's1:3']);
  assert.equal(s.frames('sync').length, 1);
  h.client.close();
});

test('duplicates are dropped but still acked', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  s.push(msgFrame('s1', 1));
  s.push(msgFrame('s1', 1));
  s.push(msgFrame('s1', 2));
  mock.timers.tick(249);
  assert.deepEqual(s.frames('ack'), [], 'acks wait for the default delay, 250 ms');
  mock.timers.tick(1);
  s.push(msgFrame('s1', 1)); // a retransmission after the ack went out
  mock.timers.tick(250);
  assert.deepEqual(h.messages, ['s1:1', 's1:2']);
  assert.deepEqual(s.frames('ack'), [
    { t: 'ack', sid: 's1', seq: 2 },
    { t: 'ack', sid: 's1', seq: 2 },
  ]);
  h.client.close();
});

test('acks are cumulative per session and batched for ackDelayMs', () => {
  const h = harness({ ackDelayMs: 50 });
  h.client.connect();
  const s = h.ready();
  for (const seq of [1, 2, 3]) s.push(msgFrame('s1', seq));
  s.push(msgFrame('s2', 1));
  mock.timers.tick(49);
  assert.deepEqual(s.frames('ack'), []);
  mock.timers.tick(1);
  assert.deepEqual(s.frames('ack'), [
    { t: 'ack', sid: 's1', seq: 3 },
    { t: 'ack', sid: 's2', seq: 1 },
  ]);
  s.push(msgFrame('s1', 5)); // early: nothing new is delivered, so nothing new to ack
  mock.timers.tick(50);
  assert.equal(s.frames('ack').length, 2);
  h.client.close();
});

test('ready: sessions behind are synced from what the app holds, following more', async () => {
  const h = harness({ cursors: { s1: 2 } });
  h.client.connect();
  const s = h.ready([
    { id: 's1', lastSeq: 5 },
    { id: 's2', lastSeq: 0 },
    { id: 's3', lastSeq: 1 },
  ]);
  assert.deepEqual(s.frames('sync'), [
    { t: 'sync', sid: 's1', after: 2 },
    { t: 'sync', sid: 's3', after: 0 },
  ]);
  s.push(batch('s1', [3, 4], true));
  assert.deepEqual(s.frames('sync').at(-1), { t: 'sync', sid: 's1', after: 4 });
  s.push(batch('s1', [5]));
  s.push(batch('s3', [1]));
  assert.deepEqual(h.messages, ['s1:3', 's1:4', 's1:5', 's3:1']);
  assert.equal(h.client.lastSeq('s1'), 5);
  assert.equal(h.client.lastSeq('s2'), 0);
  h.client.close();
});

test('a push for an untracked session brings its history first, then the push', () => {
  const h = harness({ cursors: { s9: 1 } });
  h.client.connect();
  const s = h.ready();
  s.push(msgFrame('s9', 4));
  assert.deepEqual(s.frames('sync'), [{ t: 'sync', sid: 's9', after: 1 }]);
  s.push(batch('s9', [2, 3, 4]));
  assert.deepEqual(h.messages, ['s9:2', 's9:3', 's9:4']);
  h.client.close();
});

test('a sync interrupted by a reconnect is resumed from what was delivered', () => {
  const h = harness();
  h.client.connect();
  const s1 = h.ready([{ id: 's1', lastSeq: 6 }]);
  s1.push(batch('s1', [1, 2], true));
  s1.serverClose(CLOSE.GOING_AWAY); // before the rest came
  mock.timers.tick(125);
  const s2 = h.ready([{ id: 's1', lastSeq: 6 }]);
  assert.deepEqual(s2.frames('sync'), [{ t: 'sync', sid: 's1', after: 2 }]);
  s2.push(batch('s1', [3, 4, 5, 6]));
  assert.deepEqual(h.messages, ['s1:1', 's1:2', 's1:3', 's1:4', 's1:5', 's1:6']);
  h.client.close();
});

test('sessions tracked but no longer listed in ready are kept, not synced', () => {
  const h = harness();
  h.client.connect();
  const s1 = h.ready([{ id: 's1', lastSeq: 0 }]);
  s1.push(msgFrame('s1', 1));
  s1.serverClose(CLOSE.GOING_AWAY);
  mock.timers.tick(125);
  const s2 = h.ready([]); // s1 was closed meanwhile
  assert.deepEqual(s2.frames('sync'), []);
  assert.equal(h.client.lastSeq('s1'), 1);
  s2.push(msgFrame('s1', 1));
  s2.push(msgFrame('s1', 2));
  assert.deepEqual(h.messages, ['s1:1', 's1:2']);
  h.client.close();
});

test('sync() queues behind the session sync in flight and resolves with what the server returned', async () => {
  const h = harness();
  h.client.connect();
  const s = h.ready([{ id: 's1', lastSeq: 3 }]);
  const history = h.client.sync('s1', 0);
  assert.equal(s.frames('sync').length, 1, 'one sync per session in flight');
  s.push(batch('s1', [1, 2, 3]));
  assert.deepEqual(s.frames('sync').at(-1), { t: 'sync', sid: 's1', after: 0 });
  s.push(batch('s1', [1, 2, 3]));
  assert.deepEqual((await history).map((m) => m.seq), [1, 2, 3]);
  assert.deepEqual(h.messages, ['s1:1', 's1:2', 's1:3'], 'each message reaches the app once');
  h.client.close();
});

test('track() with the session lastSeq syncs when behind, and not when up to date', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  h.client.track('new', 1);
  h.client.track('quiet');
  h.client.track('known', 0);
  assert.deepEqual(s.frames('sync'), [{ t: 'sync', sid: 'new', after: 0 }]);
  s.push(batch('new', [1]));
  assert.deepEqual(h.messages, ['new:1']);
  h.client.close();
});

test('a failed sync rejects its caller; a failed gap sync is reported', async () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  const p = h.client.sync('s1', 0);
  s.push({ t: 'error', code: 'forbidden', message: 'not a member', ref: 'sync' });
  await assert.rejects(p, { code: 'forbidden' });
  s.push(msgFrame('s2', 2));
  s.push({ t: 'error', code: 'not_found', message: 'gone', ref: 'sync', sid: 's2' });
  assert.deepEqual(h.errors.map((e) => e.code), ['not_found']);
  h.client.close();
});

test('a gap sync that cannot fill the gap is not repeated in a loop', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  s.push(msgFrame('s1', 3));
  s.push(batch('s1', []));
  assert.equal(s.frames('sync').length, 1);
  s.push(msgFrame('s1', 3)); // the server retransmits: that is the cue to try again
  assert.equal(s.frames('sync').length, 2);
  s.push(batch('s1', [1, 2]));
  assert.deepEqual(h.messages, ['s1:1', 's1:2', 's1:3']);
  h.client.close();
});

import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { CLOSE } from '../../../src/protocol/codes.js';
import { harness } from './fake-socket.js';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

test('auth is the first frame, and nothing else goes out before ready', () => {
  const h = harness();
  h.client.connect();
  h.client.connect(); // idempotent
  assert.equal(h.sockets.length, 1);
  assert.equal(h.client.state, 'connecting');
  void h.client.send('s1', 'hello').catch(() => {});
  h.client.typing('s1');
  h.client.read('s1', 3);
  const s = h.last();
  s.open();
  assert.deepEqual(s.frames(), [{ t: 'auth', token: 'tok' }]);
  h.ready();
  assert.equal(h.client.state, 'connected');
  assert.deepEqual(h.states, ['connecting', 'connected']);
  assert.deepEqual(h.client.account, { id: 'v1', kind: 'visitor', name: 'Visitor', siteId: 'site1' });
  assert.deepEqual(s.frames().map((f) => f.t), ['auth', 'send', 'read']); // typing was dropped, read kept
  h.client.close();
});

test('a token function is asked again on every connection attempt', async () => {
  let n = 0;
  const h = harness({ token: async () => `tok${++n}` });
  h.client.connect();
  await Promise.resolve();
  h.ready();
  assert.deepEqual(h.last().frames()[0], { t: 'auth', token: 'tok1' });
  h.last().serverClose(CLOSE.GOING_AWAY);
  mock.timers.tick(10_000);
  await Promise.resolve();
  h.last().open();
  assert.deepEqual(h.last().frames()[0], { t: 'auth', token: 'tok2' });
  h.client.close();
});

for (const code of [CLOSE.UNAUTHORIZED, CLOSE.FORBIDDEN, CLOSE.REPLACED]) {
  test(`close ${code} is terminal: no reconnect, pending sends rejected`, async () => {
    const h = harness();
    h.client.connect();
    const s = h.ready();
    const pending = h.client.send('s1', 'hi');
    const seen: { code?: number; newState: string }[] = [];
    h.client.on('state', (c) => seen.push(c));
    s.serverClose(code, 'bye');
    assert.equal(h.client.state, 'closed');
    assert.deepEqual(seen, [{ newState: 'closed', oldState: 'connected', code, reason: 'bye' }]);
    await assert.rejects(pending, { name: 'ClientError', code: 'closed', closeCode: code });
    mock.timers.tick(60_000);
    assert.equal(h.sockets.length, 1);
    h.client.connect(); // closed is terminal
    assert.equal(h.sockets.length, 1);
  });
}

test('other closes reconnect with full-jitter backoff that resets after ready', () => {
  const h = harness({ random: () => 0.999, minReconnectDelayMs: 100, maxReconnectDelayMs: 1000 });
  h.client.connect();
  h.last().serverClose(1006);
  assert.equal(h.client.state, 'disconnected');
  // delays: 0.999 * 100, * 200, * 400
  for (const window of [100, 200, 400]) {
    const before = h.sockets.length;
    mock.timers.tick(window * 0.999 - 1);
    assert.equal(h.sockets.length, before, `not before ${window}`);
    mock.timers.tick(1);
    assert.equal(h.sockets.length, before + 1, `after ${window}`);
    h.last().serverClose(CLOSE.GOING_AWAY);
  }
  mock.timers.tick(800);
  h.ready();
  h.last().serverClose(CLOSE.GOING_AWAY);
  const before = h.sockets.length;
  mock.timers.tick(100);
  assert.equal(h.sockets.length, before + 1, 'the window is small again after ready');
  h.client.close();
});

test('a socket error drops the connection at once and reconnects', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  s.onerror?.({});
  assert.equal(h.client.state, 'disconnected');
  assert.ok(s.closedWith, 'the client closed the failed socket');
  s.serverClose(1006); // the late close event of the old socket changes nothing
  assert.deepEqual(h.states, ['connecting', 'connected', 'disconnected']);
  mock.timers.tick(125);
  assert.equal(h.sockets.length, 2);
  h.client.close();
});

test('pings every heartbeat; silence for two heartbeats closes and reconnects', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready([], 1000);
  mock.timers.tick(1000);
  assert.equal(s.frames('ping').length, 1);
  s.push({ t: 'pong' }); // t = 1000
  mock.timers.tick(1999); // t = 2999: 1999 ms of silence
  assert.equal(h.client.state, 'connected');
  assert.equal(s.frames('ping').length, 2);
  const changes: { newState: string; code?: number }[] = [];
  h.client.on('state', (c) => changes.push(c));
  mock.timers.tick(1); // 2000 ms of silence
  assert.equal(h.client.state, 'disconnected');
  assert.deepEqual(s.closedWith?.code, CLOSE.TIMEOUT);
  assert.equal(changes[0]?.code, CLOSE.TIMEOUT);
  mock.timers.tick(125);
  assert.equal(h.sockets.length, 2);
  const pings = s.frames('ping').length;
  mock.timers.tick(5000);
  assert.equal(s.frames('ping').length, pings, 'no pings on the dead socket after it was dropped');
  h.client.close();
});

test('a connection that never answers auth is given up after two default heartbeats', () => {
  const h = harness();
  h.client.connect();
  h.last().open();
  mock.timers.tick(49_999);
  assert.equal(h.client.state, 'connecting');
  mock.timers.tick(1);
  assert.equal(h.client.state, 'disconnected');
  h.client.close();
});

test('close() is terminal, closes the socket with 1000, and rejects pending syncs', async () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  const sync = h.client.sync('s1', 0);
  h.client.close();
  assert.equal(h.client.state, 'closed');
  assert.equal(s.closedWith?.code, 1000);
  await assert.rejects(sync, { code: 'closed' });
  await assert.rejects(h.client.send('s1', 'late'), { code: 'closed' });
});

test('a malformed server frame is reported as bad_frame and the connection carries on', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  s.pushRaw('not json');
  s.push({ t: 'msg', sid: 's1' });
  s.push({ t: 'something-new' });
  assert.deepEqual(h.errors.map((e) => e.code), ['bad_frame', 'bad_frame']);
  assert.equal(h.client.state, 'connected');
  h.client.close();
});

test('read cursors set while offline are sent after ready, highest only', () => {
  const h = harness();
  h.client.read('s1', 3);
  h.client.read('s1', 5);
  h.client.read('s1', 4);
  h.client.connect();
  const s = h.ready();
  assert.deepEqual(s.frames('read'), [{ t: 'read', sid: 's1', seq: 5 }]);
  h.client.close();
});

test('events go to the app as they come; errors without a pending cid go to error', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  const events: unknown[] = [];
  h.client.on('event', (e) => events.push(e));
  s.push({ t: 'event', sid: 's1', name: 'typing', from: 'a1' });
  s.push({ t: 'error', code: 'forbidden', message: 'not yours', cid: 'unknown-cid' });
  assert.deepEqual(events, [{ t: 'event', sid: 's1', name: 'typing', from: 'a1' }]);
  assert.deepEqual(h.errors, [{ t: 'error', code: 'forbidden', message: 'not yours', cid: 'unknown-cid' }]);
  h.client.close();
});

test('a read the server refuses for now (draining, overloaded) is sent again after the next ready', () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  h.client.read('s1', 7);
  s.push({ t: 'error', code: 'unavailable', message: 'the instance is going away, retry', ref: 'read', sid: 's1' });
  assert.equal(h.errors.length, 0, 'not an error for the app');
  s.serverClose(CLOSE.GOING_AWAY);
  mock.timers.tick(10_000);
  const next = h.ready();
  assert.deepEqual(next.frames('read'), [{ t: 'read', sid: 's1', seq: 7 }]);
  h.client.close();
});

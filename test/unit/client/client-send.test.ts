import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import { CLOSE } from '../../../src/protocol/codes.js';
import type { SentFrame } from '../../../src/client/index.js';
import { harness, type Frame } from './fake-socket.js';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 }));
afterEach(() => mock.timers.reset());

const sentFor = (f: Frame, seq: number): SentFrame => ({ t: 'sent', sid: f.sid as string, cid: f.cid as string, id: `id-${String(f.cid)}`, seq, ts: 1 });

test('a send gets a cid and resolves with the matching sent', async () => {
  const h = harness();
  h.client.connect();
  const s = h.ready();
  const p = h.client.send('s1', 'hello');
  const [frame] = s.frames('send');
  assert.ok(frame);
  assert.match(frame.cid as string, /^[0-9a-f-]{36}$/);
  assert.deepEqual(frame.body, { text: 'hello' });
  s.push(sentFor(frame, 7));
  assert.equal((await p).seq, 7);
  assert.deepEqual(h.client.pendingSends, []);
  h.client.close();
});

test('no sent in time: resent with the same cid, and resolves once', async () => {
  const h = harness({ sendTimeoutMs: 1000 });
  h.client.connect();
  const s = h.ready();
  let settled = 0;
  const p = h.client.send('s1', 'hello', { cid: 'my-cid' }).then((f) => {
    settled++;
    return f;
  });
  mock.timers.tick(999);
  assert.equal(s.frames('send').length, 1);
  mock.timers.tick(1);
  mock.timers.tick(1000);
  const sends = s.frames('send');
  assert.equal(sends.length, 3);
  assert.ok(sends.every((f) => f.cid === 'my-cid'));
  s.push(sentFor(sends[0]!, 4));
  s.push(sentFor(sends[1]!, 4)); // the server answers each resend the same way
  await p;
  await Promise.resolve();
  assert.equal(settled, 1);
  mock.timers.tick(5000);
  assert.equal(s.frames('send').length, 3, 'no resend once settled');
  h.client.close();
});

test('sends are resent after a reconnect with the same cids, in the order made', async () => {
  const h = harness();
  h.client.connect();
  const s1 = h.ready();
  const a = h.client.send('s1', 'a');
  const b = h.client.send('s2', 'b');
  s1.serverClose(CLOSE.GOING_AWAY);
  const c = h.client.send('s1', 'c'); // made while offline
  mock.timers.tick(125);
  const s2 = h.ready();
  const first = s1.frames('send').map((f) => f.cid);
  const again = s2.frames('send');
  assert.deepEqual(s2.frames()[0]?.t, 'auth');
  assert.deepEqual(again.map((f) => (f.body as { text: string }).text), ['a', 'b', 'c']);
  assert.deepEqual(again.slice(0, 2).map((f) => f.cid), first);
  for (const [i, f] of again.entries()) s2.push(sentFor(f, i + 1));
  assert.deepEqual((await Promise.all([a, b, c])).map((f) => f.seq), [1, 2, 3]);
  h.client.close();
});

test('a sent arriving on the old socket after a resend still resolves only once', async () => {
  const h = harness();
  h.client.connect();
  const s1 = h.ready();
  let settled = 0;
  const p = h.client.send('s1', 'a').then(() => settled++);
  const [frame] = s1.frames('send');
  s1.serverClose(CLOSE.GOING_AWAY);
  mock.timers.tick(125);
  const s2 = h.ready();
  s2.push(sentFor(frame!, 1));
  s2.push(sentFor(frame!, 1));
  await p;
  assert.equal(settled, 1);
  h.client.close();
});

test('unavailable and rate_limited are retried with backoff; other errors reject', async () => {
  const h = harness({ minReconnectDelayMs: 100 });
  h.client.connect();
  const s = h.ready();
  const p = h.client.send('s1', 'hi', { cid: 'c1' });
  s.push({ t: 'error', code: 'rate_limited', message: 'slow down', cid: 'c1' });
  mock.timers.tick(49); // 0.5 * 100
  assert.equal(s.frames('send').length, 1);
  mock.timers.tick(1);
  assert.equal(s.frames('send').length, 2);
  s.push({ t: 'error', code: 'unavailable', message: 'db', cid: 'c1' });
  mock.timers.tick(100); // 0.5 * 200
  assert.equal(s.frames('send').length, 3);
  s.push({ t: 'error', code: 'moderation_blocked', message: 'no', cid: 'c1' });
  await assert.rejects(p, { name: 'ClientError', code: 'moderation_blocked', cid: 'c1' });
  assert.deepEqual(h.errors, [], 'errors of a pending send do not also go to the error event');
  h.client.close();
});

test('an invalid cid is refused at once instead of being resent forever', async () => {
  const h = harness();
  await assert.rejects(h.client.send('s1', 'x', { cid: 'has spaces' }), { code: 'bad_request' });
});

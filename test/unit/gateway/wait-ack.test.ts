import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DueResult, WaitAck } from '../../../src/gateway/wait-ack.js';

const frame = (sid: string, seq: number) => `${sid}#${seq}`;

function table(opts: { timeoutMs?: number; maxRetries?: number; maxBackoffMs?: number } = {}) {
  const w = new WaitAck({ timeoutMs: opts.timeoutMs ?? 1000, maxRetries: opts.maxRetries ?? 3, ...(opts.maxBackoffMs ? { maxBackoffMs: opts.maxBackoffMs } : {}) });
  const push = (sid: string, seq: number, now: number) => w.add(sid, seq, frame(sid, seq), now);
  return { w, push };
}

/** The resends of a due() call, failing the test when it gave up. */
function resent(r: DueResult): Array<{ sid: string; frames: string[] }> {
  assert.equal(r.giveUp, false, 'gave up unexpectedly');
  return r.giveUp ? [] : r.resend;
}

/** The times at which due() resends, probing every `step` ms from 0 to `until`. */
function resendTimes(w: WaitAck, until: number, step = 500): number[] {
  const times: number[] = [];
  for (let now = 0; now <= until; now += step) {
    const r = w.due(now);
    if (r.giveUp) break;
    if (r.resend.length > 0) times.push(now);
  }
  return times;
}

test('nothing is resent before the ack timeout', () => {
  const { w, push } = table();
  push('s', 1, 0);
  assert.deepEqual(resent(w.due(999)), []);
  assert.deepEqual(resent(w.due(1000)), [{ sid: 's', frames: ['s#1'] }]);
});

test('an ack is cumulative: everything of the session up to its seq is done', () => {
  const { w, push } = table();
  for (const seq of [1, 2, 3]) push('s', seq, 0);
  w.ack('s', 2, 10);
  assert.deepEqual(w.unacked('s'), [3]);
  assert.equal(w.size, 1);
  w.ack('s', 3, 20);
  assert.equal(w.size, 0);
  assert.deepEqual(resent(w.due(1_000_000)), []);
});

test('an ack of one session leaves the others waiting', () => {
  const { w, push } = table();
  push('a', 1, 0);
  push('b', 1, 0);
  w.ack('a', 1, 5);
  assert.deepEqual(w.unacked('a'), []);
  assert.deepEqual(w.unacked('b'), [1]);
  w.ack('nobody', 99, 5);
  assert.equal(w.size, 1);
});

test('a resend carries every unacked frame of the session, in seq order, and only due sessions', () => {
  const { w, push } = table();
  push('a', 1, 0);
  push('a', 2, 100);
  push('a', 3, 900);
  push('b', 7, 600);
  w.ack('a', 1, 400);
  // the ack moved a's deadline to 1400; b's is 1600
  assert.deepEqual(resent(w.due(1399)), []);
  assert.deepEqual(resent(w.due(1400)), [{ sid: 'a', frames: ['a#2', 'a#3'] }]);
  assert.deepEqual(resent(w.due(1600)), [{ sid: 'b', frames: ['b#7'] }]);
});

test('later pushes do not postpone the resend of an older unacked one', () => {
  const { w, push } = table();
  push('s', 1, 0);
  push('s', 2, 900);
  assert.deepEqual(resent(w.due(1000)), [{ sid: 's', frames: ['s#1', 's#2'] }]);
});

test('resends back off, doubling the wait each time', () => {
  const { w, push } = table({ timeoutMs: 1000, maxRetries: 10, maxBackoffMs: 60_000 });
  push('s', 1, 0);
  // waits 1000, then 2000, 4000, 8000
  assert.deepEqual(resendTimes(w, 15_000), [1000, 3000, 7000, 15_000]);
});

test('the backoff is capped at maxBackoffMs', () => {
  const { w, push } = table({ timeoutMs: 1000, maxRetries: 10, maxBackoffMs: 3000 });
  push('s', 1, 0);
  assert.deepEqual(resendTimes(w, 16_000), [1000, 3000, 6000, 9000, 12_000, 15_000]);
});

test('the default cap is 30 seconds', () => {
  const { w, push } = table({ timeoutMs: 10_000, maxRetries: 10 });
  push('s', 1, 0);
  assert.deepEqual(resendTimes(w, 100_000, 1000), [10_000, 30_000, 60_000, 90_000]);
});

test('after maxRetries resends without progress the connection is given up', () => {
  const { w, push } = table({ timeoutMs: 1000, maxRetries: 2, maxBackoffMs: 60_000 });
  push('s', 1, 0);
  assert.equal(resent(w.due(1000)).length, 1);
  assert.equal(resent(w.due(3000)).length, 1);
  assert.deepEqual(w.due(7000), { giveUp: true });
});

test('an ack that confirms something new resets the tries and the timeout', () => {
  const { w, push } = table({ timeoutMs: 1000, maxRetries: 2, maxBackoffMs: 60_000 });
  push('s', 1, 0);
  push('s', 2, 0);
  resent(w.due(1000));
  resent(w.due(3000));
  w.ack('s', 1, 3500);
  assert.deepEqual(resent(w.due(4499)), []);
  assert.deepEqual(resent(w.due(4500)), [{ sid: 's', frames: ['s#2'] }]);
  // back to the first step of the backoff, with maxRetries resends ahead again
  assert.deepEqual(resent(w.due(6500)), [{ sid: 's', frames: ['s#2'] }]);
  assert.deepEqual(w.due(10_500), { giveUp: true });
});

test('an ack that confirms nothing new is not progress', () => {
  const { w, push } = table({ timeoutMs: 1000, maxRetries: 1, maxBackoffMs: 60_000 });
  push('s', 5, 0);
  resent(w.due(1000));
  w.ack('s', 4, 1500);
  assert.deepEqual(w.due(3000), { giveUp: true });
});

test('a session fully acked starts afresh on its next push', () => {
  const { w, push } = table({ timeoutMs: 1000, maxRetries: 1, maxBackoffMs: 60_000 });
  push('s', 1, 0);
  resent(w.due(1000));
  w.ack('s', 1, 1200);
  push('s', 2, 5000);
  assert.deepEqual(resent(w.due(5999)), []);
  assert.deepEqual(resent(w.due(6000)), [{ sid: 's', frames: ['s#2'] }]);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, backoffDelay } from '../../../src/client/index.js';

test('delay stays within [0, min(max, min * 2^attempt)]', () => {
  const opts = { minMs: 250, maxMs: 10_000 };
  for (let attempt = 0; attempt < 40; attempt++) {
    const cap = Math.min(10_000, 250 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, { ...opts, random: () => 0 }), 0);
    assert.equal(backoffDelay(attempt, { ...opts, random: () => 0.999999 }), 0.999999 * cap);
    const d = backoffDelay(attempt, opts);
    assert.ok(d >= 0 && d <= cap, `attempt ${attempt}: ${d}`);
  }
});

test('huge attempt counts and a broken random() still give a finite delay within max', () => {
  assert.equal(backoffDelay(5000, { minMs: 250, maxMs: 10_000, random: () => 0.5 }), 5000);
  assert.equal(backoffDelay(3, { minMs: 250, maxMs: 10_000, random: () => Number.NaN }), 2000);
  assert.equal(backoffDelay(3, { minMs: 250, maxMs: 10_000, random: () => 7 }), 2000);
  assert.equal(backoffDelay(3, { minMs: 250, maxMs: 10_000, random: () => -1 }), 0);
});

test('the window doubles per attempt and reset() narrows it again', () => {
  const b = new Backoff({ minMs: 100, maxMs: 1000, random: () => 1 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000]);
  assert.equal(b.attempts, 5);
  b.reset();
  assert.equal(b.next(), 100);
});

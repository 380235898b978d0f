import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Recent } from '../../../src/store/recent.js';

describe('recent entries (the cid cache)', () => {
  it('keeps at least the latest half of its bound, however many were set', () => {
    const recent = new Recent<number>(10);
    for (let i = 1; i <= 1000; i++) recent.set(`k${i}`, i);
    for (let i = 996; i <= 1000; i++) assert.equal(recent.get(`k${i}`), i, `k${i} is among the latest five`);
    assert.equal(recent.has('k1000'), true);
  });

  it('holds no more than its bound: the oldest go first', () => {
    const recent = new Recent<number>(10);
    for (let i = 1; i <= 1000; i++) recent.set(`k${i}`, i);
    const held = Array.from({ length: 1000 }, (_, i) => `k${i + 1}`).filter((k) => recent.has(k));
    assert.ok(held.length >= 5 && held.length <= 10, `holds ${held.length}`);
    assert.deepEqual(held, held.slice().sort((a, b) => Number(a.slice(1)) - Number(b.slice(1))));
    assert.equal(held.at(-1), 'k1000');
    assert.equal(recent.get('k1'), undefined);
    assert.equal(recent.has('k990'), false);
  });

  it('answers a key set again with its latest value', () => {
    const recent = new Recent<number>(4);
    recent.set('a', 1);
    recent.set('b', 2); // 'a' and 'b' move to the old generation on the next set
    recent.set('a', 3);
    assert.equal(recent.get('a'), 3);
    assert.equal(recent.get('b'), 2);
  });
});

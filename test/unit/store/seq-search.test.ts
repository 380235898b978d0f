import assert from 'node:assert/strict';
import { test } from 'node:test';
import { firstFree } from '../../../src/store/seq-search.js';

/** A prefix-closed store holding seqs 1..last, and the seqs looked up in it. */
function storeUpTo(last: number) {
  const looked: number[] = [];
  const isTaken = async (seq: number) => {
    looked.push(seq);
    return seq <= last;
  };
  return { looked, isTaken };
}

test('finds the first free seq wherever the store ends, never past a free seq it saw', async () => {
  for (const from of [1, 2, 7, 100]) {
    for (let last = from - 1; last <= from + 300; last++) {
      const store = storeUpTo(last);
      assert.equal(await firstFree(from, store.isTaken), last + 1, `from ${from}, stored up to ${last}`);
      assert.ok(
        store.looked.every((seq) => seq >= from),
        `from ${from}: looked below it (${store.looked.join(',')})`,
      );
    }
  }
});

test('a store that ends at from, or right after it, costs one or two lookups, as a walk would', async () => {
  const free = storeUpTo(9);
  assert.equal(await firstFree(10, free.isTaken), 10);
  assert.deepEqual(free.looked, [10]);
  const one = storeUpTo(10);
  assert.equal(await firstFree(10, one.isTaken), 11);
  assert.deepEqual(one.looked, [10, 11]);
});

test('a store hundreds of seqs past from costs a few lookups, not one per seq', async () => {
  const store = storeUpTo(1_250);
  assert.equal(await firstFree(1_000, store.isTaken), 1_251);
  // 251 taken seqs: a walk looks up 252
  assert.ok(store.looked.length <= 2 * Math.ceil(Math.log2(252)) + 1, `${store.looked.length} lookups: ${store.looked.join(',')}`);
});

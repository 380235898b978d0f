import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TtlCache } from '../../../src/domain/ttl-cache.js';

function setup(max?: number) {
  let now = 0;
  let loads = 0;
  const cache = new TtlCache<number>({ ttlMs: 1000, now: () => now, ...(max === undefined ? {} : { max }) });
  const get = (key: string) =>
    cache.get(key, async () => {
      loads += 1;
      return loads;
    });
  return { cache, get, advance: (ms: number) => (now += ms), loads: () => loads };
}

test('a value is loaded once and served until its time is up', async () => {
  const { get, advance, loads } = setup();
  assert.equal(await get('a'), 1);
  advance(999);
  advance(1);
  assert.equal(await get('a'), 2);
  assert.equal(loads(), 2);
});

test('a value in use late in its life is loaded again while it still serves, and nobody waits for that load', async () => {
  let now = 0;
  let loads = 0;
  let gate: Promise<void> | undefined;
  const cache = new TtlCache<number>({ ttlMs: 1000, now: () => now });
  const get = () =>
    cache.get('a', async () => {
      const mine = ++loads;
      await gate;
      return mine;
    });
  assert.equal(await get(), 1);
  now = 749;
  assert.equal(await get(), 1);
  assert.equal(loads, 1, 'not loaded again before three quarters of its life');
  now = 750;
  let open!: () => void;
  gate = new Promise((resolve) => (open = resolve));
  assert.equal(await get(), 1, 'served while the load again has not answered');
  assert.equal(await get(), 1);
  assert.equal(loads, 2, 'one load again at a time');
  gate = undefined;
  open();
  await new Promise((resolve) => setImmediate(resolve));
  now = 1000; // the first value's time is up: the second serves, with no load more
  assert.equal(await get(), 2);
  assert.equal(loads, 2);
});

test('delete makes the next get load again', async () => {
  const { cache, get } = setup();
  assert.equal(await get('a'), 1);
  cache.delete('a');
  assert.equal(await get('a'), 2);
});

test('past its size it starts over instead of growing', async () => {
  const { get, loads } = setup(2);
  await get('a');
  await get('b');
  await get('c'); // full: everything goes, then c is kept
  await get('c');
  assert.equal(loads(), 3);
  await get('a');
  assert.equal(loads(), 4);
});

test('callers that miss while a load is under way share it', async () => {
  let loads = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const cache = new TtlCache<number>({ ttlMs: 1000, now: () => 0 });
  const reads = Array.from({ length: 10 }, () =>
    cache.get('a', async () => {
      loads += 1;
      await gate;
      return 42;
    }),
  );
  open();
  assert.deepEqual(await Promise.all(reads), Array(10).fill(42));
  assert.equal(loads, 1);
});

test('a failed load is not kept: the next get loads again', async () => {
  const cache = new TtlCache<number>({ ttlMs: 1000, now: () => 0 });
  await assert.rejects(cache.get('a', () => Promise.reject(new Error('down'))), /down/);
  assert.equal(await cache.get('a', async () => 7), 7);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createGatherer } from '../../../src/domain/gatherer.js';

/** A send that records each batch and finishes when told to. */
function recorder() {
  const batches: number[][] = [];
  const finish: Array<() => void> = [];
  const send = (batch: number[]) => {
    batches.push(batch);
    return new Promise<void>((resolve) => finish.push(resolve));
  };
  return { batches, finish, send };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A gatherer with the batch [1] on its way and items 2 and 3 waiting behind it. */
async function twoWaitingBehindOne() {
  const r = recorder();
  const g = createGatherer({ maxBatch: 10, send: r.send });
  g.add(1);
  await turn();
  g.add(2);
  g.add(3);
  return { r, g };
}

test('alone, an item leaves on the next turn of the event loop, by itself', async () => {
  const r = recorder();
  const g = createGatherer({ maxBatch: 10, send: r.send });
  g.add(1);
  await turn();
  assert.deepEqual(r.batches, [[1]]);
});

test('while a batch is on its way the next ones gather, in order, at most maxBatch at a time', async () => {
  const r = recorder();
  const g = createGatherer({ maxBatch: 3, send: r.send });
  g.add(1);
  await turn();
  for (let i = 2; i <= 6; i++) g.add(i);
  await turn();
  assert.deepEqual(r.batches, [[1]], 'nothing leaves while the first is on its way');
  r.finish.shift()!();
  await turn();
  await turn();
  assert.deepEqual(r.batches, [[1], [2, 3, 4]]);
  r.finish.shift()!();
  await turn();
  await turn();
  assert.deepEqual(r.batches, [[1], [2, 3, 4], [5, 6]]);
});

test('close hands back what waits, sends nothing more, and refuses new items', async () => {
  const { r, g } = await twoWaitingBehindOne();
  assert.deepEqual(g.close(), [2, 3]);
  r.finish.shift()!();
  await turn();
  await turn();
  assert.deepEqual(r.batches, [[1]]);
  assert.throws(() => g.add(4), /closed/);
});

test('waitMs holds a batch for more items after a full-ish one, not after a lone item, and a full batch waits no longer', async () => {
  const r = recorder();
  const g = createGatherer({ maxBatch: 4, send: r.send, waitMs: (last) => (last > 1 ? 30 : 0) });
  g.add(1);
  await turn();
  assert.deepEqual(r.batches, [[1]], 'after nothing, a lone item leaves at once');
  g.add(2);
  g.add(3);
  r.finish.shift()!();
  await turn();
  await turn();
  assert.deepEqual(r.batches, [[1], [2, 3]], 'after a lone item, no wait');
  g.add(4);
  r.finish.shift()!();
  await turn();
  await turn();
  assert.deepEqual(r.batches, [[1], [2, 3]], 'after a batch of two, the next one waits for more');
  g.add(5);
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.deepEqual(r.batches, [[1], [2, 3], [4, 5]]);
  g.add(6);
  r.finish.shift()!();
  await turn();
  for (const i of [7, 8, 9]) g.add(i);
  await turn();
  assert.deepEqual(r.batches.at(-1), [6, 7, 8, 9], 'full: it leaves before the wait is over');
});

test('the wait counts from the oldest item: items that waited while the last batch was on its way leave as soon as it is done', async () => {
  const r = recorder();
  const g = createGatherer({ maxBatch: 10, send: r.send, waitMs: (last) => (last > 1 ? 30 : 0) });
  g.add(1);
  g.add(2);
  await turn();
  assert.deepEqual(r.batches, [[1, 2]]);
  g.add(3);
  g.add(4);
  // longer than the wait, while [1, 2] is on its way
  await new Promise((resolve) => setTimeout(resolve, 40));
  r.finish.shift()!();
  await turn();
  await turn();
  assert.deepEqual(r.batches, [[1, 2], [3, 4]], 'no second wait for items that have waited already');
  g.add(5);
  r.finish.shift()!();
  await turn();
  await turn();
  assert.deepEqual(r.batches, [[1, 2], [3, 4]], 'a newcomer still waits for company');
  await new Promise((resolve) => setTimeout(resolve, 40));
  assert.deepEqual(r.batches, [[1, 2], [3, 4], [5]]);
});

test('items that gathered while a batch was on its way leave when it is done, before the event loop turns', async () => {
  const { r } = await twoWaitingBehindOne();
  let turned = false;
  setImmediate(() => (turned = true));
  r.finish.shift()!();
  for (let i = 0; i < 5; i++) await null; // a few microtasks: what the batch's callers would run on its results
  assert.equal(turned, false);
  assert.deepEqual(r.batches, [[1], [2, 3]], 'the next batch is on its way while the callers work, not after them');
});

test('with maxInFlight 2, a second batch leaves while the first is on its way, and a third waits for one of them', async () => {
  const r = recorder();
  const g = createGatherer({ maxBatch: 10, send: r.send, maxInFlight: 2 });
  g.add(1);
  await turn();
  g.add(2);
  await turn();
  assert.deepEqual(r.batches, [[1], [2]], 'the second did not wait for the first');
  g.add(3);
  g.add(4);
  await turn();
  assert.deepEqual(r.batches, [[1], [2]], 'two on their way: the others gather');
  r.finish[1]!(); // the second one is done first
  await turn();
  assert.deepEqual(r.batches, [[1], [2], [3, 4]]);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedQueue } from '../../../src/domain/keyed-queue.js';

/** A promise settled from outside, so the test decides when a task finishes. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every already-queued continuation run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('tasks of one key run one at a time, in the order they were queued', async () => {
  const q = new KeyedQueue();
  const log: string[] = [];
  const gates = [deferred(), deferred(), deferred()];
  const runs = gates.map((gate, i) =>
    q.run('k', async () => {
      log.push(`start ${i}`);
      await gate.promise;
      log.push(`end ${i}`);
      return i;
    }),
  );
  await settle();
  assert.deepEqual(log, ['start 0']);
  // finishing a later task first changes nothing: it has not started
  gates[2]!.resolve();
  gates[1]!.resolve();
  await settle();
  assert.deepEqual(log, ['start 0']);
  gates[0]!.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2]);
  assert.deepEqual(log, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2']);
});

test('tasks of different keys run at the same time', async () => {
  const q = new KeyedQueue();
  const gate = deferred();
  const started: string[] = [];
  const a = q.run('a', async () => {
    started.push('a');
    await gate.promise;
  });
  const b = q.run('b', async () => {
    started.push('b');
    return 'b done';
  });
  // b finishes while a is still blocked
  assert.equal(await b, 'b done');
  assert.deepEqual(started, ['a', 'b']);
  gate.resolve();
  await a;
});

test('a failing task rejects its own caller and does not block the next task of the key', async () => {
  const q = new KeyedQueue();
  const first = q.run('k', async () => {
    throw new Error('boom');
  });
  const second = q.run('k', async () => 'ran');
  await assert.rejects(first, /boom/);
  assert.equal(await second, 'ran');
});

test('a task that throws synchronously is handled like a rejection', async () => {
  const q = new KeyedQueue();
  const first = q.run('k', () => {
    throw new Error('sync boom');
  });
  const second = q.run('k', async () => 2);
  await assert.rejects(first, /sync boom/);
  assert.equal(await second, 2);
});

test('keys are forgotten once their queue is empty', async () => {
  const q = new KeyedQueue();
  const gate = deferred();
  const pending = q.run('a', () => gate.promise);
  const failing = q.run('b', async () => {
    throw new Error('x');
  });
  await assert.rejects(failing);
  await settle();
  assert.equal(q.size, 1);
  gate.resolve();
  await pending;
  await settle();
  assert.equal(q.size, 0);
});

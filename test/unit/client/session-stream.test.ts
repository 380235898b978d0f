import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SessionStream } from '../../../src/client/index.js';
import type { MessageObject } from '../../../src/client/index.js';
import { message } from './fake-socket.js';

const m = (seq: number) => message('s1', seq) as MessageObject;

/** offers seqs in the given order and returns what the app would have been handed */
function run(stream: SessionStream, seqs: number[]): { delivered: number[]; results: string[] } {
  const delivered: number[] = [];
  const results: string[] = [];
  for (const seq of seqs) {
    results.push(stream.offer(m(seq)));
    for (let n = stream.next(); n; n = stream.next()) delivered.push(n.seq);
  }
  return { delivered, results };
}

test('in-order messages are delivered one by one', () => {
  const s = new SessionStream();
  assert.deepEqual(run(s, [1, 2, 3]), { delivered: [1, 2, 3], results: ['next', 'next', 'next'] });
  assert.equal(s.delivered, 3);
  assert.equal(s.behind, false);
});

test('out-of-order messages wait for the gap and come out in order', () => {
  const s = new SessionStream();
  const r = run(s, [3, 1, 4, 2]);
  assert.deepEqual(r.results, ['early', 'next', 'early', 'next']);
  assert.deepEqual(r.delivered, [1, 2, 3, 4]);
  assert.equal(s.buffered, 0);
});

test('a gap leaves the stream behind until it is filled', () => {
  const s = new SessionStream();
  run(s, [1, 4, 5]);
  assert.equal(s.delivered, 1);
  assert.equal(s.known, 5);
  assert.equal(s.buffered, 2);
  assert.equal(s.behind, true);
  assert.deepEqual(run(s, [2, 3]).delivered, [2, 3, 4, 5]);
  assert.equal(s.behind, false);
});

test('duplicates of delivered or waiting messages are dropped', () => {
  const s = new SessionStream();
  const r = run(s, [1, 1, 3, 3, 2, 2, 3, 1]);
  assert.deepEqual(r.delivered, [1, 2, 3]);
  assert.deepEqual(r.results, ['next', 'duplicate', 'early', 'duplicate', 'next', 'duplicate', 'duplicate', 'duplicate']);
});

test('a starting cursor makes older messages duplicates', () => {
  const s = new SessionStream(5);
  assert.deepEqual(run(s, [4, 5, 7, 6]).delivered, [6, 7]);
});

test('note() records messages known to exist without delivering anything', () => {
  const s = new SessionStream(2);
  s.note(6);
  s.note(3); // never backwards
  assert.equal(s.known, 6);
  assert.equal(s.behind, true);
  assert.equal(s.next(), undefined);
  run(s, [3, 4, 5, 6]);
  assert.equal(s.behind, false);
});

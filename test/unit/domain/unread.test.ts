import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextReadSeq, sessionUnread, summarize } from '../../../src/domain/unread.js';

test('session unread is what lies above the read cursor, never negative', () => {
  assert.equal(sessionUnread(10, 4), 6);
  assert.equal(sessionUnread(10, 10), 0);
  assert.equal(sessionUnread(0, 0), 0);
  // a cursor ahead of a lagging lastSeq must not show a negative badge
  assert.equal(sessionUnread(3, 7), 0);
});

test('the summary lists every session, zero ones included, and totals them', () => {
  const summary = summarize([
    { id: 'a', lastSeq: 5, readSeq: 2 },
    { id: 'b', lastSeq: 4, readSeq: 4 },
    { id: 'c', lastSeq: 9, readSeq: 1 },
    { id: 'd', lastSeq: 1, readSeq: 3 },
  ]);
  assert.deepEqual(summary, { total: 11, sessions: { a: 3, b: 0, c: 8, d: 0 } });
});

test('no sessions means nothing unread', () => {
  assert.deepEqual(summarize([]), { total: 0, sessions: {} });
});

test('a read cursor moves forward to what was read', () => {
  assert.equal(nextReadSeq(2, 5, 10), 5);
  assert.equal(nextReadSeq(0, 10, 10), 10);
});

test('a read cursor never moves backwards', () => {
  assert.equal(nextReadSeq(7, 3, 10), 7);
  assert.equal(nextReadSeq(7, 0, 10), 7);
  assert.equal(nextReadSeq(7, 7, 10), 7);
});

test('a read cursor never moves past the last stored message', () => {
  assert.equal(nextReadSeq(2, 50, 10), 10);
  assert.equal(nextReadSeq(0, Number.MAX_SAFE_INTEGER, 0), 0);
});

test('a cursor already past a lagging lastSeq stays where it is', () => {
  assert.equal(nextReadSeq(8, 9, 5), 8);
});

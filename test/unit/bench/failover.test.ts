// The failover scenario's verdict (bench/failover.ts): the bench fails when a
// message was lost, repeated or reordered across the kill, or a client of the
// killed instance never came back; how long they took is reported, never judged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFailover, failoverCorrect, type FailoverResult } from '../../../bench/failover.js';
import type { LoadResult } from '../../../bench/load.js';

function load(change: Partial<LoadResult> = {}): LoadResult {
  return {
    issued: 300,
    stored: 300,
    storedInWindow: 300,
    delivered: 300,
    deliveredInWindow: 300,
    duplicates: 0,
    outOfOrder: 0,
    misrouted: 0,
    sendErrors: 0,
    reconnects: 2,
    storeLatency: [],
    deliverLatency: [3, 5, 900],
    generatorLagMs: 0,
    windowMs: 3000,
    drainMs: 0,
    drained: true,
    ...change,
  };
}

function result(change: Partial<LoadResult> = {}, backMs: number[] = [400, 250, 1900], bystanders: Partial<LoadResult> = {}): FailoverResult {
  return { rate: 100, pairs: 2, held: { chatting: 2, idle: 1 }, killedAtS: 1, backMs, load: load(change), bystanders: load(bystanders), refused: {} };
}

test('every client back and every message delivered once, in order: correct, with how long they took', () => {
  const f = result();
  assert.equal(failoverCorrect(f), true);
  const text = describeFailover(f);
  assert.match(text, /back on the other instance: 3 of 3 clients, ready again after p50 400\.0 ms, p99 1\.90 s, the last 1\.90 s/);
  assert.match(text, /lost 0, dups 0, order 0/);
  assert.match(text, /refused by the instance that survived: nothing/);
});

test('what the survivor refused meanwhile is told by reason (upgrades turned back make clients retry by their backoff)', () => {
  const f = { ...result(), refused: { overload: 5087, ws_connect_rate: 0, max_connections: 3 } };
  assert.equal(failoverCorrect(f), true, 'refusals are reported, not judged');
  assert.match(describeFailover(f), /refused by the instance that survived: 5087 \(overload\), 3 \(max_connections\)$/m);
});

test('a client of the killed instance that never came back fails the scenario', () => {
  const f = result({}, [400, 250]);
  assert.equal(failoverCorrect(f), false);
  assert.match(describeFailover(f), /2 of 3 clients/);
});

test('a message lost, repeated or reordered across the kill fails the scenario', () => {
  assert.equal(failoverCorrect(result({ delivered: 299 })), false);
  assert.match(describeFailover(result({ delivered: 299 })), /split pairs' chat: .*lost 1,/);
  assert.equal(failoverCorrect(result({ duplicates: 1 })), false);
  assert.equal(failoverCorrect(result({ outOfOrder: 1 })), false);
  assert.equal(failoverCorrect(result({ misrouted: 1 })), false);
});

test('so does a message lost by the bystanders, whose instance took the storm', () => {
  const f = result({}, undefined, { delivered: 298 });
  assert.equal(failoverCorrect(f), false);
  assert.match(describeFailover(f), /bystanders' chat: .*lost 2,/);
});

import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Emitter } from '../../../src/client/index.js';

class Bus extends Emitter<{ n: number }> {
  fire(n: number) {
    this.emit('n', n);
  }
}

test('on returns an unsubscribe; off during emit affects the next emit only', () => {
  const bus = new Bus();
  const got: string[] = [];
  const offA = bus.on('n', (n) => {
    got.push(`a${n}`);
    offA();
  });
  bus.on('n', (n) => got.push(`b${n}`));
  bus.fire(1);
  bus.fire(2);
  assert.deepEqual(got, ['a1', 'b1', 'b2']);
});

test('a throwing listener does not stop the others; its error is rethrown later, not lost', () => {
  const deferred: (() => void)[] = [];
  const q = mock.method(globalThis, 'queueMicrotask', (fn: () => void) => deferred.push(fn));
  try {
    const bus = new Bus();
    const got: number[] = [];
    bus.on('n', () => {
      throw new Error('app bug');
    });
    bus.on('n', (n) => got.push(n));
    bus.fire(1);
    assert.deepEqual(got, [1]);
    assert.equal(deferred.length, 1);
    assert.throws(() => deferred[0]!(), /app bug/);
  } finally {
    q.mock.restore();
  }
});

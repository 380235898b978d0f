import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createWriteLane } from '../../../src/store/write-lane.js';

/** A write the test finishes by hand, recording when it started. */
function gate(log: string[], name: string) {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return { write: () => (log.push(name), done.then(() => name)), finish };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('write lane', () => {
  it('runs one write at a time, in the order asked', async () => {
    const lane = createWriteLane();
    const log: string[] = [];
    const a = gate(log, 'a');
    const b = gate(log, 'b');
    const ra = lane.run(a.write);
    const rb = lane.run(b.write);
    await tick();
    assert.deepEqual(log, ['a'], 'b waits for a');
    a.finish();
    assert.equal(await ra, 'a');
    await tick();
    assert.deepEqual(log, ['a', 'b']);
    b.finish();
    assert.equal(await rb, 'b');
  });

  it('with concurrency 2, two writes run at once and a third waits for either to finish', async () => {
    const lane = createWriteLane({ concurrency: 2 });
    const log: string[] = [];
    const [a, b, c] = [gate(log, 'a'), gate(log, 'b'), gate(log, 'c')];
    const runs = [lane.run(a.write), lane.run(b.write), lane.run(c.write)];
    await tick();
    assert.deepEqual(log, ['a', 'b'], 'c waits');
    b.finish();
    assert.equal(await runs[1], 'b');
    await tick();
    assert.deepEqual(log, ['a', 'b', 'c'], 'c took the place b left, a still running');
    a.finish();
    c.finish();
    assert.deepEqual(await Promise.all(runs), ['a', 'b', 'c']);
  });

  it('a failed write fails its caller only; the next one runs', async () => {
    const lane = createWriteLane();
    const failed = lane.run(() => Promise.reject(new Error('duplicate key')));
    const next = lane.run(async () => 'stored');
    await assert.rejects(failed, /duplicate key/);
    assert.equal(await next, 'stored');
  });

  it('lets waited-for writes pass background ones, until a background write has waited its limit', async () => {
    let clock = 0;
    const lane = createWriteLane({ maxBackgroundWaitMs: 100, now: () => clock });
    const log: string[] = [];
    const first = gate(log, 'first');
    const bg = gate(log, 'background');
    const u1 = gate(log, 'urgent-1');
    const u2 = gate(log, 'urgent-2');
    void lane.run(first.write);
    void lane.run(bg.write, { background: true });
    void lane.run(u1.write);
    await tick();
    first.finish();
    await tick();
    assert.deepEqual(log, ['first', 'urgent-1'], 'the insert goes before the activity update');
    void lane.run(u2.write);
    clock = 150; // the background write has now waited past its limit
    u1.finish();
    await tick();
    assert.deepEqual(log, ['first', 'urgent-1', 'background'], 'not starved by a stream of inserts');
    bg.finish();
    await tick();
    assert.deepEqual(log, ['first', 'urgent-1', 'background', 'urgent-2']);
    u2.finish();
  });
});

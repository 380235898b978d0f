import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Session } from '../../../src/domain/model.js';
import { SessionCache } from '../../../src/domain/session-cache.js';

function setup(random?: () => number) {
  let now = 0;
  const stored = new Map<string, Session>();
  let loads = 0;
  let gate: Promise<void> | undefined;
  const session = (id: string, state: Session['state']): Session => ({ id, siteId: 's', state, visitorId: 'v', lastSeq: 0, createdAt: new Date(0), lastActivityAt: new Date(0) });
  const cache = new SessionCache({
    async load(id) {
      loads += 1;
      const found = stored.get(id) ?? null;
      await gate;
      return found;
    },
    now: () => now,
    ttlMs: 5000,
    ...(random ? { random } : {}),
  });
  /** a transition anywhere: the store has it, then word of it comes (the broker calls forget) */
  const change = (id: string, state: Session['state']) => {
    stored.set(id, session(id, state));
    cache.forget(id);
  };
  return {
    cache,
    stored,
    session,
    change,
    loads: () => loads,
    advance: (ms: number) => (now += ms),
    hold: () => {
      let open!: () => void;
      gate = new Promise((resolve) => (open = resolve));
      return () => {
        gate = undefined;
        open();
      };
    },
  };
}

test('a session is read once and served from memory while nothing changed it', async () => {
  const w = setup();
  w.stored.set('a', w.session('a', 'active'));
  for (let i = 0; i < 5; i++) assert.equal((await w.cache.get('a'))?.state, 'active');
  assert.equal(w.loads(), 1);
});

test('a transition anywhere is seen by the next get once word of it comes', async () => {
  const w = setup();
  w.stored.set('a', w.session('a', 'active'));
  await w.cache.get('a');
  w.change('a', 'closed');
  assert.equal((await w.cache.get('a'))?.state, 'closed');
  assert.equal(w.loads(), 2);
});

test('a transition that was never told is seen once the time to live is up', async () => {
  const w = setup();
  w.stored.set('a', w.session('a', 'active'));
  await w.cache.get('a');
  w.stored.set('a', w.session('a', 'closed')); // its instance died before telling
  w.advance(2499); // entries expire in the second half of the TTL, spread so that they are not read again together
  assert.equal((await w.cache.get('a'))?.state, 'active');
  w.advance(2501);
  assert.equal((await w.cache.get('a'))?.state, 'closed');
});

test('a session in use late in its life is read again while the old entry serves, without its caller waiting', async () => {
  const w = setup(() => 0); // every entry lives the whole TTL, 5 s, and is read again from 3.75 s
  w.stored.set('a', w.session('a', 'active'));
  await w.cache.get('a');
  w.stored.set('a', w.session('a', 'closed')); // word of it missed
  w.advance(3700);
  assert.equal((await w.cache.get('a'))?.state, 'active');
  assert.equal(w.loads(), 1, 'not read again before three quarters of its life');
  w.advance(100);
  const release = w.hold(); // the read again does not answer yet
  assert.equal((await w.cache.get('a'))?.state, 'active', 'the caller got the entry without waiting for the read');
  assert.equal(w.loads(), 2);
  assert.equal((await w.cache.get('a'))?.state, 'active', 'one read again at a time');
  assert.equal(w.loads(), 2);
  release();
  await new Promise((resolve) => setImmediate(resolve));
  w.advance(1500); // past the old entry's life (5 s), before the new one's read again (3.8 + 3.75 s): the new one serves
  assert.equal((await w.cache.get('a'))?.state, 'closed');
  assert.equal(w.loads(), 2);
});

test('a read again that a change overtook is not kept', async () => {
  const w = setup(() => 0);
  w.stored.set('a', w.session('a', 'active'));
  await w.cache.get('a');
  w.advance(3800);
  const release = w.hold();
  await w.cache.get('a'); // starts the read again, which reads 'active'
  w.change('a', 'closed');
  release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal((await w.cache.get('a'))?.state, 'closed');
});

test('concurrent misses share one read', async () => {
  const w = setup();
  w.stored.set('a', w.session('a', 'queued'));
  const release = w.hold();
  const reads = Array.from({ length: 10 }, () => w.cache.get('a'));
  release();
  assert.ok((await Promise.all(reads)).every((s) => s?.state === 'queued'));
  assert.equal(w.loads(), 1);
});

test('a read under way when the session changes is not kept', async () => {
  const w = setup();
  w.stored.set('a', w.session('a', 'active'));
  const release = w.hold();
  const early = w.cache.get('a');
  await new Promise((resolve) => setImmediate(resolve));
  w.change('a', 'closed');
  release();
  assert.equal((await early)?.state, 'active', 'the early reader gets what it read');
  assert.equal((await w.cache.get('a'))?.state, 'closed', 'later readers read again');
});

test('an unknown session is not remembered', async () => {
  const w = setup();
  assert.equal(await w.cache.get('nope'), null);
  w.stored.set('nope', w.session('nope', 'queued'));
  assert.equal((await w.cache.get('nope'))?.state, 'queued');
});

test('when word of changes may have been missed, every session is read again', async () => {
  const w = setup();
  for (const id of ['a', 'b']) w.stored.set(id, w.session(id, 'active'));
  await Promise.all([w.cache.get('a'), w.cache.get('b')]);
  for (const id of ['a', 'b']) w.stored.set(id, w.session(id, 'closed')); // changed while the subscriber was away
  assert.equal((await w.cache.get('a'))?.state, 'active');
  w.cache.forgetAll();
  assert.deepEqual([(await w.cache.get('a'))?.state, (await w.cache.get('b'))?.state], ['closed', 'closed']);
  assert.equal(w.loads(), 4);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError, rateLimited, tooLarge, unavailable } from '../../../src/errors.js';
import { HOLD_MIN_MS, SendOrder } from '../../../src/gateway/send-order.js';

function setup() {
  let now = 0;
  const order = new SendOrder(() => now);
  /** what `send` was called with, per cid */
  const seen: Array<{ cid: string; held: AppError | undefined }> = [];
  const run = (sid: string, cid: string, outcome?: AppError) =>
    order.run(sid, cid, async (held) => {
      seen.push({ cid, held });
      if (held) throw held;
      if (outcome) throw outcome;
      return cid;
    });
  return { run, seen, advance: (ms: number) => (now += ms) };
}

test('after a refusal, later sends of the session are held until the refused cid comes back', async () => {
  const { run, seen } = setup();
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 200)), { code: 'rate_limited' });
  await assert.rejects(run('s1', 'c2'), (err: unknown) => err instanceof AppError && err.code === 'rate_limited' && err.retryAfterMs === HOLD_MIN_MS);
  assert.ok(seen.at(-1)!.held, 'the held send is passed on as held (the domain still answers resends)');
  assert.equal(await run('s1', 'c1'), 'c1');
  assert.equal(await run('s1', 'c2'), 'c2');
});

test('other sessions are not held', async () => {
  const { run } = setup();
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 200)));
  assert.equal(await run('s2', 'c2'), 'c2');
});

test('a hold ends when the wait it was given is over, at least HOLD_MIN_MS', async () => {
  const { run, advance } = setup();
  await assert.rejects(run('s1', 'c1', unavailable('overloaded', 5000)), { code: 'unavailable' });
  advance(4999);
  await assert.rejects(run('s1', 'c2'), (err: unknown) => err instanceof AppError && err.code === 'unavailable' && err.retryAfterMs === 1);
  advance(1);
  assert.equal(await run('s1', 'c2'), 'c2', 'a client that gave up on c1 is not held for ever');

  await assert.rejects(run('s1', 'c3', rateLimited('slow down', 10)));
  advance(HOLD_MIN_MS - 1);
  await assert.rejects(run('s1', 'c4'));
  advance(1);
  assert.equal(await run('s1', 'c4'), 'c4');
});

test('a held send refused does not move the hold to it; the refused cid refused again renews it', async () => {
  const { run, advance } = setup();
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 200)));
  await assert.rejects(run('s1', 'c2'));
  advance(500);
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 200)));
  advance(HOLD_MIN_MS - 1);
  await assert.rejects(run('s1', 'c2'), 'still held behind c1, past the first hold');
  assert.equal(await run('s1', 'c1'), 'c1');
  assert.equal(await run('s1', 'c2'), 'c2');
});

test('errors without a retry time do not hold anything', async () => {
  const { run } = setup();
  await assert.rejects(run('s1', 'c1', tooLarge('too long')), { code: 'too_large' });
  assert.equal(await run('s1', 'c2'), 'c2');
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError, rateLimited, tooLarge, unavailable } from '../../../src/errors.js';
import { HOLD_MIN_MS, SendOrder } from '../../../src/gateway/send-order.js';

function setup() {
  let now = 0;
  const order = new SendOrder(() => now);
  /** what `send` was called with, per cid */
  const seen: Array<{ cid: string; held: AppError | undefined }> = [];
  /** `outcome` refuses the send at admission */
  const run = async (sid: string, cid: string, outcome?: AppError) => {
    const { stored } = await admit(sid, cid, outcome);
    return stored;
  };
  /** admits a send whose storing waits for `settle` (a refusal then comes from the store) */
  const admit = (sid: string, cid: string, outcome?: AppError, settle: Promise<string> = Promise.resolve(cid)) =>
    order.run(sid, cid, async (held) => {
      seen.push({ cid, held });
      if (held) throw held;
      if (outcome) throw outcome;
      return { stored: settle };
    });
  return { order, run, admit, seen, advance: (ms: number) => (now += ms) };
}

test('after a refusal, later sends of the session are held until the refused cid comes back', async () => {
  const { run, seen } = setup();
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 200)), { code: 'rate_limited' });
  await assert.rejects(run('s1', 'c2'), (err: unknown) => err instanceof AppError && err.code === 'rate_limited' && err.retryAfterMs === HOLD_MIN_MS);
  assert.ok(seen.at(-1)!.held, 'the held send is passed on as held (the domain still answers resends)');
  assert.equal(await run('s1', 'c1'), 'c1');
  assert.equal(await run('s1', 'c2'), 'c2');
});

test('the sends refused because of a hold come back before any newer one, in the order they first came', async () => {
  const { run } = setup();
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 20)), { code: 'rate_limited' });
  await assert.rejects(run('s1', 'c2'));
  await assert.rejects(run('s1', 'c3'));
  assert.equal(await run('s1', 'c1'), 'c1', 'the refused one, sent again soon');
  // c4 was typed meanwhile and reached the server before c2 and c3 were sent again
  await assert.rejects(run('s1', 'c4'), { code: 'rate_limited' });
  await assert.rejects(run('s1', 'c3'), 'c3 waits for c2');
  assert.equal(await run('s1', 'c2'), 'c2');
  assert.equal(await run('s1', 'c3'), 'c3');
  assert.equal(await run('s1', 'c4'), 'c4');
  assert.equal(await run('s1', 'c5'), 'c5', 'and then nothing is held');
});

test('a send admitted before the refusal of a later one, and refused at storing after it, still goes first', async () => {
  const { run, admit } = setup();
  let failFirst!: (err: unknown) => void;
  const first = await admit('s1', 'c1', undefined, new Promise<string>((_, reject) => (failFirst = reject)));
  await assert.rejects(run('s1', 'c2', rateLimited('slow down', 20)));
  failFirst(unavailable('the message could not be stored, send it again', 1000));
  await assert.rejects(first.stored, { code: 'unavailable' });
  await assert.rejects(run('s1', 'c2'), 'c2 waits for c1, which was sent before it');
  assert.equal(await run('s1', 'c1'), 'c1');
  assert.equal(await run('s1', 'c2'), 'c2');
});

test('a held resend of a message already stored is answered, and nobody waits for it to come back', async () => {
  const { order, run } = setup();
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 20)));
  // c2 was stored before (its answer was lost): the domain answers it with the original despite the hold
  const { stored } = await order.run('s1', 'c2', async (held) => {
    assert.ok(held, 'it came while c1 held the session');
    return { stored: Promise.resolve('c2 (the original)') };
  });
  assert.equal(await stored, 'c2 (the original)');
  assert.equal(await run('s1', 'c1'), 'c1');
  assert.equal(await run('s1', 'c3'), 'c3', 'c3 does not wait for c2');
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

test("the service's own refusals without a retry time are final and hold nothing", async () => {
  const { run } = setup();
  await assert.rejects(run('s1', 'c1', tooLarge('too long')), { code: 'too_large' });
  assert.equal(await run('s1', 'c2'), 'c2');
});

test('a send refused for good during a hold (checked before its turn is) keeps no place in it: it will not come back', async () => {
  const { order, run } = setup();
  await assert.rejects(run('s1', 'c1', rateLimited('slow down', 20)));
  // refused by a check the domain makes before it looks at the hold
  await assert.rejects(
    order.run('s1', 'c2', async () => Promise.reject(tooLarge('too long'))),
    { code: 'too_large' },
  );
  assert.equal(await run('s1', 'c1'), 'c1');
  assert.equal(await run('s1', 'c3'), 'c3', 'not waiting for c2');
});

test('an unexpected failure (the client is told unavailable and sends it again) holds the session like a refusal', async () => {
  const { admit, run, advance } = setup();
  // at admission
  await assert.rejects(run('s1', 'c1', new Error('Connection is closed.') as unknown as AppError), /Connection is closed/);
  await assert.rejects(run('s1', 'c2'), (err: unknown) => err instanceof AppError && err.code === 'unavailable' && err.retryAfterMs === HOLD_MIN_MS);
  assert.equal(await run('s1', 'c1'), 'c1', 'the failed one, sent again, goes first');
  assert.equal(await run('s1', 'c2'), 'c2');
  // at storing
  const { stored } = await admit('s1', 'c3', undefined, Promise.reject(new Error('socket hang up')));
  await assert.rejects(stored, /socket hang up/);
  await assert.rejects(run('s1', 'c4'), { code: 'unavailable' });
  advance(HOLD_MIN_MS);
  assert.equal(await run('s1', 'c4'), 'c4', 'for HOLD_MIN_MS at most');
});

test('a store refusal after admission holds the session; the sends admitted behind it and refused with it do not move the hold', async () => {
  const { run, admit } = setup();
  let failFirst!: (err: unknown) => void;
  let failSecond!: (err: unknown) => void;
  const first = await admit('s1', 'c1', undefined, new Promise<string>((_, reject) => (failFirst = reject)));
  const second = await admit('s1', 'c2', undefined, new Promise<string>((_, reject) => (failSecond = reject)));
  const refusal = unavailable('the message could not be stored, send it again', 1000);
  failFirst(refusal);
  failSecond(refusal);
  await assert.rejects(first.stored, { code: 'unavailable' });
  await assert.rejects(second.stored, { code: 'unavailable' });
  await assert.rejects(run('s1', 'c3'), (err: unknown) => err instanceof AppError && err.code === 'unavailable' && err.retryAfterMs === HOLD_MIN_MS);
  await assert.rejects(run('s1', 'c2'), 'c2 waits for c1, the first refused');
  assert.equal(await run('s1', 'c1'), 'c1');
  assert.equal(await run('s1', 'c2'), 'c2');
  assert.equal(await run('s1', 'c3'), 'c3');
});

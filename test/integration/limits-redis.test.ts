/**
 * The Redis limiters on their own (src/limits): the token bucket and slow
 * mode as one atomic step, and the per-IP connection window, each used from
 * two connections as two instances would. The service-level behaviour is in
 * limits.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { LimitRefusal, MessageLimiter } from '../../src/domain/ports.js';
import { createConnectLimiter } from '../../src/limits/connect-limiter.js';
import { limitKeys } from '../../src/limits/keys.js';
import { createMessageLimiter } from '../../src/limits/message-limiter.js';
import { defineLimitScripts } from '../../src/limits/scripts.js';
import { testUrls, uniqueName } from '../helpers/infra.js';

const prefix = uniqueName('iml');
const keys = limitKeys(prefix);
const connections: Redis[] = [];

async function connection(): Promise<Redis> {
  const redis = new Redis(testUrls().redisUrl, { lazyConnect: true });
  await redis.connect();
  defineLimitScripts(redis);
  connections.push(redis);
  return redis;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('limits in Redis', () => {
  let one: Redis;
  let two: Redis;
  const refused: Array<LimitRefusal['reason']> = [];

  /** The same limiter as two instances run it, each on its own connection. */
  function limiters(ratePerSec: number, burst: number): [MessageLimiter, MessageLimiter] {
    const make = (redis: Redis) => createMessageLimiter({ redis, keys, ratePerSec, burst, onRefused: (r) => refused.push(r) });
    return [make(one), make(two)];
  }

  before(async () => {
    one = await connection();
    two = await connection();
  });

  after(async () => {
    const found = await one.keys(`${prefix}:*`);
    if (found.length > 0) await one.del(...found);
    await Promise.all(connections.map((c) => c.quit()));
  });

  it('the burst is shared by every instance; then a refusal says how long until the next token, and that wait is enough', async () => {
    const [x, y] = limiters(10, 4);
    const started = Date.now();
    const answers = await Promise.all([x, y, x, y, x, y, x, y].map((l) => l.take('sender-1', 'site-1', 0)));
    const admitted = answers.filter((a) => a === null).length;
    assert.ok(admitted >= 4 && admitted <= 4 + (10 * (Date.now() - started)) / 1000, `${admitted} admitted`);
    const refusal = answers.find((a) => a !== null)!;
    assert.equal(refusal.reason, 'message_rate');
    assert.ok(refusal.retryAfterMs > 0 && refusal.retryAfterMs <= 100, `retryAfterMs ${refusal.retryAfterMs}`);
    const again = await y.take('sender-1', 'site-1', 0);
    assert.ok(again, 'still empty');
    await sleep(again.retryAfterMs);
    assert.equal(await x.take('sender-1', 'site-1', 0), null, 'a token is back after the advertised wait');
    assert.equal(await x.take('sender-2', 'site-1', 0), null, 'other senders have buckets of their own');
  });

  it('slow mode admits one message per window; its refusals take no token, and waiting the window out admits the next', async () => {
    const [x, y] = limiters(1, 3);
    assert.equal(await x.take('sender-3', 'site-1', 300), null);
    const refusal = await y.take('sender-3', 'site-1', 300);
    assert.equal(refusal?.reason, 'slow_mode');
    assert.ok(refusal.retryAfterMs > 0 && refusal.retryAfterMs <= 300, `retryAfterMs ${refusal.retryAfterMs}`);
    for (let i = 0; i < 5; i++) assert.equal((await x.take('sender-3', 'site-1', 300))?.reason, 'slow_mode');
    await sleep(refusal.retryAfterMs);
    // the rest of the burst is still there: the refusals took none
    assert.equal(await y.take('sender-3', 'site-1', 300), null);
    assert.equal(await y.take('sender-3', 'site-2', 300), null, 'the window is per site');
  });

  it('a message the bucket refuses does not open the slow-mode window', async () => {
    const [x] = limiters(1, 1);
    assert.equal(await x.take('sender-4', 'site-1', 0), null);
    assert.equal((await x.take('sender-4', 'site-1', 60_000))?.reason, 'message_rate');
    assert.equal(await one.exists(keys.slowMode('site-1', 'sender-4')), 0);
  });

  it('every refusal is reported for counting', async () => {
    const before = refused.length;
    const [x] = limiters(1, 1);
    await x.take('sender-5', 'site-1', 0);
    await x.take('sender-5', 'site-1', 0);
    await x.take('sender-5', 'site-1', 0);
    assert.deepEqual(refused.slice(before), ['message_rate', 'message_rate']);
  });

  it('connection attempts per IP: the limit holds across instances within the window, per address', async () => {
    const x = createConnectLimiter({ redis: one, keys, perMinute: 3 });
    const y = createConnectLimiter({ redis: two, keys, perMinute: 3 });
    assert.equal(await x.take('192.0.2.1'), null);
    assert.equal(await y.take('192.0.2.1'), null);
    assert.equal(await x.take('192.0.2.1'), null);
    const over = await y.take('192.0.2.1');
    assert.ok(over && over.retryAfterMs > 0 && over.retryAfterMs <= 60_000, JSON.stringify(over));
    assert.equal(await x.take('192.0.2.2'), null);
  });

  it('a limit of 0 is off and costs no Redis call', async () => {
    const off = createMessageLimiter({ redis: one, keys, ratePerSec: 0, burst: 1, onRefused: () => assert.fail('refused') });
    for (let i = 0; i < 10; i++) assert.equal(await off.take('sender-6', 'site-1', 0), null);
    assert.equal(await one.exists(keys.messageBucket('sender-6')), 0);
    const connectsOff = createConnectLimiter({ redis: one, keys, perMinute: 0 });
    for (let i = 0; i < 10; i++) assert.equal(await connectsOff.take('192.0.2.3'), null);
    assert.equal(await one.exists(keys.wsConnects('192.0.2.3')), 0);
  });
});

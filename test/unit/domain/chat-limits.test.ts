/**
 * How sendMessage uses the message limiter (src/domain/ports.ts): only new
 * messages are limited, a refusal stores nothing, and slow mode is the site's
 * and holds visitors only. The limiter itself (Redis) is tested in
 * test/integration/limits.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppError } from '../../../src/errors.js';
import { createWorld } from './fakes.js';

async function activeSession() {
  const w = createWorld();
  const site = w.addSite();
  const agent = w.addAgent(site.id);
  const visitor = w.addVisitor(site.id);
  const { session } = await w.chat.startSession(visitor, {});
  await w.chat.acceptSession(agent, session.id);
  return { w, site, agent, visitor, sid: session.id };
}

const chatMessages = (w: ReturnType<typeof createWorld>) => w.messages.filter((m) => m.type === 'chat');

test('a refused message is rate_limited with retryAfterMs, and nothing is stored or pushed', async () => {
  const { w, visitor, sid } = await activeSession();
  const pushedBefore = w.pushed.length;
  w.refusal = { reason: 'message_rate', retryAfterMs: 1500 };
  await assert.rejects(w.chat.sendMessage(visitor, sid, { cid: 'c1', text: 'flood' }), (err: unknown) => {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'rate_limited');
    assert.equal(err.status, 429);
    assert.equal(err.retryAfterMs, 1500);
    return true;
  });
  assert.equal(chatMessages(w).length, 0);
  assert.equal(w.pushed.length, pushedBefore);
});

test('slow mode refusals say so', async () => {
  const { w, visitor, sid } = await activeSession();
  w.refusal = { reason: 'slow_mode', retryAfterMs: 29_000 };
  await assert.rejects(w.chat.sendMessage(visitor, sid, { cid: 'c1', text: 'again' }), { code: 'rate_limited', message: /slow mode/ });
});

test('a resend of a stored message is answered with the original even when the limiter refuses', async () => {
  const { w, visitor, sid } = await activeSession();
  const first = await w.chat.sendMessage(visitor, sid, { cid: 'c1', text: 'hello' });
  w.refusal = { reason: 'message_rate', retryAfterMs: 1000 };
  const again = await w.chat.sendMessage(visitor, sid, { cid: 'c1', text: 'hello' });
  assert.equal(again.id, first.id);
  assert.equal(again.seq, first.seq);
  assert.equal(chatMessages(w).length, 1);
});

test("visitors are held to the site's slow mode, agents never; a change applies at once", async () => {
  const { w, site, agent, visitor, sid } = await activeSession();
  await w.chat.sendMessage(visitor, sid, { cid: 'v1', text: 'a' });
  await w.chat.setSlowMode(site.id, 30);
  await w.chat.sendMessage(visitor, sid, { cid: 'v2', text: 'b' });
  await w.chat.sendMessage(agent, sid, { cid: 'a1', text: 'c' });
  await w.chat.setSlowMode(site.id, 0);
  await w.chat.sendMessage(visitor, sid, { cid: 'v3', text: 'd' });
  assert.deepEqual(
    w.limiterCalls.map((c) => [c.senderId, c.siteId, c.slowModeMs]),
    [
      [visitor.id, site.id, 0],
      [visitor.id, site.id, 30_000],
      [agent.id, site.id, 0],
      [visitor.id, site.id, 0],
    ],
  );
});

test('the slow-mode setting is read once a second, not once a message; a change made elsewhere is seen within that', async () => {
  const { w, site, visitor, sid } = await activeSession();
  await w.chat.sendMessage(visitor, sid, { cid: 'v1', text: 'a' });
  const reads = w.siteReads;
  await w.chat.sendMessage(visitor, sid, { cid: 'v2', text: 'b' });
  assert.equal(w.siteReads, reads, 'served from the cache');
  w.sites.get(site.id)!.slowModeSeconds = 10; // another instance changed it
  await w.chat.sendMessage(visitor, sid, { cid: 'v3', text: 'c' });
  w.clock.advance(1000);
  await w.chat.sendMessage(visitor, sid, { cid: 'v4', text: 'd' });
  assert.deepEqual(w.limiterCalls.slice(-2).map((c) => c.slowModeMs), [0, 10_000]);
});

test('slow mode of an unknown site is refused as not_found', async () => {
  const w = createWorld();
  await assert.rejects(w.chat.setSlowMode('nope', 10), { code: 'not_found' });
});

test('a caller-given refusal refuses new messages without asking the limiter, and still answers a resend', async () => {
  const { w, visitor, sid } = await activeSession();
  const first = await w.chat.sendMessage(visitor, sid, { cid: 'c1', text: 'hello' });
  const calls = w.limiterCalls.length;
  const held = new AppError('rate_limited', 'an earlier message was refused', 700);
  await assert.rejects(w.chat.sendMessage(visitor, sid, { cid: 'c2', text: 'next' }, held), (err) => err === held);
  assert.equal((await w.chat.sendMessage(visitor, sid, { cid: 'c1', text: 'hello' }, held)).id, first.id);
  assert.equal(w.limiterCalls.length, calls, 'no token taken');
  assert.equal(chatMessages(w).length, 1);
});

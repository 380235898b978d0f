import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Actor } from '../../../src/domain/model.js';
import { createWorld, type World } from './fakes.js';

const INACTIVITY_MS = 60_000;

async function start(w: World, visitor: Actor) {
  return (await w.chat.startSession(visitor, {})).session;
}

const events = (w: World, sessionId: string) => w.messages.filter((m) => m.sessionId === sessionId && m.type === 'system').map((m) => m.body.event);
const load = (w: World, agent: Actor) => w.load(agent.id);

/** A site with one agent holding one active session with one visitor. */
async function activeSession(opts: { maxSessions?: number } = {}) {
  const w = createWorld({ maxTextLength: 1000, inactivityMs: INACTIVITY_MS });
  const site = w.addSite();
  const agent = w.addAgent(site.id, opts);
  const visitor = w.addVisitor(site.id);
  const s = await start(w, visitor);
  await w.chat.acceptSession(agent, s.id);
  return { w, site, agent, visitor, sid: s.id };
}

test("a visitor's new session waits in the queue, says 'started' and schedules its inactivity check", async () => {
  const w = createWorld({ maxTextLength: 1000, inactivityMs: INACTIVITY_MS });
  const site = w.addSite();
  const visitor = w.addVisitor(site.id);
  const { session, created } = await w.chat.startSession(visitor, {});
  assert.equal(created, true);
  assert.equal(session.state, 'queued');
  assert.deepEqual(events(w, session.id), ['started']);
  assert.equal(w.sessions.get(session.id)!.lastSeq, 1);
  assert.deepEqual(w.scheduled, [{ sessionId: session.id, at: new Date(w.clock.now().getTime() + INACTIVITY_MS) }]);
  assert.ok(w.pushed.some((p) => !Array.isArray(p.to) && p.to.siteAgents === site.id && p.push.kind === 'event'), 'the queue view hears of it');
});

test('starting again returns the open session instead of a second one', async () => {
  const w = createWorld();
  const site = w.addSite();
  const visitor = w.addVisitor(site.id);
  const first = await start(w, visitor);
  const again = await w.chat.startSession(visitor, {});
  assert.equal(again.created, false);
  assert.equal(again.session.id, first.id);
  assert.equal(w.sessions.size, 1);
  assert.deepEqual(events(w, first.id), ['started']);
});

test('of two agents accepting at once exactly one wins; the other gets conflict and keeps its capacity', async () => {
  const w = createWorld();
  const site = w.addSite();
  const [a1, a2] = [w.addAgent(site.id), w.addAgent(site.id)];
  const s = await start(w, w.addVisitor(site.id));
  const results = await Promise.allSettled([w.chat.acceptSession(a1, s.id), w.chat.acceptSession(a2, s.id)]);
  const won = results.filter((r) => r.status === 'fulfilled');
  const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(won.length, 1);
  assert.equal(lost.length, 1);
  assert.equal(lost[0]!.reason.code, 'conflict');
  // both got as far as claiming a slot: the compare-and-set on the session decided
  assert.deepEqual([...w.claims].sort(), [a1.id, a2.id].sort());
  const winner = w.sessions.get(s.id)!.assigneeId === a1.id ? a1 : a2;
  const loser = winner === a1 ? a2 : a1;
  assert.equal(load(w, winner), 1);
  assert.equal(load(w, loser), 0);
  assert.deepEqual(events(w, s.id), ['started', 'accepted'], 'one accepted message, not two');
});

test('an agent at capacity cannot accept, and the session stays queued', async () => {
  const { w, site, agent } = await activeSession({ maxSessions: 1 });
  const second = await start(w, w.addVisitor(site.id));
  await assert.rejects(w.chat.acceptSession(agent, second.id), { code: 'conflict', message: /capacity/ });
  assert.equal(w.sessions.get(second.id)!.state, 'queued');
  assert.equal(load(w, agent), 1);
});

test("closing an active session frees the agent's slot for the next one", async () => {
  const { w, site, agent, sid } = await activeSession({ maxSessions: 1 });
  const next = await start(w, w.addVisitor(site.id));
  await w.chat.closeSession(agent, sid, { reason: 'solved' });
  assert.equal(w.sessions.get(sid)!.state, 'closed');
  assert.equal(load(w, agent), 0);
  assert.equal((await w.chat.acceptSession(agent, next.id)).state, 'active');
  assert.equal(load(w, agent), 1);
});

test('a session closed by its visitor frees the agent too, and cannot be closed twice', async () => {
  const { w, agent, visitor, sid } = await activeSession();
  await w.chat.closeSession(visitor, sid);
  assert.equal(load(w, agent), 0);
  await assert.rejects(w.chat.closeSession(agent, sid), { code: 'conflict' });
  assert.equal(load(w, agent), 0, 'never below zero');
  assert.deepEqual(events(w, sid), ['started', 'accepted', 'closed']);
});

test('messages sent at once get contiguous seqs in the order they were sent', async () => {
  const { w, agent, visitor, sid } = await activeSession();
  const sent = await Promise.all(
    Array.from({ length: 10 }, (_, i) => w.chat.sendMessage(i % 2 ? agent : visitor, sid, { cid: `c${i}`, text: `m${i}` })),
  );
  // started=1, accepted=2, then the ten chat messages
  assert.deepEqual(sent.map((m) => m.seq), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(w.sessions.get(sid)!.lastSeq, 12);
});

test("a session's pushes go to the broker in seq order without waiting for each other's acknowledgement; each send waits for its own", async () => {
  const { w, visitor, sid } = await activeSession();
  const acks = new Map<number, () => void>();
  w.pushAck = (push) => new Promise((resolve) => acks.set(push.kind === 'message' ? push.message.seq : 0, resolve));
  const answered: number[] = [];
  const sends = ['a', 'b', 'c'].map((cid) => w.chat.sendMessage(visitor, sid, { cid, text: cid }).then((m) => (answered.push(m.seq), m)));
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  };
  await settle();
  const handed = w.pushed.flatMap((p) => (p.push.kind === 'message' && p.push.message.type === 'chat' ? [p.push.message.seq] : []));
  assert.deepEqual(handed, [3, 4, 5], 'all three handed over, in seq order, none acknowledged yet');
  assert.deepEqual(answered, [], 'no send is answered before its push is acknowledged');
  acks.get(4)!();
  await settle();
  assert.deepEqual(answered, [4], 'the acknowledged one is answered');
  acks.get(3)!();
  acks.get(5)!();
  assert.deepEqual((await Promise.all(sends)).map((m) => m.seq), [3, 4, 5]);
});

test('a send whose push fails is refused; its resend answers the original and pushes it again', async () => {
  const { w, visitor, sid } = await activeSession();
  w.pushAck = async () => {
    throw new Error('redis away');
  };
  await assert.rejects(w.chat.sendMessage(visitor, sid, { cid: 'p', text: 'hello' }), /redis away/);
  w.pushAck = undefined;
  const again = await w.chat.sendMessage(visitor, sid, { cid: 'p', text: 'hello' });
  assert.equal(w.messages.filter((m) => m.cid === 'p').length, 1, 'stored once');
  const pushes = w.pushed.filter((p) => p.push.kind === 'message' && p.push.message.cid === 'p');
  assert.equal(pushes.length, 2, 'pushed again by the resend');
  assert.equal(pushes[1]!.push.kind === 'message' && pushes[1]!.push.message.id, again.id);
});

test('a resend with the same cid returns the original message and stores nothing new', async () => {
  const { w, visitor, sid } = await activeSession();
  const first = await w.chat.sendMessage(visitor, sid, { cid: 'same', text: 'hello' });
  const again = await w.chat.sendMessage(visitor, sid, { cid: 'same', text: 'hello' });
  assert.equal(again.id, first.id);
  assert.equal(again.seq, first.seq);
  assert.equal(w.messages.filter((m) => m.cid === 'same').length, 1);
});

test('the sender has read what they sent; the other side has it unread', async () => {
  const { w, agent, visitor, sid } = await activeSession();
  await w.chat.markRead(visitor, sid, 2);
  await w.chat.sendMessage(agent, sid, { cid: 'a1', text: 'hi, how can I help?' });
  await w.chat.sendMessage(agent, sid, { cid: 'a2', text: 'anyone?' });
  assert.deepEqual(await w.chat.unread(agent), { total: 0, sessions: { [sid]: 0 } });
  assert.deepEqual(await w.chat.unread(visitor), { total: 2, sessions: { [sid]: 2 } });
  assert.equal(await w.chat.markRead(visitor, sid, 999), 4, 'never past the last message');
  assert.equal(await w.chat.markRead(visitor, sid, 1), 4, 'never backwards');
  assert.deepEqual(await w.chat.unread(visitor), { total: 0, sessions: { [sid]: 0 } });
});

test('catching up asks the store only for the messages there are, and tells whether more follow', async () => {
  const { w, agent, visitor, sid } = await activeSession();
  for (let i = 0; i < 5; i++) await w.chat.sendMessage(i % 2 ? agent : visitor, sid, { cid: `c${i}`, text: `m${i}` });
  const last = w.messages.filter((m) => m.sessionId === sid).length;
  const caughtUp = await w.chat.history(visitor, sid, last - 3, 100);
  assert.deepEqual(
    caughtUp.messages.map((m) => m.seq),
    [last - 2, last - 1, last],
  );
  assert.equal(caughtUp.more, false);
  assert.deepEqual(w.rangeLimits, [3], 'three seqs read, not a page of them');
  const page = await w.chat.history(visitor, sid, 0, 2);
  assert.deepEqual(
    page.messages.map((m) => m.seq),
    [1, 2],
  );
  assert.equal(page.more, true);
  const none = await w.chat.history(visitor, sid, last + 50, 100);
  assert.deepEqual(none.messages, [], 'after the end: nothing, and nothing read');
  assert.deepEqual(w.rangeLimits, [3, 3]);
});

test('only the assigned agent may write; other agents are refused', async () => {
  const { w, site, sid } = await activeSession();
  const other = w.addAgent(site.id);
  await assert.rejects(w.chat.sendMessage(other, sid, { cid: 'x', text: 'hi' }), { code: 'forbidden' });
});

test('a closed session refuses new messages but still answers a resend of one stored before', async () => {
  const { w, visitor, sid } = await activeSession();
  const stored = await w.chat.sendMessage(visitor, sid, { cid: 'before', text: 'bye' });
  await w.chat.closeSession(visitor, sid);
  await assert.rejects(w.chat.sendMessage(visitor, sid, { cid: 'after', text: 'hello?' }), { code: 'conflict' });
  assert.equal((await w.chat.sendMessage(visitor, sid, { cid: 'before', text: 'bye' })).id, stored.id);
});

test('empty and over-long texts are refused before anything is stored', async () => {
  const { w, visitor, sid } = await activeSession();
  const before = w.messages.length;
  await assert.rejects(w.chat.sendMessage(visitor, sid, { cid: 'e', text: '   ' }), { code: 'bad_request' });
  await assert.rejects(w.chat.sendMessage(visitor, sid, { cid: 'l', text: 'x'.repeat(1001) }), { code: 'too_large' });
  assert.equal(w.messages.length, before);
});

test('a transfer to another agent moves the slot with the session', async () => {
  const { w, site, agent, sid } = await activeSession();
  const colleague = w.addAgent(site.id);
  const moved = await w.chat.transferSession(agent, sid, { toAgentId: colleague.id });
  assert.equal(moved.assigneeId, colleague.id);
  assert.equal(load(w, agent), 0);
  assert.equal(load(w, colleague), 1);
  await assert.rejects(w.chat.sendMessage(agent, sid, { cid: 'late', text: 'still here' }), { code: 'forbidden' });
});

test('a transfer to an agent at capacity fails and leaves everything as it was', async () => {
  const { w, site, agent, sid } = await activeSession();
  const busy = w.addAgent(site.id, { maxSessions: 1, load: 1 });
  await assert.rejects(w.chat.transferSession(agent, sid, { toAgentId: busy.id }), { code: 'conflict' });
  assert.equal(w.sessions.get(sid)!.assigneeId, agent.id);
  assert.equal(load(w, agent), 1);
  assert.equal(load(w, busy), 1);
});

test('auto assignment gives a new session to the least-loaded online agent', async () => {
  const w = createWorld();
  const site = w.addSite({ mode: 'human', assign: 'auto' });
  w.addAgent(site.id, { load: 3 });
  const light = w.addAgent(site.id, { load: 1 });
  w.addAgent(site.id, { load: 0, online: false });
  w.addAgent(site.id, { load: 2 });
  const { session } = await w.chat.startSession(w.addVisitor(site.id), {});
  assert.equal(session.state, 'active');
  assert.equal(session.assigneeId, light.id);
  assert.equal(load(w, light), 2);
  assert.deepEqual(events(w, session.id), ['started', 'accepted']);
});

test('auto assignment spreads a burst of sessions evenly', async () => {
  const w = createWorld();
  const site = w.addSite({ mode: 'human', assign: 'auto' });
  const agents = [w.addAgent(site.id), w.addAgent(site.id), w.addAgent(site.id)];
  for (let i = 0; i < 6; i++) await start(w, w.addVisitor(site.id));
  assert.deepEqual(agents.map((a) => load(w, a)), [2, 2, 2]);
});

test('with no room online a session waits, and goes to the agent who frees a slot', async () => {
  const w = createWorld();
  const site = w.addSite({ mode: 'human', assign: 'auto' });
  const agent = w.addAgent(site.id, { maxSessions: 1 });
  const first = await start(w, w.addVisitor(site.id));
  const second = await start(w, w.addVisitor(site.id));
  assert.equal(first.assigneeId, agent.id);
  assert.equal(second.state, 'queued');
  await w.chat.closeSession(agent, first.id);
  assert.equal(w.sessions.get(second.id)!.state, 'active');
  assert.equal(w.sessions.get(second.id)!.assigneeId, agent.id);
  assert.equal(load(w, agent), 1);
});

test('manual routing leaves new sessions in the queue even with agents online', async () => {
  const w = createWorld();
  const site = w.addSite();
  w.addAgent(site.id);
  assert.equal((await start(w, w.addVisitor(site.id))).state, 'queued');
});

test('an agent coming online gets back a slot a crash left taken and picks up waiting sessions', async () => {
  const w = createWorld();
  const site = w.addSite({ mode: 'human', assign: 'auto' });
  // a crash between a claim and its session update left a slot taken
  const agent = w.addAgent(site.id, { maxSessions: 1, load: 1, online: false });
  const waiting = await start(w, w.addVisitor(site.id));
  assert.equal(waiting.state, 'queued');
  w.clock.advance(120_000);
  w.online.add(agent.id);
  await w.chat.agentOnline(agent);
  assert.equal(w.sessions.get(waiting.id)!.assigneeId, agent.id);
  assert.equal(load(w, agent), 1);
});

test('an agent who hands a session back to the queue does not get it again automatically', async () => {
  const w = createWorld();
  const site = w.addSite({ mode: 'human', assign: 'auto' });
  const first = w.addAgent(site.id);
  const s = await start(w, w.addVisitor(site.id));
  assert.equal(s.assigneeId, first.id);
  const second = w.addAgent(site.id, { load: 3 });
  await w.chat.transferSession(first, s.id, {});
  // the returner is the least loaded, yet the session goes to the other agent
  assert.equal(w.sessions.get(s.id)!.assigneeId, second.id);
  assert.equal(load(w, first), 0);
  assert.equal(load(w, second), 4);
});

test('a session handed back with nobody else online waits in the queue', async () => {
  const w = createWorld();
  const site = w.addSite({ mode: 'human', assign: 'auto' });
  const only = w.addAgent(site.id);
  const s = await start(w, w.addVisitor(site.id));
  await w.chat.transferSession(only, s.id, {});
  assert.equal(w.sessions.get(s.id)!.state, 'queued');
  assert.equal(load(w, only), 0);
});

test('coming online keeps a slot claimed moments ago: a claim in flight elsewhere is not undone', async () => {
  const w = createWorld();
  const site = w.addSite();
  // claimed an instant ago by another instance, whose session update has not landed yet
  const agent = w.addAgent(site.id, { load: 1 });
  await w.chat.agentOnline(agent);
  assert.equal(load(w, agent), 1);
  w.clock.advance(120_000);
  await w.chat.agentOnline(agent);
  assert.equal(load(w, agent), 0, 'once it is old and its session is not theirs, it is given back');
});

test('the inactivity check reschedules while the session is in use and closes it once idle', async () => {
  const { w, agent, visitor, sid } = await activeSession();
  w.clock.advance(40_000);
  await w.chat.sendMessage(visitor, sid, { cid: 'c1', text: 'still there?' });
  const activeAt = w.clock.now().getTime();
  w.clock.advance(20_000); // the first check fires on time: 60 s after the start
  assert.equal(await w.chat.checkInactivity(sid), 'rescheduled');
  assert.deepEqual(w.scheduled.at(-1), { sessionId: sid, at: new Date(activeAt + INACTIVITY_MS) });
  assert.equal(w.sessions.get(sid)!.state, 'active');

  w.clock.advance(40_000);
  assert.equal(await w.chat.checkInactivity(sid), 'closed');
  const closed = w.sessions.get(sid)!;
  assert.equal(closed.state, 'closed');
  assert.equal(load(w, agent), 0);
  const last = w.messages.at(-1)!;
  assert.deepEqual(last.body, { event: 'closed', by: 'system', reason: 'inactivity' });
});

test('an inactivity check that fires early is rescheduled at least a second later', async () => {
  const { w, sid } = await activeSession();
  const now = w.clock.now().getTime();
  w.clock.advance(INACTIVITY_MS - 1);
  assert.equal(await w.chat.checkInactivity(sid), 'rescheduled');
  assert.deepEqual(w.scheduled.at(-1), { sessionId: sid, at: new Date(now + INACTIVITY_MS - 1 + 1000) });
});

test('an inactivity check for a session closed or gone meanwhile does nothing', async () => {
  const { w, visitor, sid } = await activeSession();
  await w.chat.closeSession(visitor, sid);
  const stored = w.messages.length;
  w.clock.advance(INACTIVITY_MS * 2);
  assert.equal(await w.chat.checkInactivity(sid), 'gone');
  assert.equal(await w.chat.checkInactivity('no-such-session'), 'gone');
  assert.equal(w.messages.length, stored);
});

test('a message another instance stored (heard from the broker) moves the next append past it, so it does not collide', async () => {
  const { w, agent, sid } = await activeSession();
  const before = w.sessions.get(sid)!.lastSeq;
  // the agent replies through another instance: this one hears of seq before+5 only as a push
  w.chat.noteStored(sid, before + 5);
  await w.chat.sendMessage(agent, sid, { cid: 'after-push', text: 'hi' });
  assert.equal(w.appendHints.at(-1), before + 5, 'the append tries the seq after the one heard of first');
  // an older seq heard late changes nothing
  w.chat.noteStored(sid, before + 1);
  await w.chat.sendMessage(agent, sid, { cid: 'later', text: 'again' });
  assert.ok(w.appendHints.at(-1)! >= before + 5);
});

test('agents coming online together make one queue dispatch, not one each, and every waiting session is still assigned', async () => {
  const w = createWorld();
  const site = w.addSite({ mode: 'human', assign: 'auto' });
  const agents = Array.from({ length: 10 }, () => w.addAgent(site.id, { online: false }));
  const queued = [];
  for (let i = 0; i < 5; i++) queued.push(await start(w, w.addVisitor(site.id)));
  assert.ok(queued.every((s) => s.state === 'queued'), 'nobody online yet');
  for (const a of agents) w.online.add(a.id);
  const reads = w.siteReads;
  await Promise.all(agents.map((a) => w.chat.agentOnline(a)));
  // one dispatch runs, at most one more waits behind it for all the others (each run reads the site once)
  assert.ok(w.siteReads - reads <= 2, `${w.siteReads - reads} dispatches for 10 agents`);
  assert.ok(queued.every((s) => w.sessions.get(s.id)!.state === 'active'), 'all waiting sessions assigned');
  // and a dispatch asked for after one started still runs: a session queued now is assigned too
  const late = await start(w, w.addVisitor(site.id));
  assert.equal(late.state, 'active');
});

test("an agent's open sessions are the active ones assigned to it, newest first: not the queue, not what it transferred or closed", async () => {
  const { w, site, agent, sid: first } = await activeSession({ maxSessions: 5 });
  const colleague = w.addAgent(site.id);
  w.clock.advance(1000);
  const second = (await start(w, w.addVisitor(site.id))).id;
  await w.chat.acceptSession(agent, second);
  w.clock.advance(1000);
  const third = (await start(w, w.addVisitor(site.id))).id;
  await w.chat.acceptSession(agent, third);
  const waiting = (await start(w, w.addVisitor(site.id))).id;
  const ids = async () => (await w.chat.overview(agent)).map((r) => r.session.id);
  assert.deepEqual(await ids(), [third, second, first]);
  await w.chat.transferSession(agent, second, { toAgentId: colleague.id });
  await w.chat.closeSession(agent, first, {});
  assert.deepEqual(await ids(), [third]);
  assert.deepEqual((await w.chat.listSessions(agent, 'active')).map((s) => s.id), [third]);
  assert.deepEqual((await w.chat.listSessions(agent)).map((s) => s.id), [waiting, third], 'the queue, then its own');
  assert.deepEqual((await w.chat.overview(colleague)).map((r) => r.session.id), [second]);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Actor, Session, SessionState } from '../../../src/domain/model.js';
import {
  OPEN_STATES,
  type Transition,
  canClose,
  canSend,
  canTransfer,
  canTransition,
  canView,
  isMember,
  isOpen,
  recipients,
} from '../../../src/domain/session-rules.js';

const STATES: SessionState[] = ['bot', 'queued', 'active', 'closed'];
const T0 = new Date('2024-01-01T00:00:00Z');

function session(state: SessionState, extra: Partial<Session> = {}): Session {
  return { id: 's1', siteId: 'site1', state, visitorId: 'v1', lastSeq: 0, createdAt: T0, lastActivityAt: T0, ...extra };
}

const visitor: Actor = { id: 'v1', siteId: 'site1', kind: 'visitor', name: 'V' };
const otherVisitor: Actor = { id: 'v2', siteId: 'site1', kind: 'visitor', name: 'V2' };
const agent: Actor = { id: 'a1', siteId: 'site1', kind: 'agent', name: 'A' };
const otherAgent: Actor = { id: 'a2', siteId: 'site1', kind: 'agent', name: 'A2' };
const bot: Actor = { id: 'b1', siteId: 'site1', kind: 'bot', name: 'B' };
const otherBot: Actor = { id: 'b2', siteId: 'site1', kind: 'bot', name: 'B2' };
const elsewhere = (a: Actor): Actor => ({ ...a, siteId: 'site2' });

const withAgent = session('active', { assigneeId: 'a1' });
const withBot = session('bot', { botId: 'b1' });

test('each transition starts only from the states of the diagram', () => {
  const allowed: Record<Transition, SessionState[]> = {
    accept: ['queued'],
    handoff: ['bot'],
    transfer: ['active', 'bot'],
    close: ['bot', 'queued', 'active'],
  };
  for (const [t, from] of Object.entries(allowed) as Array<[Transition, SessionState[]]>) {
    for (const state of STATES) {
      assert.equal(canTransition(t, state), from.includes(state), `${t} from ${state}`);
    }
  }
});

test('a closed session is final: nothing leaves it', () => {
  assert.equal(isOpen('closed'), false);
  for (const t of ['accept', 'handoff', 'transfer', 'close'] as const) assert.equal(canTransition(t, 'closed'), false);
  assert.deepEqual([...OPEN_STATES].sort(), ['active', 'bot', 'queued']);
  for (const s of OPEN_STATES) assert.equal(isOpen(s), true);
});

test('a queued session reaches only its visitor; active adds the agent, bot adds the bot', () => {
  assert.deepEqual(recipients(session('queued')), ['v1']);
  assert.deepEqual(recipients(withAgent), ['v1', 'a1']);
  assert.deepEqual(recipients(withBot), ['v1', 'b1']);
});

test('former agents and bots stop receiving once they no longer serve the session', () => {
  // the bot handed off: the session still names it, but it is no longer serving
  assert.deepEqual(recipients(session('queued', { botId: 'b1' })), ['v1']);
  assert.deepEqual(recipients(session('closed', { assigneeId: 'a1', botId: 'b1' })), ['v1']);
  assert.deepEqual(recipients(session('active', { assigneeId: 'a1', botId: 'b1' })), ['v1', 'a1']);
});

test('the visitor sees, writes to and closes only their own session, in any open state', () => {
  for (const state of OPEN_STATES) {
    const s = session(state, { assigneeId: 'a1', botId: 'b1' });
    assert.equal(canView(visitor, s), true);
    assert.equal(canSend(visitor, s), true, `send in ${state}`);
    assert.equal(canClose(visitor, s), true, `close in ${state}`);
    assert.equal(canView(otherVisitor, s), false);
    assert.equal(canSend(otherVisitor, s), false);
    assert.equal(canClose(otherVisitor, s), false);
  }
  assert.equal(canView(visitor, session('closed')), true, 'history stays readable');
  assert.equal(canSend(visitor, session('closed')), false);
  assert.equal(canClose(visitor, session('closed')), false);
});

test('visitors never transfer', () => {
  for (const state of STATES) assert.equal(canTransfer(visitor, session(state)), false);
});

test('every agent of the site sees every session, but only the assignee writes, closes or transfers', () => {
  for (const state of STATES) {
    assert.equal(canView(otherAgent, session(state, { assigneeId: 'a1' })), true, `view ${state}`);
  }
  assert.equal(canSend(agent, withAgent), true);
  assert.equal(canClose(agent, withAgent), true);
  assert.equal(canTransfer(agent, withAgent), true);
  assert.equal(canSend(otherAgent, withAgent), false);
  assert.equal(canClose(otherAgent, withAgent), false);
  assert.equal(canTransfer(otherAgent, withAgent), false);
});

test('an agent may not write into a queued, bot or closed session, even one that names them', () => {
  for (const state of ['queued', 'bot', 'closed'] as const) {
    const s = session(state, { assigneeId: 'a1' });
    assert.equal(canSend(agent, s), false, `send in ${state}`);
    assert.equal(canClose(agent, s), false, `close in ${state}`);
    assert.equal(canTransfer(agent, s), false, `transfer in ${state}`);
  }
});

test('a bot sees the sessions routed to it and acts only while it is serving', () => {
  assert.equal(canView(bot, withBot), true);
  assert.equal(canSend(bot, withBot), true);
  assert.equal(canClose(bot, withBot), true);
  assert.equal(canTransfer(bot, withBot), true);
  assert.equal(canView(otherBot, withBot), false);
  assert.equal(canSend(otherBot, withBot), false);
  assert.equal(canTransfer(otherBot, withBot), false);
  const handedOff = session('queued', { botId: 'b1' });
  assert.equal(canView(bot, handedOff), true);
  assert.equal(canSend(bot, handedOff), false);
  assert.equal(canClose(bot, handedOff), false);
  assert.equal(canTransfer(bot, handedOff), false);
  assert.equal(canView(bot, session('queued')), false, 'a session never routed to a bot');
});

test('nobody from another site sees or touches a session, whatever the ids say', () => {
  const all = [session('queued'), withAgent, withBot, session('closed', { assigneeId: 'a1', botId: 'b1' })];
  for (const actor of [visitor, agent, bot].map(elsewhere)) {
    for (const s of all) {
      assert.equal(canView(actor, s), false, `${actor.kind} view ${s.state}`);
      assert.equal(canSend(actor, s), false);
      assert.equal(canClose(actor, s), false);
      assert.equal(canTransfer(actor, s), false);
      assert.equal(isMember(actor, s), false);
    }
  }
});

test('members are the visitor, the assigned agent and the routed bot, not other agents', () => {
  const s = session('active', { assigneeId: 'a1', botId: 'b1' });
  assert.equal(isMember(visitor, s), true);
  assert.equal(isMember(agent, s), true);
  assert.equal(isMember(bot, s), true);
  assert.equal(isMember(otherVisitor, s), false);
  assert.equal(isMember(otherAgent, s), false);
  assert.equal(isMember(otherBot, s), false);
  assert.equal(isMember(agent, session('queued')), false, 'no assignee');
  assert.equal(isMember(bot, session('queued')), false, 'no bot');
  assert.equal(isMember(agent, session('closed', { assigneeId: 'a1' })), true, 'keeps a read cursor after close');
});

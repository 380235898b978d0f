import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, createAgent, createSite, createVisitor, type SiteFixture, visitorWithSession } from '../helpers/api.js';
import { assertErrorFrame, assertRestError } from '../helpers/errors.js';
import { authedPeer, type RawPeer } from '../helpers/raw-ws.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor } from '../helpers/wait-for.js';

type Agent = Awaited<ReturnType<typeof createAgent>>;

async function events(service: Service, token: string, sid: string): Promise<string[]> {
  const r = await api(service, token).get(`/sessions/${sid}/messages`);
  assert.equal(r.status, 200);
  return r.body.messages.filter((m: any) => m.type === 'system').map((m: any) => m.body.event);
}

async function sessionState(service: Service, token: string, sid: string) {
  const r = await api(service, token).get(`/sessions/${sid}`);
  assert.equal(r.status, 200);
  return r.body.session as { state: string; assigneeId?: string };
}

/** Agent load as the service keeps it: the capacity slots held, which capacity checks compare with maxSessions. */
async function agentLoad(service: Service, agentId: string): Promise<number> {
  return (await service.app.mongo.stores.accounts.heldSlots(agentId)).length;
}

describe('routing: accepting, capacity, transfer and automatic assignment', () => {
  let service: Service;
  const peers: RawPeer[] = [];

  async function peer(token: string) {
    const p = await authedPeer(service.wsUrl, token);
    peers.push(p);
    return p;
  }

  async function online(site: SiteFixture, agents: Agent[], expected: boolean) {
    await waitFor(
      async () => {
        const r = await api(service, site.adminKey).get('/agents');
        return agents.every((a) => r.body.agents.find((x: any) => x.id === a.id)?.online === expected);
      },
      5000,
      `agents ${expected ? 'online' : 'offline'}`,
    );
  }

  before(async () => {
    service = await startService();
  });

  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
  });

  describe('manual accept', () => {
    it('of two agents accepting the same session at once, exactly one wins and the other gets 409 conflict', async () => {
      const site = await createSite(service);
      const [a1, a2] = [await createAgent(service, site, { maxSessions: 20 }), await createAgent(service, site, { maxSessions: 20 })] as [Agent, Agent];
      const wins = new Map([
        [a1.id, 0],
        [a2.id, 0],
      ]);
      for (let round = 0; round < 10; round++) {
        const v = await visitorWithSession(service, site);
        const order = round % 2 === 0 ? [a1, a2] : [a2, a1];
        const answers = await Promise.all(order.map((a) => api(service, a.token).post(`/sessions/${v.sessionId}/accept`)));
        assert.deepEqual(answers.map((r) => r.status).sort(), [200, 409], `round ${round}: ${JSON.stringify(answers)}`);
        const winner = order[answers.findIndex((r) => r.status === 200)]!;
        const loser = answers.find((r) => r.status === 409)!;
        assertRestError(loser, 409, 'conflict');
        wins.set(winner.id, wins.get(winner.id)! + 1);

        const s = await sessionState(service, v.token, v.sessionId);
        assert.equal(s.state, 'active');
        assert.equal(s.assigneeId, winner.id);
        assert.deepEqual(await events(service, v.token, v.sessionId), ['started', 'accepted'], 'exactly one accepted message');
      }
      // the loser's capacity claim was given back every time
      assert.equal(await agentLoad(service, a1.id), wins.get(a1.id));
      assert.equal(await agentLoad(service, a2.id), wins.get(a2.id));
    });

    it('an agent accepting several sessions at once never goes over capacity', async () => {
      const site = await createSite(service);
      const agent = await createAgent(service, site, { maxSessions: 2 });
      for (let round = 0; round < 3; round++) {
        const visitors = await Promise.all(Array.from({ length: 5 }, () => visitorWithSession(service, site)));
        const answers = await Promise.all(visitors.map((v) => api(service, agent.token).post(`/sessions/${v.sessionId}/accept`)));
        assert.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 409, 409, 409], `round ${round}`);
        const mine = await api(service, agent.token).get('/sessions?state=active');
        assert.equal(mine.body.sessions.length, 2);
        assert.equal(await agentLoad(service, agent.id), 2);
        // the refused ones are still waiting for someone
        for (const [i, r] of answers.entries()) {
          const s = await sessionState(service, visitors[i]!.token, visitors[i]!.sessionId);
          assert.equal(s.state, r.status === 200 ? 'active' : 'queued');
        }
        for (const s of mine.body.sessions) assert.equal((await api(service, agent.token).post(`/sessions/${s.id}/close`, {})).status, 200);
        for (const v of visitors) await api(service, v.token).post(`/sessions/${v.sessionId}/close`, {});
        assert.equal(await agentLoad(service, agent.id), 0);
      }
    });

    it('an agent at capacity cannot accept more (409) until a session of theirs closes', async () => {
      const site = await createSite(service);
      const agent = await createAgent(service, site, { maxSessions: 1 });
      const [v1, v2, v3] = [await visitorWithSession(service, site), await visitorWithSession(service, site), await visitorWithSession(service, site)];

      assert.equal((await api(service, agent.token).post(`/sessions/${v1.sessionId}/accept`)).status, 200);
      assertRestError(await api(service, agent.token).post(`/sessions/${v2.sessionId}/accept`), 409, 'conflict');
      assert.equal((await sessionState(service, v2.token, v2.sessionId)).state, 'queued');

      // the agent closes: room again
      assert.equal((await api(service, agent.token).post(`/sessions/${v1.sessionId}/close`, {})).status, 200);
      assert.equal((await api(service, agent.token).post(`/sessions/${v2.sessionId}/accept`)).status, 200);
      assertRestError(await api(service, agent.token).post(`/sessions/${v3.sessionId}/accept`), 409, 'conflict');

      // the visitor closes: room again too
      assert.equal((await api(service, v2.token).post(`/sessions/${v2.sessionId}/close`, {})).status, 200);
      assert.equal((await api(service, agent.token).post(`/sessions/${v3.sessionId}/accept`)).status, 200);
      assert.equal(await agentLoad(service, agent.id), 1);
    });
  });

  describe('transfer', () => {
    it('to another agent: everyone sees it, the new agent chats, the old one can no longer send', async () => {
      const site = await createSite(service);
      const from = await createAgent(service, site, { name: 'Ann' });
      const to = await createAgent(service, site, { name: 'Bob' });
      const v = await visitorWithSession(service, site);
      const sid = v.sessionId;
      assert.equal((await api(service, from.token).post(`/sessions/${sid}/accept`)).status, 200);
      const [fromPeer, toPeer, vPeer] = [await peer(from.token), await peer(to.token), await peer(v.token)];

      const r = await api(service, from.token).post(`/sessions/${sid}/transfer`, { toAgentId: to.id });
      assert.equal(r.status, 200);
      assert.equal(r.body.session.state, 'active');
      assert.equal(r.body.session.assigneeId, to.id);

      for (const p of [fromPeer, toPeer, vPeer]) {
        const msg = await p.next((f) => f.t === 'msg' && f.sid === sid && f.body.event === 'transferred');
        assert.equal(msg.type, 'system');
        assert.equal(msg.body.fromId, from.id);
        assert.equal(msg.body.toId, to.id);
        assert.equal(msg.body.toName, 'Bob');
        const ev = await p.next((f) => f.t === 'event' && f.name === 'session' && f.sid === sid);
        assert.equal(ev.state, 'active');
        assert.equal(ev.assigneeId, to.id);
      }

      // the old agent is out
      assertRestError(await api(service, from.token).post(`/sessions/${sid}/messages`, { cid: 'old-1', text: 'still me' }), 403, 'forbidden');
      fromPeer.send({ t: 'send', sid, cid: 'old-2', body: { text: 'still me?' } });
      assertErrorFrame(await fromPeer.next((f) => f.t === 'error' && f.cid === 'old-2'), 'forbidden');
      assertRestError(await api(service, from.token).post(`/sessions/${sid}/close`, {}), 403, 'forbidden');

      // the new agent is in
      toPeer.send({ t: 'send', sid, cid: 'new-1', body: { text: 'Bob here' } });
      await toPeer.next((f) => f.t === 'sent' && f.cid === 'new-1');
      const reply = await vPeer.next((f) => f.t === 'msg' && f.cid === 'new-1');
      assert.equal(reply.from.id, to.id);
      assert.equal(await agentLoad(service, from.id), 0);
      assert.equal(await agentLoad(service, to.id), 1);
    });

    it('back to the queue: the session waits unassigned and another agent can accept it', async () => {
      const site = await createSite(service);
      const first = await createAgent(service, site);
      const second = await createAgent(service, site);
      const v = await visitorWithSession(service, site);
      const sid = v.sessionId;
      assert.equal((await api(service, first.token).post(`/sessions/${sid}/accept`)).status, 200);
      const [firstPeer, vPeer] = [await peer(first.token), await peer(v.token)];

      const r = await api(service, first.token).post(`/sessions/${sid}/transfer`, {});
      assert.equal(r.status, 200);
      assert.equal(r.body.session.state, 'queued');
      assert.equal(r.body.session.assigneeId, undefined);
      for (const p of [firstPeer, vPeer]) {
        await p.next((f) => f.t === 'msg' && f.sid === sid && f.body.event === 'transferred');
        const ev = await p.next((f) => f.t === 'event' && f.name === 'session' && f.sid === sid);
        assert.equal(ev.state, 'queued');
        assert.equal(ev.assigneeId, null);
      }
      assertRestError(await api(service, first.token).post(`/sessions/${sid}/messages`, { cid: 'gone', text: 'x' }), 403, 'forbidden');
      const queue = await api(service, second.token).get('/sessions?state=queued');
      assert.ok(queue.body.sessions.some((s: any) => s.id === sid));
      assert.equal(await agentLoad(service, first.id), 0);

      assert.equal((await api(service, second.token).post(`/sessions/${sid}/accept`)).status, 200);
      assert.deepEqual(await events(service, v.token, sid), ['started', 'accepted', 'transferred', 'accepted']);
    });

    it('to an agent at capacity is 409 and leaves the session where it was', async () => {
      const site = await createSite(service);
      const busy = await createAgent(service, site, { maxSessions: 1 });
      const agent = await createAgent(service, site);
      const [v1, v2] = [await visitorWithSession(service, site), await visitorWithSession(service, site)];
      assert.equal((await api(service, busy.token).post(`/sessions/${v1.sessionId}/accept`)).status, 200);
      assert.equal((await api(service, agent.token).post(`/sessions/${v2.sessionId}/accept`)).status, 200);
      assertRestError(await api(service, agent.token).post(`/sessions/${v2.sessionId}/transfer`, { toAgentId: busy.id }), 409, 'conflict');
      assertRestError(await api(service, agent.token).post(`/sessions/${v2.sessionId}/transfer`, { toAgentId: agent.id }), 400, 'bad_request');
      const s = await sessionState(service, v2.token, v2.sessionId);
      assert.equal(s.assigneeId, agent.id);
      assert.equal(await agentLoad(service, busy.id), 1);
      assert.equal(await agentLoad(service, agent.id), 1);
    });
  });

  describe('automatic assignment', () => {
    async function autoSite() {
      const site = await createSite(service);
      const r = await api(service, site.adminKey).put('/routing', { mode: 'human', assign: 'auto' });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.routing, { mode: 'human', assign: 'auto' });
      return site;
    }

    it('gives a new session to the least-loaded online agent with room, never to an offline one', async () => {
      const site = await createSite(service);
      const [busy, idle, offline] = [await createAgent(service, site), await createAgent(service, site), await createAgent(service, site)];
      const held = await visitorWithSession(service, site);
      assert.equal((await api(service, busy.token).post(`/sessions/${held.sessionId}/accept`)).status, 200);
      const [busyPeer, idlePeer] = [await peer(busy.token), await peer(idle.token)];
      await online(site, [busy, idle], true);
      assert.equal((await api(service, site.adminKey).put('/routing', { mode: 'human', assign: 'auto' })).status, 200);

      const first = await visitorWithSession(service, site);
      const s1 = await sessionState(service, first.token, first.sessionId);
      assert.equal(s1.state, 'active');
      assert.equal(s1.assigneeId, idle.id, 'the least-loaded agent gets it');
      const accepted = await idlePeer.next((f) => f.t === 'msg' && f.sid === first.sessionId && f.body.event === 'accepted');
      assert.equal(accepted.body.auto, true);
      assert.equal(accepted.body.agentId, idle.id);

      // two more: they go where there is least load, so both online agents end up with two
      const more = [await visitorWithSession(service, site), await visitorWithSession(service, site)];
      const assignees = await Promise.all(more.map(async (v) => (await sessionState(service, v.token, v.sessionId)).assigneeId));
      assert.ok(assignees.every((id) => id === busy.id || id === idle.id), `assigned to ${assignees}`);
      assert.equal(await agentLoad(service, busy.id), 2);
      assert.equal(await agentLoad(service, idle.id), 2);
      assert.equal(await agentLoad(service, offline.id), 0);
      for (const [i, v] of more.entries()) {
        const p = assignees[i] === busy.id ? busyPeer : idlePeer;
        await p.next((f) => f.t === 'msg' && f.sid === v.sessionId && f.body.event === 'accepted');
      }
    });

    it('with nobody online the session waits in the queue, and goes to the first agent who connects', async () => {
      const site = await autoSite();
      const agent = await createAgent(service, site);
      const v = await visitorWithSession(service, site);
      assert.equal((await sessionState(service, v.token, v.sessionId)).state, 'queued');

      const p = await peer(agent.token);
      const accepted = await p.next((f) => f.t === 'msg' && f.sid === v.sessionId && f.body.event === 'accepted');
      assert.equal(accepted.body.agentId, agent.id);
      const s = await sessionState(service, v.token, v.sessionId);
      assert.equal(s.state, 'active');
      assert.equal(s.assigneeId, agent.id);
    });

    it('an agent who goes offline gets no new sessions', async () => {
      const site = await autoSite();
      const agent = await createAgent(service, site);
      const p = await peer(agent.token);
      await online(site, [agent], true);
      p.close();
      await p.closed;
      await online(site, [agent], false);
      const v = await visitorWithSession(service, site);
      const s = await sessionState(service, v.token, v.sessionId);
      assert.equal(s.state, 'queued');
      assert.equal(s.assigneeId, undefined);
    });

    it('with everyone at capacity the session waits, and is assigned as soon as a session closes', async () => {
      const site = await autoSite();
      const agent = await createAgent(service, site, { maxSessions: 1 });
      const p = await peer(agent.token);
      await online(site, [agent], true);

      const v1 = await visitorWithSession(service, site);
      assert.equal((await sessionState(service, v1.token, v1.sessionId)).assigneeId, agent.id);
      const v2 = await visitorWithSession(service, site);
      assert.equal((await sessionState(service, v2.token, v2.sessionId)).state, 'queued');

      assert.equal((await api(service, agent.token).post(`/sessions/${v1.sessionId}/close`, {})).status, 200);
      await p.next((f) => f.t === 'msg' && f.sid === v2.sessionId && f.body.event === 'accepted');
      assert.equal((await sessionState(service, v2.token, v2.sessionId)).assigneeId, agent.id);

      // the visitor closing frees the slot as well
      const v3 = await visitorWithSession(service, site);
      assert.equal((await sessionState(service, v3.token, v3.sessionId)).state, 'queued');
      assert.equal((await api(service, v2.token).post(`/sessions/${v2.sessionId}/close`, {})).status, 200);
      await p.next((f) => f.t === 'msg' && f.sid === v3.sessionId && f.body.event === 'accepted');
      assert.equal(await agentLoad(service, agent.id), 1);
    });
  });
});

describe('inactivity close', () => {
  const INACTIVITY_MS = 1000;
  let service: Service;
  let site: SiteFixture;
  const peers: RawPeer[] = [];

  before(async () => {
    service = await startService({ inactivityCloseMs: INACTIVITY_MS });
    site = await createSite(service);
  });

  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
  });

  it('an idle session is closed by the system with reason inactivity', async () => {
    const agent = await createAgent(service, site);
    const visitor = await createVisitor(service, site);
    // connected before the session starts, so that no push can be missed however fast the timer is
    const vPeer = await authedPeer(service.wsUrl, visitor.token);
    const aPeer = await authedPeer(service.wsUrl, agent.token);
    peers.push(vPeer, aPeer);
    const started = await api(service, visitor.token).post('/sessions', {});
    const v = { ...visitor, sessionId: started.body.session.id as string };
    assert.equal((await api(service, agent.token).post(`/sessions/${v.sessionId}/accept`)).status, 200);

    for (const p of [vPeer, aPeer]) {
      const closed = await p.next((f) => f.t === 'msg' && f.sid === v.sessionId && f.body.event === 'closed', 15_000);
      assert.equal(closed.type, 'system');
      assert.equal(closed.body.by, 'system');
      assert.equal(closed.body.reason, 'inactivity');
      const ev = await p.next((f) => f.t === 'event' && f.name === 'session' && f.sid === v.sessionId && f.state === 'closed');
      assert.equal(ev.sid, v.sessionId);
    }
    assert.equal((await sessionState(service, v.token, v.sessionId)).state, 'closed');
    // the agent's slot came back
    assert.equal(await agentLoad(service, agent.id), 0);
  });

  it('a session with activity is not closed while it is active, and closes a full period after the last message', async () => {
    const visitor = await createVisitor(service, site);
    const vPeer = await authedPeer(service.wsUrl, visitor.token);
    peers.push(vPeer);
    const v = { ...visitor, sessionId: (await api(service, visitor.token).post('/sessions', {})).body.session.id as string };

    // keep talking for well over two inactivity periods; every message must land in an open session
    const started = Date.now();
    let n = 0;
    while (Date.now() - started < 2.5 * INACTIVITY_MS) {
      n += 1;
      const r = await api(service, v.token).post(`/sessions/${v.sessionId}/messages`, { cid: `keepalive-${n}`, text: `still here ${n}` });
      assert.equal(r.status, 201, `message ${n} after ${Date.now() - started} ms: ${JSON.stringify(r.body)}`);
      await new Promise((resolve) => setTimeout(resolve, INACTIVITY_MS / 10));
    }
    assert.ok(!vPeer.frames.some((f) => f.t === 'msg' && f.body.event === 'closed'), 'closed while active');

    const closed = await vPeer.next((f) => f.t === 'msg' && f.sid === v.sessionId && f.body.event === 'closed', 15_000);
    assert.equal(closed.body.reason, 'inactivity');
    const history = await api(service, v.token).get(`/sessions/${v.sessionId}/messages?limit=200`);
    const last = history.body.messages.filter((m: any) => m.type === 'chat').at(-1);
    assert.equal(last.cid, `keepalive-${n}`);
    assert.ok(closed.ts - Date.parse(last.createdAt) >= INACTIVITY_MS, `closed ${closed.ts - Date.parse(last.createdAt)} ms after the last message`);
  });
});

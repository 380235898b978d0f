import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { activeSession, api, createAgent, createSite, createVisitor, type SiteFixture, visitorWithSession } from '../helpers/api.js';
import { assertRestError } from '../helpers/errors.js';
import { authedPeer, type RawPeer } from '../helpers/raw-ws.js';
import { type Service, startService } from '../helpers/service.js';

describe('unread counts and read cursors', () => {
  let service: Service;
  let site: SiteFixture;
  const peers: RawPeer[] = [];

  async function peer(token: string) {
    const p = await authedPeer(service.wsUrl, token);
    peers.push(p);
    return p;
  }

  async function unread(token: string): Promise<{ total: number; sessions: Record<string, number> }> {
    const r = await api(service, token).get('/unread');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  }

  /** The definition in shared/DESIGN.md: messages from others above the reader's cursor. */
  async function fromOthersAfter(token: string, accountId: string, sid: string, readSeq: number): Promise<number> {
    const r = await api(service, token).get(`/sessions/${sid}/messages?limit=200`);
    return r.body.messages.filter((m: any) => m.seq > readSeq && m.from.id !== accountId).length;
  }

  async function say(token: string, sid: string, cid: string) {
    const r = await api(service, token).post(`/sessions/${sid}/messages`, { cid, text: `message ${cid}` });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.message.seq as number;
  }

  async function read(token: string, sid: string, seq: number): Promise<number> {
    const r = await api(service, token).post(`/sessions/${sid}/read`, { seq });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.readSeq;
  }

  const pair = () => activeSession(service, site);

  before(async () => {
    service = await startService();
    site = await createSite(service);
  });

  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
  });

  it('GET /unread and the ready frame count, per open session and in total, what the reader has not read', async () => {
    const agent = await createAgent(service, site);
    const [v1, v2, waiting] = [await visitorWithSession(service, site), await visitorWithSession(service, site), await visitorWithSession(service, site)];
    for (const v of [v1, v2]) assert.equal((await api(service, agent.token).post(`/sessions/${v.sessionId}/accept`)).status, 200);
    // each session so far: 1 started, 2 accepted (system messages count: they come from someone else)
    await say(v1.token, v1.sessionId, 'v1-a');
    await say(v1.token, v1.sessionId, 'v1-b');
    await say(v2.token, v2.sessionId, 'v2-a');

    assert.deepEqual(await unread(agent.token), { total: 7, sessions: { [v1.sessionId]: 4, [v2.sessionId]: 3 } });
    assert.equal(await fromOthersAfter(agent.token, agent.id, v1.sessionId, 0), 4);
    assert.ok(!(waiting.sessionId in (await unread(agent.token)).sessions), 'a queued session counts for the agent');
    // the visitors wrote last, so they have read everything
    assert.deepEqual(await unread(v1.token), { total: 0, sessions: { [v1.sessionId]: 0 } });
    assert.deepEqual(await unread(waiting.token), { total: 1, sessions: { [waiting.sessionId]: 1 } });

    const ready = (await peer(agent.token)).ready;
    const byId = Object.fromEntries(ready.sessions.map((s: any) => [s.id, s]));
    assert.deepEqual(Object.keys(byId).sort(), [v1.sessionId, v2.sessionId].sort());
    assert.deepEqual(byId[v1.sessionId], { id: v1.sessionId, state: 'active', lastSeq: 4, readSeq: 0 });
    assert.deepEqual(byId[v2.sessionId], { id: v2.sessionId, state: 'active', lastSeq: 3, readSeq: 0 });

    // reading part of one session lowers it and the total
    assert.equal(await read(agent.token, v1.sessionId, 3), 3);
    assert.deepEqual(await unread(agent.token), { total: 4, sessions: { [v1.sessionId]: 1, [v2.sessionId]: 3 } });
    assert.equal(await fromOthersAfter(agent.token, agent.id, v1.sessionId, 3), 1);

    // replying marks what it replies to as read; the visitor now has one unread
    await say(agent.token, v2.sessionId, 'a-reply');
    assert.deepEqual(await unread(agent.token), { total: 1, sessions: { [v1.sessionId]: 1, [v2.sessionId]: 0 } });
    assert.deepEqual(await unread(v2.token), { total: 1, sessions: { [v2.sessionId]: 1 } });
    const v2Ready = (await peer(v2.token)).ready;
    assert.deepEqual(v2Ready.sessions, [{ id: v2.sessionId, state: 'active', lastSeq: 4, readSeq: 3 }]);

    // a closed session no longer counts
    assert.equal((await api(service, agent.token).post(`/sessions/${v2.sessionId}/close`, {})).status, 200);
    assert.deepEqual(await unread(agent.token), { total: 1, sessions: { [v1.sessionId]: 1 } });
    assert.deepEqual(await unread(v2.token), { total: 0, sessions: {} });
  });

  it("a read on one device reaches the account's other devices and the other member, and lowers unread for all of them", async () => {
    const agent = await createAgent(service, site);
    const userId = `reader-${Date.now()}`;
    const hash = createHmac('sha256', site.identitySecret).update(userId).digest('hex');
    const phone = await createVisitor(service, site, { userId, hash });
    const laptop = await createVisitor(service, site, { userId, hash });
    assert.equal(phone.id, laptop.id);
    const sid = (await api(service, phone.token).post('/sessions', {})).body.session.id as string;
    assert.equal((await api(service, agent.token).post(`/sessions/${sid}/accept`)).status, 200);

    const [desk, tablet, vPhone, vLaptop] = [await peer(agent.token), await peer(agent.token), await peer(phone.token), await peer(laptop.token)];

    // the agent reads on one device over WebSocket
    vPhone.send({ t: 'send', sid, cid: 'q1', body: { text: 'is anyone there?' } });
    const { seq: q1 } = await vPhone.next((f) => f.t === 'sent' && f.cid === 'q1');
    await tablet.next((f) => f.t === 'msg' && f.seq === q1);
    assert.ok((await unread(agent.token)).sessions[sid]! > 0);

    desk.send({ t: 'read', sid, seq: q1 });
    for (const p of [tablet, desk, vPhone, vLaptop]) {
      const ev = await p.next((f) => f.t === 'event' && f.name === 'read' && f.accountId === agent.id);
      assert.equal(ev.sid, sid);
      assert.equal(ev.seq, q1);
      assert.equal(ev.kind, 'agent');
    }
    assert.equal((await unread(agent.token)).sessions[sid], 0);
    assert.equal((await peer(agent.token)).ready.sessions.find((s: any) => s.id === sid).readSeq, q1);

    // the visitor reads on one device over REST
    desk.send({ t: 'send', sid, cid: 'a1', body: { text: 'yes, hello' } });
    const { seq: a1 } = await desk.next((f) => f.t === 'sent' && f.cid === 'a1');
    await vLaptop.next((f) => f.t === 'msg' && f.seq === a1);
    assert.deepEqual(await unread(phone.token), { total: 1, sessions: { [sid]: 1 } });

    assert.equal(await read(laptop.token, sid, a1), a1);
    for (const p of [vPhone, vLaptop, desk, tablet]) {
      const ev = await p.next((f) => f.t === 'event' && f.name === 'read' && f.accountId === phone.id);
      assert.equal(ev.seq, a1);
      assert.equal(ev.kind, 'visitor');
    }
    assert.deepEqual(await unread(phone.token), { total: 0, sessions: { [sid]: 0 } });
    assert.deepEqual(await unread(laptop.token), { total: 0, sessions: { [sid]: 0 } });
  });

  it('the read cursor never moves backwards nor past the last message', async () => {
    const { agent, visitor, sid } = await pair();
    for (let i = 1; i <= 4; i++) await say(visitor.token, sid, `v${i}`);
    const last = 6; // started, accepted, four messages

    assert.equal(await read(agent.token, sid, 4), 4);
    assert.equal(await read(agent.token, sid, 2), 4, 'moved backwards');
    assert.equal(await read(agent.token, sid, 0), 4, 'moved backwards');
    assert.equal(await read(agent.token, sid, last + 100), last, 'moved past the last message');
    assert.equal((await unread(agent.token)).sessions[sid], 0);

    // the cursor stopped at the last message, so the next one counts
    await say(visitor.token, sid, 'v5');
    assert.equal((await unread(agent.token)).sessions[sid], 1);

    // over WebSocket too: a stale read is answered with the cursor as it is
    const p = await peer(agent.token);
    p.send({ t: 'read', sid, seq: 1 });
    const ev = await p.next((f) => f.t === 'event' && f.name === 'read');
    assert.equal(ev.seq, last);
    assert.equal((await unread(agent.token)).sessions[sid], 1);

    // a negative seq is refused, not clamped
    assertRestError(await api(service, agent.token).post(`/sessions/${sid}/read`, { seq: -1 }), 400, 'bad_request');
  });

  it('reads arriving at once in any order leave the cursor at the highest of them', async () => {
    for (let round = 0; round < 3; round++) {
      const { agent, visitor, sid } = await pair();
      for (let i = 1; i <= 20; i++) await say(visitor.token, sid, `burst-${i}`);
      const last = 22;
      const seqs = Array.from({ length: last }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
      const answers = await Promise.all(seqs.map((seq) => read(agent.token, sid, seq)));
      for (const [i, readSeq] of answers.entries()) assert.ok(readSeq >= seqs[i]!, `read ${seqs[i]} answered ${readSeq}`);
      assert.equal((await unread(agent.token)).sessions[sid], 0, `round ${round}`);
      const ready = (await peer(agent.token)).ready;
      assert.equal(ready.sessions.find((s: any) => s.id === sid).readSeq, last);
    }
  });

  it("sending moves the sender's own cursor: their own messages never count as unread", async () => {
    const { agent, visitor, sid } = await pair();
    await read(visitor.token, sid, 2);
    await read(agent.token, sid, 2);

    for (let i = 1; i <= 3; i++) {
      await say(visitor.token, sid, `own-v${i}`);
      assert.equal((await unread(visitor.token)).sessions[sid], 0);
      assert.equal((await unread(agent.token)).sessions[sid], i);
    }
    // a resend of the same cid is the same message: nothing changes
    await say(visitor.token, sid, 'own-v3');
    assert.equal((await unread(agent.token)).sessions[sid], 3);

    const p = await peer(agent.token);
    for (let i = 1; i <= 2; i++) {
      p.send({ t: 'send', sid, cid: `own-a${i}`, body: { text: 'on it' } });
      await p.next((f) => f.t === 'sent' && f.cid === `own-a${i}`);
      assert.equal((await unread(agent.token)).sessions[sid], 0);
      assert.equal((await unread(visitor.token)).sessions[sid], i);
    }
    assert.equal(await fromOthersAfter(visitor.token, visitor.id, sid, (await peer(visitor.token)).ready.sessions[0].readSeq), 2);
  });
});

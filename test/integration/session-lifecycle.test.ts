import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, createAgent, createSite, type SiteFixture, visitorWithSession } from '../helpers/api.js';
import { authedPeer } from '../helpers/raw-ws.js';
import { type Service, startService } from '../helpers/service.js';

describe('session lifecycle over REST and WebSocket', () => {
  let service: Service;
  let site: SiteFixture;

  before(async () => {
    service = await startService();
    site = await createSite(service);
  });
  after(() => service.close());

  it('a visitor starts, an agent accepts, they chat, the agent closes, and both see every step in seq order', async () => {
    const agent = await createAgent(service, site);
    const visitor = await visitorWithSession(service, site);
    const sid = visitor.sessionId;
    const vPeer = await authedPeer(service.wsUrl, visitor.token);
    const aPeer = await authedPeer(service.wsUrl, agent.token);
    assert.deepEqual(vPeer.ready.sessions.map((s: any) => s.id), [sid]);

    // the queue shows the session to agents
    const queue = await api(service, agent.token).get('/sessions?state=queued');
    assert.deepEqual(queue.body.sessions.map((s: any) => s.id), [sid]);

    vPeer.send({ t: 'send', sid, cid: 'v1', body: { text: 'hello, anyone?' } });
    const sent = await vPeer.next((f) => f.t === 'sent');
    assert.equal(sent.cid, 'v1');
    assert.equal(sent.seq, 2);

    const accepted = await api(service, agent.token).post(`/sessions/${sid}/accept`);
    assert.equal(accepted.status, 200);
    assert.equal(accepted.body.session.state, 'active');

    const accMsg = await aPeer.next((f) => f.t === 'msg' && f.body.event === 'accepted');
    assert.equal(accMsg.seq, 3);
    aPeer.send({ t: 'sync', sid, after: 0 });
    const batch = await aPeer.next((f) => f.t === 'batch');
    assert.deepEqual(batch.messages.map((m: any) => m.seq), [1, 2, 3]);
    assert.equal(batch.messages[1].body.text, 'hello, anyone?');

    aPeer.send({ t: 'send', sid, cid: 'a1', body: { text: 'Hi! How can I help?' } });
    const reply = await vPeer.next((f) => f.t === 'msg' && f.cid === 'a1');
    assert.equal(reply.seq, 4);
    assert.equal(reply.from.kind, 'agent');

    const closed = await api(service, agent.token).post(`/sessions/${sid}/close`, { reason: 'solved' });
    assert.equal(closed.body.session.state, 'closed');
    const closeMsg = await vPeer.next((f) => f.t === 'msg' && f.body.event === 'closed');
    assert.equal(closeMsg.seq, 5);
    const event = await vPeer.next((f) => f.t === 'event' && f.name === 'session' && f.state === 'closed');
    assert.equal(event.sid, sid);

    vPeer.send({ t: 'send', sid, cid: 'v2', body: { text: 'one more thing' } });
    const refused = await vPeer.next((f) => f.t === 'error');
    assert.equal(refused.code, 'conflict');
    assert.equal(refused.cid, 'v2');

    const again = await api(service, visitor.token).post('/sessions', {});
    assert.equal(again.status, 201);
    assert.notEqual(again.body.session.id, sid);
    vPeer.close();
    aPeer.close();
  });
});

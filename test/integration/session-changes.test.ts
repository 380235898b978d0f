/**
 * The send path keeps sessions in memory (src/domain/session-cache.ts): a
 * transition made on another instance must still be seen by the very next
 * message, not after some expiry.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { activeSession, api, createAgent, createSite } from '../helpers/api.js';
import { type Service, startService } from '../helpers/service.js';

describe('session changes made on another instance', () => {
  let a: Service;
  let b: Service;

  before(async () => {
    a = await startService();
    b = await startService({ mongodbDb: a.config.mongodbDb, redisPrefix: a.config.redisPrefix, tokenSecret: a.config.tokenSecret }, { shared: true });
  });

  after(async () => {
    await b.close();
    await a.close();
  });

  const send = (service: Service, token: string, sid: string, cid: string) => api(service, token).post(`/sessions/${sid}/messages`, { cid, text: cid });

  it('a session closed on one instance refuses the next message sent through the other', async () => {
    const site = await createSite(a);
    const { agent, visitor, sid } = await activeSession(a, site);
    // A has the session in memory now
    assert.equal((await send(a, visitor.token, sid, 'before-1')).status, 201);
    assert.equal((await send(a, agent.token, sid, 'before-2')).status, 201);

    assert.equal((await api(b, agent.token).post(`/sessions/${sid}/close`, {})).status, 200);

    const refused = await send(a, visitor.token, sid, 'after-close');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'conflict');
    // a resend of a message stored before the close still gets its original answer
    const resent = await send(a, visitor.token, sid, 'before-1');
    assert.equal(resent.status, 201);
    assert.equal(resent.body.message.seq, 3);
  });

  it('after a transfer on one instance, the former agent cannot send through the other and the new one can', async () => {
    const site = await createSite(a);
    const { agent, visitor, sid } = await activeSession(a, site);
    const next = await createAgent(a, site);
    assert.equal((await send(a, agent.token, sid, 'mine')).status, 201);

    assert.equal((await api(b, agent.token).post(`/sessions/${sid}/transfer`, { toAgentId: next.id })).status, 200);

    const former = await send(a, agent.token, sid, 'not-mine-anymore');
    assert.equal(former.status, 403);
    assert.equal((await send(a, next.token, sid, 'now-mine')).status, 201);
    assert.equal((await send(a, visitor.token, sid, 'hello')).status, 201);
    const history = await api(b, next.token).get(`/sessions/${sid}/messages`);
    assert.deepEqual(
      history.body.messages.filter((m: { type: string }) => m.type === 'chat').map((m: { cid: string }) => m.cid),
      ['mine', 'now-mine', 'hello'],
    );
  });
});

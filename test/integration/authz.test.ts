import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { api, createAgent, createSite, createVisitor, type SiteFixture, visitorWithSession } from '../helpers/api.js';
import { assertErrorFrame, assertRestError } from '../helpers/errors.js';
import { authedPeer, type RawPeer, rawPeer } from '../helpers/raw-ws.js';
import { ADMIN_TOKEN, type Service, startService } from '../helpers/service.js';

type Agent = Awaited<ReturnType<typeof createAgent>>;
type VisitorWithSession = Awaited<ReturnType<typeof visitorWithSession>>;

/** An HS256 JWT over `claims`, signed with `secret` (or unsigned with alg none). */
function jwt(claims: object, secret: string | null): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const head = b64({ alg: secret === null ? 'none' : 'HS256', typ: 'JWT' });
  const body = b64(claims);
  const sig = secret === null ? '' : createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

const identityHash = (userId: string, secret: string) => createHmac('sha256', secret).update(userId).digest('hex');

describe('authorisation: every rule holds against the wrong caller', () => {
  let service: Service;
  let siteA: SiteFixture;
  let siteB: SiteFixture;
  let agentA: Agent;
  let otherAgentA: Agent;
  let agentB: Agent;
  let visitorX: VisitorWithSession;
  let visitorY: VisitorWithSession;
  let visitorB: VisitorWithSession;
  let botA: { id: string; token: string };
  const peers: RawPeer[] = [];

  async function peer(token: string) {
    const p = await authedPeer(service.wsUrl, token);
    peers.push(p);
    return p;
  }

  /** The session as its own visitor sees it: proof that a refused call changed nothing. */
  async function sessionOf(v: VisitorWithSession) {
    const r = await api(service, v.token).get(`/sessions/${v.sessionId}`);
    assert.equal(r.status, 200);
    const h = await api(service, v.token).get(`/sessions/${v.sessionId}/messages`);
    return { ...r.body.session, messages: h.body.messages.map((m: any) => m.seq) };
  }

  before(async () => {
    service = await startService({ authTimeoutMs: 300 });
    siteA = await createSite(service, 'Site A');
    siteB = await createSite(service, 'Site B');
    agentA = await createAgent(service, siteA);
    otherAgentA = await createAgent(service, siteA);
    agentB = await createAgent(service, siteB);
    visitorX = await visitorWithSession(service, siteA);
    visitorY = await visitorWithSession(service, siteA);
    visitorB = await visitorWithSession(service, siteB);
    const bot = await api(service, siteA.adminKey).post('/bots', { name: 'Helper', webhookUrl: 'http://127.0.0.1:9/hook' });
    assert.equal(bot.status, 201);
    botA = { id: bot.body.bot.id, token: bot.body.token };
  });

  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
  });

  describe('credentials', () => {
    it('a request without a token, with a malformed header or with a made-up token is 401 unauthorized', async () => {
      assertRestError(await api(service).get('/sessions'), 401, 'unauthorized');
      assertRestError(await api(service).call('GET', '/sessions', undefined, { authorization: 'Basic dXNlcjpwYXNz' }), 401, 'unauthorized');
      assertRestError(await api(service).call('GET', '/sessions', undefined, { authorization: 'Bearer' }), 401, 'unauthorized');
      for (const token of ['nonsense', 'sa_madeUpSiteAdminKey', 'bt_madeUpBotToken', 'a.b.c', `${ADMIN_TOKEN}x`]) {
        assertRestError(await api(service, token).get('/sessions'), 401, 'unauthorized');
      }
      // also on routes for site admins and the operator
      assertRestError(await api(service, 'sa_madeUpSiteAdminKey').post('/agents', { email: 'x@example.com', name: 'X', password: 'long enough' }), 401, 'unauthorized');
      assertRestError(await api(service).post('/sites', { name: 'nope' }), 401, 'unauthorized');
    });

    it('an expired, forged, unsigned or orphaned token is 401 unauthorized', async () => {
      const secret = service.config.tokenSecret;
      const now = Math.floor(Date.now() / 1000);
      const claims = { sub: agentA.id, site: siteA.siteId, kind: 'agent' };
      const forged = {
        expired: jwt({ ...claims, iat: now - 7200, exp: now - 3600 }, secret),
        otherSecret: jwt({ ...claims, iat: now, exp: now + 3600 }, 'some-other-secret-0123456789-0123456789'),
        unsigned: jwt({ ...claims, iat: now, exp: now + 3600 }, null),
        wrongKind: jwt({ ...claims, kind: 'visitor', iat: now, exp: now + 3600 }, secret),
        wrongSite: jwt({ ...claims, site: siteB.siteId, iat: now, exp: now + 3600 }, secret),
        unknownAccount: jwt({ ...claims, sub: '0123456789abcdef01234567', iat: now, exp: now + 3600 }, secret),
      };
      for (const [what, token] of Object.entries(forged)) {
        const r = await api(service, token).get('/sessions');
        assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
        assertRestError(r, 401, 'unauthorized');
      }
      // the same claims, correctly signed and current, are accepted: the refusals above are about the token
      const good = await api(service, jwt({ ...claims, iat: now, exp: now + 3600 }, secret)).get('/sessions');
      assert.equal(good.status, 200);
    });

    it('only the operator creates sites: a site admin key, an agent or a visitor is 403 forbidden', async () => {
      for (const token of [siteA.adminKey, agentA.token, visitorX.token, botA.token]) {
        assertRestError(await api(service, token).post('/sites', { name: 'Sneaky' }), 403, 'forbidden');
      }
      assert.equal((await api(service, ADMIN_TOKEN).post('/sites', { name: 'Legit' })).status, 201);
    });

    it('only a site admin creates agents and bots and sets routing', async () => {
      const agent = { email: 'intruder@example.com', name: 'Intruder', password: 'long enough' };
      for (const token of [ADMIN_TOKEN, agentA.token, visitorX.token, botA.token]) {
        assertRestError(await api(service, token).post('/agents', agent), 403, 'forbidden');
        assertRestError(await api(service, token).post('/bots', { name: 'B', webhookUrl: 'http://127.0.0.1:9/x' }), 403, 'forbidden');
        assertRestError(await api(service, token).put('/routing', { mode: 'human', assign: 'auto' }), 403, 'forbidden');
      }
      // nobody managed to create the agent
      assertRestError(await api(service).post('/auth/login', { email: agent.email, password: agent.password }), 401, 'unauthorized');
    });

    it('a site admin key is not an actor: it cannot list, start or read sessions', async () => {
      assertRestError(await api(service, siteA.adminKey).get('/sessions'), 403, 'forbidden');
      assertRestError(await api(service, siteA.adminKey).post('/sessions', {}), 403, 'forbidden');
      assertRestError(await api(service, siteA.adminKey).get(`/sessions/${visitorX.sessionId}`), 403, 'forbidden');
      assertRestError(await api(service, ADMIN_TOKEN).get(`/sessions/${visitorX.sessionId}/messages`), 403, 'forbidden');
    });
  });

  describe('tenants', () => {
    it("a site admin's agents belong to their site only: they cannot log in to, see or touch another site", async () => {
      const email = `crossing-${Date.now()}@example.com`;
      const created = await api(service, siteA.adminKey).post('/agents', { email, name: 'Crossing', password: 'long enough' });
      assert.equal(created.status, 201);
      assert.equal(created.body.agent.siteId, siteA.siteId);

      assertRestError(await api(service).post('/auth/login', { email, password: 'long enough', siteId: siteB.siteId }), 401, 'unauthorized');
      const login = await api(service).post('/auth/login', { email, password: 'long enough', siteId: siteA.siteId });
      assert.equal(login.status, 200);
      const token = login.body.token as string;

      const queue = await api(service, token).get('/sessions?state=queued');
      assert.equal(queue.status, 200);
      assert.ok(!queue.body.sessions.some((s: any) => s.siteId !== siteA.siteId), 'the queue shows another site');
      assert.ok(!queue.body.sessions.some((s: any) => s.id === visitorB.sessionId));
      assertRestError(await api(service, token).post(`/sessions/${visitorB.sessionId}/accept`), 404, 'not_found');
    });

    it("a site admin sees only their own site's agents and cannot route to another site's bot", async () => {
      const listA = await api(service, siteA.adminKey).get('/agents');
      assert.equal(listA.status, 200);
      const ids = listA.body.agents.map((a: any) => a.id);
      assert.ok(ids.includes(agentA.id));
      assert.ok(!ids.includes(agentB.id), "site A's admin sees site B's agent");
      assert.ok(listA.body.agents.every((a: any) => a.siteId === siteA.siteId));

      const botB = await api(service, siteB.adminKey).post('/bots', { name: 'B bot', webhookUrl: 'http://127.0.0.1:9/b' });
      assert.equal(botB.status, 201);
      assertRestError(await api(service, siteA.adminKey).put('/routing', { mode: 'bot-first', botId: botB.body.bot.id, assign: 'manual' }), 404, 'not_found');
      // an agent of A lists its colleagues, not B's agents
      const seenByAgent = await api(service, agentA.token).get('/agents');
      assert.ok(!seenByAgent.body.agents.some((a: any) => a.id === agentB.id));
    });

    it("an agent of site A gets 404 for everything about a site-B session, and the session is untouched", async () => {
      const before = await sessionOf(visitorB);
      const a = api(service, agentA.token);
      const sid = visitorB.sessionId;

      for (const state of ['', '?state=queued', '?state=active', '?state=closed']) {
        const list = await a.get(`/sessions${state}`);
        assert.equal(list.status, 200);
        assert.ok(!list.body.sessions.some((s: any) => s.id === sid), `listed with ${state || 'no filter'}`);
      }
      assertRestError(await a.get(`/sessions/${sid}`), 404, 'not_found');
      assertRestError(await a.get(`/sessions/${sid}/messages`), 404, 'not_found');
      assertRestError(await a.post(`/sessions/${sid}/accept`), 404, 'not_found');
      assertRestError(await a.post(`/sessions/${sid}/transfer`, {}), 404, 'not_found');
      assertRestError(await a.post(`/sessions/${sid}/transfer`, { toAgentId: agentA.id }), 404, 'not_found');
      assertRestError(await a.post(`/sessions/${sid}/close`, {}), 404, 'not_found');
      assertRestError(await a.post(`/sessions/${sid}/messages`, { cid: 'x1', text: 'hello from A' }), 404, 'not_found');
      assertRestError(await a.post(`/sessions/${sid}/read`, { seq: 1 }), 404, 'not_found');

      assert.deepEqual(await sessionOf(visitorB), before);
      // and B's own agent still can take it
      assert.equal((await api(service, agentB.token).get(`/sessions/${sid}`)).status, 200);
    });

    it("an agent cannot transfer a session to another site's agent", async () => {
      const v = await visitorWithSession(service, siteA);
      assert.equal((await api(service, agentA.token).post(`/sessions/${v.sessionId}/accept`)).status, 200);
      assertRestError(await api(service, agentA.token).post(`/sessions/${v.sessionId}/transfer`, { toAgentId: agentB.id }), 404, 'not_found');
      const after = await api(service, agentA.token).get(`/sessions/${v.sessionId}`);
      assert.equal(after.body.session.assigneeId, agentA.id);
      assert.equal(after.body.session.state, 'active');
      assert.equal((await api(service, agentA.token).post(`/sessions/${v.sessionId}/close`, {})).status, 200);
    });

    it('a bot of site A cannot see or touch a site-B session, nor a site-A session it does not serve', async () => {
      const b = api(service, botA.token);
      for (const target of [visitorB, visitorX]) {
        const before = await sessionOf(target);
        const sid = target.sessionId;
        assertRestError(await b.get(`/sessions/${sid}`), 404, 'not_found');
        assertRestError(await b.get(`/sessions/${sid}/messages`), 404, 'not_found');
        assertRestError(await b.post(`/sessions/${sid}/messages`, { cid: 'b1', text: 'beep' }), 404, 'not_found');
        assertRestError(await b.post(`/sessions/${sid}/transfer`, {}), 404, 'not_found');
        assertRestError(await b.post(`/sessions/${sid}/close`, {}), 404, 'not_found');
        assertRestError(await b.post(`/sessions/${sid}/read`, { seq: 1 }), 404, 'not_found');
        assert.deepEqual(await sessionOf(target), before);
      }
      const list = await b.get('/sessions');
      assert.equal(list.status, 200);
      assert.deepEqual(list.body.sessions, []);
      // bots neither accept nor have an unread count
      assertRestError(await b.post(`/sessions/${visitorX.sessionId}/accept`), 403, 'forbidden');
      assertRestError(await b.get('/unread'), 403, 'forbidden');
    });
  });

  describe('visitors', () => {
    it("visitor X gets 404 for everything about visitor Y's session, and Y's session is untouched", async () => {
      const before = await sessionOf(visitorY);
      const x = api(service, visitorX.token);
      const sid = visitorY.sessionId;
      assertRestError(await x.get(`/sessions/${sid}`), 404, 'not_found');
      assertRestError(await x.get(`/sessions/${sid}/messages`), 404, 'not_found');
      assertRestError(await x.post(`/sessions/${sid}/messages`, { cid: 'x1', text: 'let me in' }), 404, 'not_found');
      assertRestError(await x.post(`/sessions/${sid}/close`, {}), 404, 'not_found');
      assertRestError(await x.post(`/sessions/${sid}/read`, { seq: 1 }), 404, 'not_found');
      const list = await x.get('/sessions');
      assert.deepEqual(list.body.sessions.map((s: any) => s.id), [visitorX.sessionId]);
      assert.deepEqual(await sessionOf(visitorY), before);
    });

    it('a visitor cannot accept or transfer, even their own session, nor act as staff', async () => {
      const x = api(service, visitorX.token);
      assertRestError(await x.post(`/sessions/${visitorX.sessionId}/accept`), 403, 'forbidden');
      assertRestError(await x.post(`/sessions/${visitorX.sessionId}/transfer`, {}), 403, 'forbidden');
      assertRestError(await x.post(`/sessions/${visitorX.sessionId}/transfer`, { toAgentId: agentA.id }), 403, 'forbidden');
      assertRestError(await x.get('/agents'), 403, 'forbidden');
      const s = await x.get(`/sessions/${visitorX.sessionId}`);
      assert.equal(s.body.session.state, 'queued');
      assert.equal(s.body.session.assigneeId, undefined);
    });

    it('staff cannot start a visitor session', async () => {
      assertRestError(await api(service, agentA.token).post('/sessions', {}), 403, 'forbidden');
      assertRestError(await api(service, botA.token).post('/sessions', {}), 403, 'forbidden');
    });
  });

  describe('agents of the same site', () => {
    it('an agent who is not the assignee cannot send, close or transfer an active session (403), but may read it', async () => {
      const v = await visitorWithSession(service, siteA);
      const sid = v.sessionId;
      assert.equal((await api(service, agentA.token).post(`/sessions/${sid}/accept`)).status, 200);
      const before = await sessionOf(v);
      const other = api(service, otherAgentA.token);

      assertRestError(await other.post(`/sessions/${sid}/messages`, { cid: 'o1', text: 'let me answer' }), 403, 'forbidden');
      assertRestError(await other.post(`/sessions/${sid}/close`, {}), 403, 'forbidden');
      assertRestError(await other.post(`/sessions/${sid}/transfer`, {}), 403, 'forbidden');
      assertRestError(await other.post(`/sessions/${sid}/transfer`, { toAgentId: otherAgentA.id }), 403, 'forbidden');
      assertRestError(await other.post(`/sessions/${sid}/accept`), 409, 'conflict');
      assertRestError(await other.post(`/sessions/${sid}/read`, { seq: 1 }), 403, 'forbidden');
      assert.equal((await other.get(`/sessions/${sid}`)).status, 200);
      assert.equal((await other.get(`/sessions/${sid}/messages`)).status, 200);

      assert.deepEqual(await sessionOf(v), before);
      assert.equal((await api(service, agentA.token).post(`/sessions/${sid}/close`, {})).status, 200);
    });

    it('an agent cannot send into or close a session still waiting in the queue', async () => {
      const v = await visitorWithSession(service, siteA);
      assertRestError(await api(service, agentA.token).post(`/sessions/${v.sessionId}/messages`, { cid: 'q1', text: 'hi' }), 403, 'forbidden');
      assertRestError(await api(service, agentA.token).post(`/sessions/${v.sessionId}/close`, {}), 403, 'forbidden');
      assert.equal((await api(service, v.token).post(`/sessions/${v.sessionId}/close`, {})).status, 200);
    });
  });

  describe('login and identity', () => {
    it('a wrong password, a wrong siteId and an unknown email all get the same 401', async () => {
      const answers = [
        await api(service).post('/auth/login', { email: agentA.email, password: 'wrong password' }),
        await api(service).post('/auth/login', { email: agentA.email, password: agentA.password, siteId: siteB.siteId }),
        await api(service).post('/auth/login', { email: `nobody-${Date.now()}@example.com`, password: agentA.password }),
        await api(service).post('/auth/login', { email: agentA.email.toUpperCase(), password: 'wrong password' }),
      ];
      for (const r of answers) assertRestError(r, 401, 'unauthorized');
      assert.equal(new Set(answers.map((r) => JSON.stringify(r.body))).size, 1, 'the answers tell the cases apart');
      assert.equal((await api(service).post('/auth/login', { email: agentA.email, password: agentA.password, siteId: siteA.siteId })).status, 200);
    });

    it('an identity with a wrong HMAC is 401; with the right one every device gets the same visitor', async () => {
      const userId = `user-${Date.now()}`;
      const wrong = [
        identityHash(userId, siteB.identitySecret),
        identityHash(`${userId}x`, siteA.identitySecret),
        '0'.repeat(64),
      ];
      for (const hash of wrong) {
        assertRestError(await api(service).post('/visitors', { siteKey: siteA.siteKey, identity: { userId, hash } }), 401, 'unauthorized');
      }

      const hash = identityHash(userId, siteA.identitySecret);
      const phone = await createVisitor(service, siteA, { userId, hash });
      const laptop = await createVisitor(service, siteA, { userId, name: 'Same person', hash: hash.toUpperCase() });
      assert.equal(laptop.id, phone.id);
      assert.notEqual(laptop.token, undefined);

      // the session started on one device is the one the other device gets
      const started = await api(service, phone.token).post('/sessions', {});
      assert.equal(started.status, 201);
      const again = await api(service, laptop.token).post('/sessions', {});
      assert.equal(again.status, 200);
      assert.equal(again.body.session.id, started.body.session.id);

      // the same user id on another site is another visitor there
      const elsewhere = await createVisitor(service, siteB, { userId, hash: identityHash(userId, siteB.identitySecret) });
      assert.notEqual(elsewhere.id, phone.id);
      assertRestError(await api(service, elsewhere.token).get(`/sessions/${started.body.session.id}`), 404, 'not_found');
    });
  });

  describe('WebSocket', () => {
    it('a first frame other than auth closes the connection with 4001', async () => {
      const p = await rawPeer(service.wsUrl);
      peers.push(p);
      p.send({ t: 'ping' });
      assert.equal((await p.closed).code, 4001);
    });

    it('an invalid, expired or site-admin token closes the connection with 4001', async () => {
      const now = Math.floor(Date.now() / 1000);
      const expired = jwt({ sub: agentA.id, site: siteA.siteId, kind: 'agent', iat: now - 7200, exp: now - 3600 }, service.config.tokenSecret);
      for (const token of ['nonsense', expired, siteA.adminKey, ADMIN_TOKEN]) {
        const p = await rawPeer(service.wsUrl);
        peers.push(p);
        p.send({ t: 'auth', token });
        const closed = await p.closed;
        assert.equal(closed.code, 4001, `token ${token.slice(0, 12)}...: closed with ${closed.code}`);
        assert.ok(!p.frames.some((f) => f.t === 'ready'), 'got a ready frame');
      }
    });

    it('a connection that does not authenticate within the auth timeout is closed with 4001', async () => {
      const p = await rawPeer(service.wsUrl);
      peers.push(p);
      const closed = await p.closed;
      assert.equal(closed.code, 4001);
      assert.deepEqual(p.frames, []);
    });

    it("frames about another visitor's or another site's session get error frames, change nothing, and the connection stays usable", async () => {
      const before = { y: await sessionOf(visitorY), b: await sessionOf(visitorB) };
      const x = await peer(visitorX.token);
      const y = await peer(visitorY.token);

      for (const sid of [visitorY.sessionId, visitorB.sessionId]) {
        x.send({ t: 'send', sid, cid: `ws-${sid}`, body: { text: 'let me in' } });
        const sendErr = await x.next((f) => f.t === 'error' && f.ref === 'send' && f.sid === sid);
        assertErrorFrame(sendErr, 'not_found');
        assert.equal(sendErr.cid, `ws-${sid}`);
        for (const frame of [
          { t: 'sync', sid, after: 0 },
          { t: 'read', sid, seq: 1 },
          { t: 'typing', sid },
        ]) {
          x.send(frame);
          assertErrorFrame(await x.next((f) => f.t === 'error' && f.ref === frame.t && f.sid === sid), 'not_found');
        }
      }
      x.send({ t: 'ping' });
      await x.next((f) => f.t === 'pong');
      assert.ok(!x.frames.some((f) => f.t === 'batch' || f.t === 'msg'), 'got messages of a session that is not theirs');

      // Y heard nothing from X's attempts (a ping round trip flushes anything in flight)
      y.send({ t: 'ping' });
      await y.next((f) => f.t === 'pong');
      assert.ok(!y.frames.some((f) => f.t === 'event' || f.t === 'msg'), `Y got ${JSON.stringify(y.frames)}`);
      assert.deepEqual({ y: await sessionOf(visitorY), b: await sessionOf(visitorB) }, before);

      // and X's own session still works on the same connection
      x.send({ t: 'send', sid: visitorX.sessionId, cid: 'own-1', body: { text: 'my own session' } });
      const sent = await x.next((f) => f.t === 'sent' && f.cid === 'own-1');
      assert.equal(sent.sid, visitorX.sessionId);
    });

    it("an agent's frames about another site's session or a colleague's session are refused, and the connection stays usable", async () => {
      const v = await visitorWithSession(service, siteA);
      assert.equal((await api(service, agentA.token).post(`/sessions/${v.sessionId}/accept`)).status, 200);
      const before = await sessionOf(v);
      const other = await peer(otherAgentA.token);
      const foreign = await peer(agentB.token);

      // another site's session: it does not exist for them
      foreign.send({ t: 'send', sid: v.sessionId, cid: 'f1', body: { text: 'hi' } });
      assertErrorFrame(await foreign.next((f) => f.t === 'error' && f.cid === 'f1'), 'not_found');
      foreign.send({ t: 'sync', sid: v.sessionId, after: 0 });
      assertErrorFrame(await foreign.next((f) => f.t === 'error' && f.ref === 'sync'), 'not_found');

      // a colleague's session: visible, but not theirs to write in
      other.send({ t: 'send', sid: v.sessionId, cid: 'o1', body: { text: 'hi' } });
      assertErrorFrame(await other.next((f) => f.t === 'error' && f.cid === 'o1'), 'forbidden');
      other.send({ t: 'typing', sid: v.sessionId });
      assertErrorFrame(await other.next((f) => f.t === 'error' && f.ref === 'typing'), 'forbidden');
      other.send({ t: 'read', sid: v.sessionId, seq: 1 });
      assertErrorFrame(await other.next((f) => f.t === 'error' && f.ref === 'read'), 'forbidden');

      for (const p of [foreign, other]) {
        p.send({ t: 'ping' });
        await p.next((f) => f.t === 'pong');
      }
      assert.deepEqual(await sessionOf(v), before);

      // site B's agent hears nothing of site A: start a session on A and watch both agents
      const onA = await peer(agentA.token);
      const fresh = await visitorWithSession(service, siteA);
      await onA.next((f) => f.t === 'event' && f.name === 'session' && f.sid === fresh.sessionId);
      foreign.send({ t: 'ping' });
      await foreign.next((f) => f.t === 'pong');
      assert.ok(!foreign.frames.some((f) => f.sid === fresh.sessionId || (f.sid === v.sessionId && f.t !== 'error')), `B's agent got ${JSON.stringify(foreign.frames)}`);
    });
  });
});

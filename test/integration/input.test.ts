import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, createAgent, createSite, type Reply, type SiteFixture, visitorWithSession } from '../helpers/api.js';
import { assertErrorFrame, assertNoStack, assertRestError } from '../helpers/errors.js';
import { authedPeer, type RawPeer, rawPeer } from '../helpers/raw-ws.js';
import { ADMIN_TOKEN, type Service, startService } from '../helpers/service.js';

const MAX_TEXT = 200;
const MAX_FRAME = 1024;

describe('malformed, oversized, unknown and operator-shaped input', () => {
  let service: Service;
  let site: SiteFixture;
  let agent: Awaited<ReturnType<typeof createAgent>>;
  let visitor: Awaited<ReturnType<typeof visitorWithSession>>;
  const peers: RawPeer[] = [];

  async function peer(token: string) {
    const p = await authedPeer(service.wsUrl, token);
    peers.push(p);
    return p;
  }

  /** Raw HTTP, for bodies and headers the JSON helper would not send. */
  async function raw(method: string, path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<Reply> {
    const res = await fetch(`${service.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.text();
    assertNoStack(text);
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // keep the text
    }
    return { status: res.status, body: parsed };
  }

  const json = { 'content-type': 'application/json' };

  /** Documents per collection: "nothing stored" means these do not move. */
  async function counts() {
    const db = service.app.mongo.client.db(service.config.mongodbDb);
    const names = ['sites', 'accounts', 'sessions', 'messages', 'cursors'];
    return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await db.collection(n).countDocuments()] as const)));
  }

  async function history() {
    const r = await api(service, visitor.token).get(`/sessions/${visitor.sessionId}/messages`);
    assert.equal(r.status, 200);
    return r.body.messages.map((m: any) => ({ seq: m.seq, cid: m.cid, text: m.body.text }));
  }

  before(async () => {
    service = await startService({ maxTextLength: MAX_TEXT, maxFrameBytes: MAX_FRAME });
    site = await createSite(service);
    agent = await createAgent(service, site);
    visitor = await visitorWithSession(service, site);
  });

  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
  });

  describe('REST', () => {
    it('a body that is not valid JSON is 400 bad_request in the error shape', async () => {
      const before = await counts();
      const auth = { ...json, authorization: `Bearer ${visitor.token}` };
      const path = `/api/v1/sessions/${visitor.sessionId}/messages`;
      for (const body of ['{"cid": "a1", "text": ', '{cid: a1}', "{'cid': 'a1'}", 'not json at all', '{"cid":"a1","text":"x"}}', '\u0000']) {
        assertRestError(await raw('POST', path, body, auth), 400, 'bad_request');
      }
      assertRestError(await raw('POST', '/api/v1/visitors', '{"siteKey": "sk_', json), 400, 'bad_request');
      assertRestError(await raw('POST', '/api/v1/auth/login', '', json), 400, 'bad_request');
      assertRestError(await raw('POST', '/api/v1/visitors', `{"siteKey": "${site.siteKey}"}`, { 'content-type': 'text/plain' }), 400, 'bad_request');
      assert.deepEqual(await counts(), before);
    });

    it('prototype-poisoning and absurdly nested JSON are refused without harm', async () => {
      const before = await counts();
      assertRestError(await raw('POST', '/api/v1/visitors', `{"siteKey": "${site.siteKey}", "__proto__": {"kind": "agent"}}`, json), 400, 'bad_request');
      assertRestError(
        await raw('POST', '/api/v1/visitors', `{"siteKey": "${site.siteKey}", "constructor": {"prototype": {"kind": "agent"}}}`, json),
        400,
        'bad_request',
      );
      const depth = 20_000;
      const nested = `{"siteKey": ${'['.repeat(depth)}${']'.repeat(depth)}}`;
      assertRestError(await raw('POST', '/api/v1/visitors', nested, json), 400, 'bad_request');
      assert.deepEqual(await counts(), before);
    });

    it('missing fields, wrong types and extra fields are 400 bad_request, and nothing is stored', async () => {
      const before = await counts();
      const v = api(service, visitor.token);
      const sid = visitor.sessionId;
      const cases: Array<[string, string, unknown, string?]> = [
        // [method, path, body, token]
        ['POST', `/sessions/${sid}/messages`, {}],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1' }],
        ['POST', `/sessions/${sid}/messages`, { text: 'no cid' }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1', text: '' }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1', text: '   \n\t ' }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1', text: { a: 1 } }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1', text: ['a', 'b'] }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1', text: null }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'has space', text: 'hi' }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'x'.repeat(65), text: 'hi' }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1', text: 'hi', from: { id: agent.id, kind: 'agent', name: 'Boss' } }],
        ['POST', `/sessions/${sid}/messages`, { cid: 'm1', text: 'hi', seq: 1 }],
        ['POST', `/sessions/${sid}/messages`, [{ cid: 'm1', text: 'hi' }]],
        ['POST', `/sessions/${sid}/read`, {}],
        ['POST', `/sessions/${sid}/read`, { seq: -1 }],
        ['POST', `/sessions/${sid}/read`, { seq: 1.5 }],
        ['POST', `/sessions/${sid}/read`, { seq: 'all' }],
        ['POST', '/sessions', { state: 'active', assigneeId: agent.id }],
        ['POST', '/sessions', { topic: 'x'.repeat(201) }],
        ['POST', `/sessions/${sid}/close`, { reason: 7, state: 'closed' }],
        ['POST', '/visitors', {}],
        ['POST', '/visitors', { siteKey: site.siteKey, kind: 'agent' }],
        ['POST', '/visitors', { siteKey: site.siteKey, identity: { userId: 'u1' } }],
        ['POST', '/visitors', { siteKey: site.siteKey, identity: { userId: 'u1', hash: 'abc' } }],
        ['POST', '/auth/login', { email: agent.email }],
        ['POST', '/auth/login', { email: agent.email, password: agent.password, role: 'operator' }],
        ['POST', '/agents', { email: 'not-an-email', name: 'X', password: 'long enough' }, site.adminKey],
        ['POST', '/agents', { email: 'ok@example.com', name: 'X', password: 'short' }, site.adminKey],
        ['POST', '/agents', { email: 'ok@example.com', name: 'X', password: 'long enough', maxSessions: 0 }, site.adminKey],
        ['POST', '/agents', { email: 'ok@example.com', name: 'X', password: 'long enough', siteId: 'other' }, site.adminKey],
        ['POST', '/bots', { name: 'B', webhookUrl: 'javascript:alert(1)' }, site.adminKey],
        ['PUT', '/routing', { mode: 'everyone', assign: 'auto' }, site.adminKey],
        ['PUT', '/routing', { mode: 'bot-first', assign: 'auto' }, site.adminKey],
        ['POST', '/sites', { name: '' }, ADMIN_TOKEN],
        ['POST', '/sites', { name: 'S', allowedOrigins: ['not a url'] }, ADMIN_TOKEN],
      ];
      for (const [method, path, body, token] of cases) {
        const r = await api(service, token ?? visitor.token).call(method, path, body);
        assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
        assertRestError(r, 400, 'bad_request');
      }
      for (const query of ['?after=-1', '?after=abc', '?limit=0', '?limit=100000', '?after=1.5', '?sort=seq']) {
        assertRestError(await v.get(`/sessions/${sid}/messages${query}`), 400, 'bad_request');
      }
      assertRestError(await v.get('/sessions?state=open'), 400, 'bad_request');
      assert.deepEqual(await counts(), before);
    });

    it('a value of the wrong JSON type is refused rather than converted', async () => {
      const before = await history();
      const v = api(service, visitor.token);
      const sid = visitor.sessionId;
      for (const body of [{ cid: 'n1', text: 42 }, { cid: 'n2', text: true }, { cid: 7, text: 'numeric cid' }, { cid: ['n3'], text: 'array cid' }]) {
        const r = await v.post(`/sessions/${sid}/messages`, body);
        assert.equal(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${JSON.stringify(r.body)}`);
        assertRestError(r, 400, 'bad_request');
      }
      assertRestError(await v.post(`/sessions/${sid}/read`, { seq: '1' }), 400, 'bad_request');
      assertRestError(await api(service).post('/visitors', { siteKey: 12345 }), 400, 'bad_request');
      assert.deepEqual(await history(), before);
    });

    it('a POST whose body is optional may come with no body at all', async () => {
      const v = await visitorWithSession(service, site);
      const bare = (path: string, token: string) => raw('POST', `/api/v1${path}`, undefined, { authorization: `Bearer ${token}` });
      assert.equal((await bare('/sessions', v.token)).status, 200);
      assert.equal((await bare(`/sessions/${v.sessionId}/accept`, agent.token)).status, 200);
      const transferred = await bare(`/sessions/${v.sessionId}/transfer`, agent.token);
      assert.equal(transferred.status, 200, JSON.stringify(transferred.body));
      assert.equal(transferred.body.session.state, 'queued');
      const closed = await bare(`/sessions/${v.sessionId}/close`, v.token);
      assert.equal(closed.status, 200, JSON.stringify(closed.body));
      assert.equal(closed.body.session.state, 'closed');
      assert.equal((await bare('/sessions', v.token)).status, 201);
    });

    it('operator-shaped values ($gt, $ne, $where) are 400 and match nothing', async () => {
      const before = await counts();
      const v = api(service, visitor.token);
      const sid = visitor.sessionId;
      const attempts: Reply[] = [
        await v.post(`/sessions/${sid}/messages`, { cid: { $gt: '' }, text: 'injected' }),
        await v.post(`/sessions/${sid}/messages`, { cid: '$where', text: 'injected' }),
        await v.post(`/sessions/${sid}/read`, { seq: { $gt: 0 } }),
        await api(service).post('/auth/login', { email: { $ne: null }, password: agent.password }),
        await api(service).post('/auth/login', { email: agent.email, password: { $ne: null } }),
        await api(service).post('/auth/login', { email: agent.email, password: agent.password, siteId: { $ne: null } }),
        await api(service).post('/visitors', { siteKey: { $gt: '' } }),
        await api(service).post('/visitors', { siteKey: site.siteKey, identity: { userId: { $ne: null }, hash: 'a'.repeat(64) } }),
        await api(service, agent.token).post(`/sessions/${sid}/transfer`, { toAgentId: { $ne: null } }),
        await api(service, site.adminKey).put('/routing', { mode: 'bot-first', botId: { $ne: null }, assign: 'manual' }),
        await v.get(`/sessions/${encodeURIComponent('{"$gt":""}')}`),
        await v.get(`/sessions/${encodeURIComponent('$where')}/messages`),
        await v.get('/sessions?state[$ne]=closed'),
        await v.get(`/sessions/${sid}/messages?after[$gt]=0`),
      ];
      for (const r of attempts) assertRestError(r, 400, 'bad_request');
      assert.deepEqual(await counts(), before);
    });

    it('text longer than the limit is 413 too_large and not stored; text at the limit is stored', async () => {
      const before = await history();
      const v = api(service, visitor.token);
      assertRestError(await v.post(`/sessions/${visitor.sessionId}/messages`, { cid: 'long1', text: 'x'.repeat(MAX_TEXT + 1) }), 413, 'too_large');
      assert.deepEqual(await history(), before);
      const ok = await v.post(`/sessions/${visitor.sessionId}/messages`, { cid: 'long2', text: 'y'.repeat(MAX_TEXT) });
      assert.equal(ok.status, 201);
      assert.deepEqual((await history()).map((m: any) => m.cid), [...before.map((m: any) => m.cid), 'long2']);
    });

    it('a body over 64 KiB is 413 too_large and not stored', async () => {
      const before = await counts();
      const big = JSON.stringify({ cid: 'huge', text: 'z'.repeat(70 * 1024) });
      const auth = { ...json, authorization: `Bearer ${visitor.token}` };
      assertRestError(await raw('POST', `/api/v1/sessions/${visitor.sessionId}/messages`, big, auth), 413, 'too_large');
      assertRestError(await raw('POST', '/api/v1/visitors', JSON.stringify({ siteKey: 'k'.repeat(70 * 1024) }), json), 413, 'too_large');
      assert.deepEqual(await counts(), before);
    });

    it('an unknown route or method is 404 not_found in the error shape', async () => {
      assertRestError(await raw('GET', '/api/v1/nope', undefined), 404, 'not_found');
      assertRestError(await raw('GET', '/nope', undefined), 404, 'not_found');
      assertRestError(await raw('DELETE', `/api/v1/sessions/${visitor.sessionId}`, undefined, { authorization: `Bearer ${visitor.token}` }), 404, 'not_found');
      assertRestError(await raw('POST', '/api/v1/sessions/x/explode', '{}', json), 404, 'not_found');
      assertRestError(await raw('GET', '/api/v2/sessions', undefined), 404, 'not_found');
    });
  });

  describe('WebSocket', () => {
    it('unknown, unparsable, non-object, binary and oversized frames get error frames and the connection keeps working', async () => {
      const before = await history();
      const p = await peer(visitor.token);
      const bad: Array<[string | Buffer, string]> = [
        [JSON.stringify({ t: 'shout', sid: visitor.sessionId }), 'bad_request'],
        [JSON.stringify({ t: '__proto__' }), 'bad_request'],
        [JSON.stringify({ t: 'constructor' }), 'bad_request'],
        [JSON.stringify({ t: 'toString' }), 'bad_request'],
        [JSON.stringify({ type: 'ping' }), 'bad_request'],
        ['{"t": "ping"', 'bad_request'],
        ['hello', 'bad_request'],
        ['', 'bad_request'],
        [JSON.stringify([{ t: 'ping' }]), 'bad_request'],
        ['"ping"', 'bad_request'],
        ['42', 'bad_request'],
        ['null', 'bad_request'],
        [Buffer.from([0xde, 0xad, 0xbe, 0xef]), 'bad_request'],
        [JSON.stringify({ t: 'send', sid: visitor.sessionId, cid: 'big', body: { text: 'x'.repeat(MAX_FRAME) } }), 'too_large'],
        [' '.repeat(MAX_FRAME + 1), 'too_large'],
      ];
      for (const [frame, code] of bad) {
        p.ws.send(frame);
        const err = await p.next((f) => f.t === 'error');
        assertErrorFrame(err, code);
        p.send({ t: 'ping' });
        await p.next((f) => f.t === 'pong');
      }
      assert.deepEqual(await history(), before);

      p.send({ t: 'send', sid: visitor.sessionId, cid: 'after-junk', body: { text: 'still here' } });
      const sent = await p.next((f) => f.t === 'sent');
      assert.equal(sent.cid, 'after-junk');
      assert.equal(sent.seq, (before.at(-1)?.seq ?? 0) + 1);
    });

    it('frames with missing fields, wrong types, extra fields or operator-shaped ids are bad_request and store nothing', async () => {
      const before = await history();
      const p = await peer(visitor.token);
      const sid = visitor.sessionId;
      const frames: unknown[] = [
        { t: 'send', sid, cid: 'c1' },
        { t: 'send', sid, body: { text: 'no cid' } },
        { t: 'send', sid, cid: 'c1', body: {} },
        { t: 'send', sid, cid: 'c1', body: { text: 42 } },
        { t: 'send', sid, cid: 'c1', body: { text: '' } },
        { t: 'send', sid, cid: 'c1', body: { text: ' \n\t ' } },
        { t: 'send', sid, cid: 'c1', body: { text: 'hi', imageId: '../../etc/passwd' } },
        { t: 'send', sid, cid: 'c1', body: { text: 'hi' }, from: { kind: 'agent' } },
        { t: 'send', sid: { $gt: '' }, cid: 'c1', body: { text: 'injected' } },
        { t: 'send', sid: '$where', cid: 'c1', body: { text: 'injected' } },
        { t: 'send', sid, cid: { $ne: null }, body: { text: 'injected' } },
        { t: 'send', sid, cid: '$gt', body: { text: 'injected' } },
        { t: 'read', sid, seq: '5' },
        { t: 'read', sid, seq: -1 },
        { t: 'read', sid, seq: 1.5 },
        { t: 'read', sid: { $exists: true }, seq: 1 },
        { t: 'ack', sid, seq: { $gt: 0 } },
        { t: 'sync', sid, after: 0, limit: 100_000 },
        { t: 'sync', sid, after: 'zero' },
        { t: 'typing' },
        { t: 'ping', extra: true },
      ];
      for (const frame of frames) {
        p.send(frame);
        const err = await p.next((f) => f.t === 'error');
        assert.equal(err.code, 'bad_request', `${JSON.stringify(frame)} → ${JSON.stringify(err)}`);
        assertErrorFrame(err, 'bad_request');
      }
      // a send refused by its schema still names its cid when it had a readable one
      p.send({ t: 'send', sid, cid: 'named', body: { text: 7 } });
      const named = await p.next((f) => f.t === 'error');
      assert.equal(named.cid, 'named');

      // a second auth on an authenticated connection is refused, and changes nothing
      p.send({ t: 'auth', token: agent.token });
      assertErrorFrame(await p.next((f) => f.t === 'error'), 'bad_request');

      assert.deepEqual(await history(), before);
      p.send({ t: 'send', sid, cid: 'after-bad', body: { text: 'fine' } });
      const sent = await p.next((f) => f.t === 'sent');
      assert.equal(sent.seq, (before.at(-1)?.seq ?? 0) + 1);
      assert.ok(!p.frames.some((f) => f.t === 'ready' && f.account.kind === 'agent'), 'the second auth switched accounts');
    });

    it('text over the limit is a too_large error frame naming the cid, and is not stored', async () => {
      const before = await history();
      const p = await peer(visitor.token);
      p.send({ t: 'send', sid: visitor.sessionId, cid: 'ws-long', body: { text: 'x'.repeat(MAX_TEXT + 1) } });
      const err = await p.next((f) => f.t === 'error');
      assertErrorFrame(err, 'too_large');
      assert.equal(err.cid, 'ws-long');
      assert.deepEqual(await history(), before);
      // the same cid with acceptable text is then stored normally
      p.send({ t: 'send', sid: visitor.sessionId, cid: 'ws-long', body: { text: 'shorter' } });
      assert.equal((await p.next((f) => f.t === 'sent')).cid, 'ws-long');
    });

    it('an operator-shaped auth token does not authenticate: the error is named and the connection closed (4001)', async () => {
      const p = await rawPeer(service.wsUrl);
      peers.push(p);
      p.send({ t: 'auth', token: { $ne: null } });
      assertErrorFrame(await p.next((f) => f.t === 'error'), 'bad_request');
      assert.equal((await p.closed).code, 4001);
      assert.ok(!p.frames.some((f) => f.t === 'ready'));
    });

    it('a frame beyond the hard size cap closes only that connection; the service keeps serving', async () => {
      const p = await peer(visitor.token);
      p.ws.send('x'.repeat(300 * 1024));
      const closed = await p.closed;
      // ws itself refuses it with 1009 before buffering it; shared/PROTOCOL.md names 4008 for this
      assert.ok([1009, 4008].includes(closed.code), `closed with ${closed.code}`);
      const again = await peer(visitor.token);
      again.send({ t: 'ping' });
      await again.next((f) => f.t === 'pong');
      assert.equal((await api(service, visitor.token).get('/sessions')).status, 200);
    });
  });
});

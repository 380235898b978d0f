/**
 * Two instances of the service sharing one database and one Redis, with no
 * sticky sessions: whoever is connected where, every message, session change
 * and event reaches them, and presence is the same seen from either
 * (shared/DESIGN.md, "Scale").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { CLOSE } from '../../src/protocol/codes.js';
import type { SentFrame } from '../../src/client/index.js';
import { api, createAgent, createSite, createVisitor, type SiteFixture, visitorWithSession } from '../helpers/api.js';
import { authedPeer, type RawPeer } from '../helpers/raw-ws.js';
import { range1, restHistory, type SdkClient, sdkClient, timeline } from '../helpers/sdk.js';
import { testUrls } from '../helpers/infra.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor, within } from '../helpers/wait-for.js';

/** Acks every push as it arrives, as a well-behaved client does. */
function ackEverything(peer: RawPeer): void {
  peer.ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.t === 'msg') peer.send({ t: 'ack', sid: f.sid, seq: f.seq });
  });
}

describe('two instances sharing MongoDB and Redis', () => {
  let a: Service;
  let b: Service;
  const peers: RawPeer[] = [];
  const clients: SdkClient[] = [];

  async function peer(service: Service, token: string) {
    const p = await authedPeer(service.wsUrl, token);
    peers.push(p);
    ackEverything(p);
    return p;
  }

  /** The agents list as `service` answers it: id → devices. */
  async function devices(service: Service, site: SiteFixture): Promise<Map<string, { online: boolean; devices: number }>> {
    const r = await api(service, site.adminKey).get('/agents');
    assert.equal(r.status, 200);
    return new Map(r.body.agents.map((x: any) => [x.id, { online: x.online, devices: x.devices }]));
  }

  // clients are asked to reconnect at most this often after lost pushes: short, so that the ask
  // after the last cut of the pub/sub test lands within that test, not in the next one
  const RESYNC_GAP_MS = 300;

  before(async () => {
    a = await startService({ resyncGapMs: RESYNC_GAP_MS });
    b = await startService({ mongodbDb: a.config.mongodbDb, redisPrefix: a.config.redisPrefix, tokenSecret: a.config.tokenSecret, resyncGapMs: RESYNC_GAP_MS }, { shared: true });
  });

  after(async () => {
    for (const c of clients) c.client.close();
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    // b shares a's database and keys: it goes first, then a cleans up
    await b.close();
    await a.close();
  });

  it('a visitor on one instance and an agent on the other chat: each sees every message once and in order, and the session events', async () => {
    const site = await createSite(a);
    const agent = await createAgent(a, site);
    const visitor = await visitorWithSession(a, site);
    const sid = visitor.sessionId;
    const vPeer = await peer(a, visitor.token);
    const aPeer = await peer(b, agent.token);

    // accepted through the REST API of the instance the agent is not connected to
    assert.equal((await api(a, agent.token).post(`/sessions/${sid}/accept`)).status, 200);
    for (const p of [vPeer, aPeer]) {
      const accepted = await p.next((f) => f.t === 'msg' && f.sid === sid && f.body.event === 'accepted');
      assert.equal(accepted.body.agentId, agent.id);
      const ev = await p.next((f) => f.t === 'event' && f.name === 'session' && f.sid === sid);
      assert.equal(ev.state, 'active');
      assert.equal(ev.assigneeId, agent.id);
      assert.equal(ev.session.id, sid);
      assert.equal(typeof ev.session.acceptedAt, 'string');
    }

    // both talk at once, each through the SDK on their own instance
    const vClient = sdkClient(a, visitor.token, { WebSocket });
    const aClient = sdkClient(b, agent.token, { WebSocket });
    clients.push(vClient, aClient);
    await waitFor(() => vClient.readies.length === 1 && aClient.readies.length === 1, 10_000, 'both clients to be ready');
    const sends: Array<Promise<SentFrame>> = [];
    for (let i = 1; i <= 15; i++) {
      sends.push(vClient.client.send(sid, `visitor ${i}`, { cid: `v-${i}` }));
      sends.push(aClient.client.send(sid, `agent ${i}`, { cid: `a-${i}` }));
    }
    await within(Promise.all(sends), 15_000, 'every send to be answered');

    const n = 2 + 30; // started, accepted, then the chat
    const history = timeline(await restHistory(b, agent.token, sid), sid);
    assert.deepEqual(history.map((l) => l.seq), range1(n));
    await waitFor(() => [vClient, aClient].every((c) => c.client.lastSeq(sid) >= n), 10_000, 'both sides to show the whole conversation');
    assert.deepEqual(timeline(vClient.messages, sid), history, 'the visitor (instance A) shows exactly the stored history');
    assert.deepEqual(timeline(aClient.messages, sid), history, 'the agent (instance B) shows exactly the stored history');

    // the raw connections, ready before the chat, were pushed each message once and in seq order
    for (const [name, p] of Object.entries({ visitor: vPeer, agent: aPeer })) {
      await waitFor(() => p.frames.filter((f) => f.t === 'msg' && f.sid === sid).length >= n - 1, 10_000, `${name}'s raw connection to get every push`);
      assert.deepEqual(
        p.frames.filter((f) => f.t === 'msg' && f.sid === sid).map((f) => f.seq),
        range1(n).slice(1),
        `${name}: accepted, then the chat, once each`,
      );
    }

    // typing and read cross instances too
    aPeer.send({ t: 'typing', sid });
    const typing = await vPeer.next((f) => f.t === 'event' && f.name === 'typing' && f.sid === sid);
    assert.equal(typing.from.id, agent.id);
    vPeer.send({ t: 'read', sid, seq: n });
    const read = await aPeer.next((f) => f.t === 'event' && f.name === 'read' && f.sid === sid && f.accountId === visitor.id);
    assert.equal(read.seq, n);

    // and the close, through the other instance's REST API
    assert.equal((await api(b, visitor.token).post(`/sessions/${sid}/close`, {})).status, 200);
    for (const p of [vPeer, aPeer]) {
      await p.next((f) => f.t === 'msg' && f.sid === sid && f.body.event === 'closed');
      const ev = await p.next((f) => f.t === 'event' && f.name === 'session' && f.sid === sid && f.state === 'closed');
      assert.equal(typeof ev.session.closedAt, 'string');
    }
  });

  it('instances cut off from Redis pub/sub for a moment have their clients reconnect and sync: what was said meanwhile reaches both sides', async () => {
    const site = await createSite(a);
    const agent = await createAgent(a, site);
    const visitor = await visitorWithSession(a, site);
    const sid = visitor.sessionId;
    assert.equal((await api(b, agent.token).post(`/sessions/${sid}/accept`)).status, 200);
    const vClient = sdkClient(a, visitor.token, { WebSocket });
    const aClient = sdkClient(b, agent.token, { WebSocket });
    clients.push(vClient, aClient);
    await waitFor(() => vClient.readies.length === 1 && aClient.readies.length === 1, 10_000, 'both clients to be ready');
    await within(aClient.client.send(sid, 'before', { cid: 'gap-before' }), 10_000, 'the first reply');
    await waitFor(() => vClient.client.lastSeq(sid) === 3, 10_000, 'the visitor to see it');

    // Both instances' subscriber connections are killed as often as they come back, while the
    // agent writes: their pushes go nowhere, yet every send is stored and answered. The cutting
    // stops once the sends are answered, or after CUT_MS at most: every RESYNC_GAP_MS while it
    // goes on, each instance closes its connections with 1013, and on a loaded machine a client
    // reconnecting into that churn may not get its sends answered until it stops.
    const CUT_MS = 3000;
    const admin = new Redis(testUrls().redisUrl);
    let cutting = true;
    const stopCutting = setTimeout(() => (cutting = false), CUT_MS);
    const cut = (async () => {
      while (cutting) {
        const list = (await admin.client('LIST')) as string;
        for (const line of list.split('\n')) {
          if (line.includes(` name=${a.config.redisPrefix}:broker-sub:`)) await admin.client('KILL', 'ID', /\bid=(\d+)/.exec(line)![1]!).catch(() => 0);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    let during: Array<{ seq: number }>;
    try {
      await new Promise((resolve) => setTimeout(resolve, 50));
      during = await within(Promise.all([1, 2, 3].map((i) => aClient.client.send(sid, `while cut off ${i}`, { cid: `gap-${i}` }))), 10_000, 'the sends while cut off');
    } finally {
      // never left running: it would cut the pushes of the tests after this one
      cutting = false;
      clearTimeout(stopCutting);
      await cut;
      admin.disconnect();
    }
    assert.deepEqual(
      during.map((s) => s.seq),
      [4, 5, 6],
    );

    await waitFor(() => vClient.closeCodes.includes(CLOSE.TRY_AGAIN_LATER) && aClient.closeCodes.includes(CLOSE.TRY_AGAIN_LATER), 10_000, 'both clients to be asked to reconnect');
    await waitFor(() => [vClient, aClient].every((c) => c.client.lastSeq(sid) === 6), 10_000, 'both sides to catch up');
    const history = timeline(await restHistory(a, visitor.token, sid), sid);
    assert.deepEqual(history.map((l) => l.seq), range1(6));
    assert.deepEqual(timeline(vClient.messages, sid), history, 'the visitor shows the stored history, each message once');
    assert.deepEqual(timeline(aClient.messages, sid), history, 'so does the agent');
    // the ask due after the last cut, if one is, closes these clients and not the next test's
    await new Promise((resolve) => setTimeout(resolve, 3 * RESYNC_GAP_MS));
  });

  it('an agent connected only to one instance is online, with all their devices, in the other instance\'s agent list', async () => {
    const site = await createSite(a);
    const agent = await createAgent(a, site);
    const onB = await peer(b, agent.token);
    await waitFor(async () => (await devices(a, site)).get(agent.id)?.online === true, 5000, 'A to list the agent online');
    assert.deepEqual((await devices(a, site)).get(agent.id), { online: true, devices: 1 });

    const onA = await peer(a, agent.token);
    await waitFor(async () => (await devices(b, site)).get(agent.id)?.devices === 2, 5000, 'B to count both devices');

    onB.close();
    await onB.closed;
    await waitFor(async () => (await devices(a, site)).get(agent.id)?.devices === 1, 5000, 'one device left');
    onA.close();
    await onA.closed;
    await waitFor(async () => (await devices(b, site)).get(agent.id)?.online === false, 5000, 'the agent to be offline everywhere');
    assert.deepEqual((await devices(a, site)).get(agent.id), { online: false, devices: 0 });
  });

  it('automatic assignment on one instance gives a new session to an agent online only on the other', async () => {
    const site = await createSite(a);
    const agent = await createAgent(a, site);
    const offline = await createAgent(a, site);
    const onB = await peer(b, agent.token);
    await waitFor(async () => (await devices(a, site)).get(agent.id)?.online === true, 5000, 'A to see the agent online');
    assert.equal((await api(a, site.adminKey).put('/routing', { mode: 'human', assign: 'auto' })).status, 200);

    const visitor = await createVisitor(a, site);
    const vPeer = await peer(a, visitor.token);
    const started = await api(a, visitor.token).post('/sessions', {});
    assert.equal(started.status, 201);
    const sid = started.body.session.id as string;

    const accepted = await onB.next((f) => f.t === 'msg' && f.sid === sid && f.body.event === 'accepted');
    assert.equal(accepted.body.auto, true);
    assert.equal(accepted.body.agentId, agent.id);
    const s = await api(a, visitor.token).get(`/sessions/${sid}`);
    assert.equal(s.body.session.state, 'active');
    assert.equal(s.body.session.assigneeId, agent.id);
    assert.notEqual(s.body.session.assigneeId, offline.id);
    const ev = await vPeer.next((f) => f.t === 'event' && f.name === 'session' && f.sid === sid && f.state === 'active');
    assert.equal(ev.assigneeId, agent.id);
  });
});

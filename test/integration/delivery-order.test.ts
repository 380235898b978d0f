/**
 * Order and exactly-once delivery while everyone talks at once, resends by
 * cid, and paging through history with `sync` (shared/DESIGN.md, "Messages
 * and the guarantees"; shared/PROTOCOL.md, "WebSocket").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Collection, MongoNetworkError } from 'mongodb';
import WebSocket from 'ws';
import type { SentFrame } from '../../src/client/index.js';
import { activeSession, api, createAgent, createSite, createVisitor, type SiteFixture, visitorWithSession } from '../helpers/api.js';
import { authedPeer, type RawPeer } from '../helpers/raw-ws.js';
import { range1, restHistory, type SdkClient, sdkClient, timeline } from '../helpers/sdk.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor, within } from '../helpers/wait-for.js';

/** Acks every push as it arrives, as a well-behaved client does. */
function ackEverything(peer: RawPeer): void {
  peer.ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.t === 'msg') peer.send({ t: 'ack', sid: f.sid, seq: f.seq });
  });
}

describe('delivery order and exactly-once', () => {
  let service: Service;
  let site: SiteFixture;
  const clients: SdkClient[] = [];
  const peers: RawPeer[] = [];

  before(async () => {
    // these tests send far faster than a person types; limits.test.ts tests sending into the limits
    service = await startService({ msgRatePerSec: 0 });
    site = await createSite(service);
  });
  after(async () => {
    for (const c of clients) c.client.close();
    for (const p of peers) p.close();
    await service.close();
  });

  it('50 messages sent at once from two visitor devices and the agent show up on every device as 1..N, once each, as history has them', async () => {
    const { agent, visitor, sid } = await activeSession(service, site);
    const phone = sdkClient(service, visitor.token, { WebSocket });
    const laptop = sdkClient(service, visitor.token, { WebSocket });
    const desk = sdkClient(service, agent.token, { WebSocket });
    clients.push(phone, laptop, desk);
    // a second agent device without the SDK: what the server itself pushes on one connection
    const rawDesk = await authedPeer(service.wsUrl, agent.token);
    peers.push(rawDesk);
    ackEverything(rawDesk);
    await waitFor(() => [phone, laptop, desk].every((c) => c.readies.length === 1), 10_000, 'all three clients to be ready');

    const sends: Array<{ cid: string; text: string; from: string; sent: Promise<SentFrame> }> = [];
    const fire = (c: SdkClient, from: string, text: string) => {
      const cid = text.replace(' ', '-');
      sends.push({ cid, text, from, sent: c.client.send(sid, text, { cid }) });
    };
    for (let i = 1; i <= 20; i++) {
      fire(phone, visitor.id, `phone ${i}`);
      fire(laptop, visitor.id, `laptop ${i}`);
      if (i <= 10) fire(desk, agent.id, `desk ${i}`);
    }
    const answers = await within(Promise.all(sends.map((s) => s.sent)), 15_000, 'every send to be answered');

    const seqs = answers.map((a) => a.seq);
    assert.equal(new Set(seqs).size, 50, 'every send got a seq of its own');
    assert.equal(new Set(answers.map((a) => a.id)).size, 50, 'every send got an id of its own');

    const history = timeline(await restHistory(service, visitor.token, sid), sid);
    const n = 2 + 50; // started, accepted, then the chat
    assert.deepEqual(history.map((l) => l.seq), range1(n));
    for (const [i, s] of sends.entries()) {
      const stored = history.filter((l) => l.cid === s.cid);
      assert.equal(stored.length, 1, `${s.cid} is stored once`);
      assert.deepEqual(stored[0], { seq: answers[i]!.seq, id: answers[i]!.id, cid: s.cid, from: s.from, text: s.text });
    }
    // one sender's messages keep the order it sent them in
    for (const [prefix, count] of Object.entries({ phone: 20, laptop: 20, desk: 10 })) {
      const mine = history.filter((l) => l.text?.startsWith(`${prefix} `)).map((l) => l.text);
      assert.deepEqual(mine, range1(count).map((i) => `${prefix} ${i}`), `${prefix}'s messages in the order sent`);
    }

    await waitFor(() => [phone, laptop, desk].every((c) => c.client.lastSeq(sid) >= n), 10_000, 'every device to show the whole conversation');
    for (const [name, c] of Object.entries({ phone, laptop, desk })) {
      assert.deepEqual(timeline(c.messages, sid), history, `${name} shows exactly the stored history`);
    }

    // The raw connection was ready after `accepted` (seq 2): the server pushed 3..n on it in order, each once.
    await waitFor(() => rawDesk.frames.filter((f) => f.t === 'msg' && f.sid === sid).length >= n - 2, 10_000, 'the raw device to get every push');
    const pushed = rawDesk.frames.filter((f) => f.t === 'msg' && f.sid === sid).map((f) => f.seq);
    assert.deepEqual(pushed, range1(n).slice(2));
  });

  /**
   * An active session whose visitor (a phone) sends a burst of 30 over the SDK while `inject` makes
   * something on the way fail: every send is answered and stored once, with no gap, in the order
   * sent, and the agent's desk shows exactly the stored history.
   */
  async function burstSurvives(expectedFailures: number, inject: (sid: string) => { failures(): number; undo(): void }) {
    const { agent, visitor, sid } = await activeSession(service, site);
    const phone = sdkClient(service, visitor.token, { WebSocket });
    const desk = sdkClient(service, agent.token, { WebSocket });
    clients.push(phone, desk);
    await waitFor(() => [phone, desk].every((c) => c.readies.length === 1), 10_000, 'both clients to be ready');
    const injected = inject(sid);
    try {
      const texts = range1(30).map((i) => `burst ${i}`);
      const answers = await within(Promise.all(texts.map((t) => phone.client.send(sid, t))), 20_000, 'every send to be answered');
      assert.equal(injected.failures(), expectedFailures, 'the failures happened');
      assert.equal(new Set(answers.map((a) => a.seq)).size, 30, 'each send stored once');

      const history = timeline(await restHistory(service, visitor.token, sid), sid);
      assert.deepEqual(history.map((l) => l.seq), range1(2 + 30), 'no gap');
      assert.deepEqual(
        history.slice(2).map((l) => l.text),
        texts,
        'in the order sent',
      );
      await waitFor(() => desk.client.lastSeq(sid) >= 32, 10_000, 'the agent to get the whole burst');
      assert.deepEqual(timeline(desk.messages, sid), history, 'the agent shows exactly the stored history');
    } finally {
      injected.undo();
    }
  }

  it('a store that fails in the middle of a burst loses and reorders nothing: the refused sends come back in order', async () => {
    // The database fails one message insert, as a dropped connection would, while the burst is on its way.
    await burstSurvives(1, (sid) => {
      const insertMany = Collection.prototype.insertMany;
      let failures = 0;
      Collection.prototype.insertMany = function (this: Collection, ...args: Parameters<Collection['insertMany']>) {
        if (this.collectionName === 'messages' && failures === 0 && args[0].length > 0 && (args[0][0] as { sessionId?: string }).sessionId === sid) {
          failures += 1;
          return Promise.reject(new MongoNetworkError('connection reset'));
        }
        return insertMany.apply(this, args);
      } as Collection['insertMany'];
      return { failures: () => failures, undo: () => (Collection.prototype.insertMany = insertMany) };
    });
  });

  it('a push that fails unexpectedly in the middle of a burst (Redis dropping a connection) loses and reorders nothing', async () => {
    // Three of the burst's messages are stored, then their push fails, as on a dropped connection, with
    // an error that is no refusal of the service's own: their sends fail, the SDK sends them again.
    await burstSurvives(3, (sid) => {
      const broker = service.app.broker;
      const toAccounts = broker.toAccounts;
      let pushes = 0;
      let failures = 0;
      broker.toAccounts = async (ids, push) => {
        if (push.kind === 'message' && push.message.sessionId === sid && ++pushes > 10 && failures < 3) {
          failures += 1;
          throw new Error('Connection is closed.');
        }
        return toAccounts(ids, push);
      };
      return { failures: () => failures, undo: () => (broker.toAccounts = toAccounts) };
    });
  });

  it('a send repeated with the same cid, over WebSocket or REST, returns the original id and seq, stores nothing new and is pushed once', async () => {
    const { agent, visitor, sid } = await activeSession(service, site);
    const vPeer = await authedPeer(service.wsUrl, visitor.token);
    const vPeer2 = await authedPeer(service.wsUrl, visitor.token);
    const aPeer = await authedPeer(service.wsUrl, agent.token);
    peers.push(vPeer, vPeer2, aPeer);
    for (const p of [vPeer, vPeer2, aPeer]) ackEverything(p);
    const sendFrame = { t: 'send', sid, cid: 'resend-1', body: { text: 'is my order shipped?' } };

    vPeer.send(sendFrame);
    const first = await vPeer.next((f) => f.t === 'sent' && f.cid === 'resend-1');
    // the answer got lost, the client tries again on the same and on another connection
    vPeer.send(sendFrame);
    vPeer.send(sendFrame);
    vPeer2.send(sendFrame);
    const again = [
      await vPeer.next((f) => f.t === 'sent' && f.cid === 'resend-1'),
      await vPeer.next((f) => f.t === 'sent' && f.cid === 'resend-1'),
      await vPeer2.next((f) => f.t === 'sent' && f.cid === 'resend-1'),
    ];
    for (const a of again) assert.deepEqual({ id: a.id, seq: a.seq }, { id: first.id, seq: first.seq });

    const viaRest = await api(service, visitor.token).post(`/sessions/${sid}/messages`, { cid: 'resend-1', text: 'is my order shipped?' });
    assert.equal(viaRest.status, 201);
    assert.deepEqual({ id: viaRest.body.message.id, seq: viaRest.body.message.seq }, { id: first.id, seq: first.seq });

    // REST first, then the same cid over WebSocket
    const restFirst = await api(service, visitor.token).post(`/sessions/${sid}/messages`, { cid: 'resend-2', text: 'hello?' });
    assert.equal(restFirst.status, 201);
    const restAgain = await api(service, visitor.token).post(`/sessions/${sid}/messages`, { cid: 'resend-2', text: 'hello?' });
    assert.deepEqual(restAgain.body.message, restFirst.body.message);
    vPeer.send({ t: 'send', sid, cid: 'resend-2', body: { text: 'hello?' } });
    const wsAfterRest = await vPeer.next((f) => f.t === 'sent' && f.cid === 'resend-2');
    assert.deepEqual({ id: wsAfterRest.id, seq: wsAfterRest.seq }, { id: restFirst.body.message.id, seq: restFirst.body.message.seq });

    // A marker sent last: pushes come in seq order, so whatever the resends pushed has arrived before it.
    vPeer.send({ t: 'send', sid, cid: 'marker', body: { text: 'thanks' } });
    await aPeer.next((f) => f.t === 'msg' && f.cid === 'marker');
    await vPeer2.next((f) => f.t === 'msg' && f.cid === 'marker');
    for (const [name, p] of Object.entries({ agent: aPeer, 'other visitor device': vPeer2 })) {
      const cids = p.frames.filter((f) => f.t === 'msg' && f.sid === sid).map((f) => f.cid);
      assert.deepEqual(cids, ['resend-1', 'resend-2', 'marker'], `${name} was pushed each message once`);
    }

    const history = await restHistory(service, agent.token, sid);
    assert.deepEqual(
      history.map((m) => m.cid).filter((c) => !c.startsWith('sys-')),
      ['resend-1', 'resend-2', 'marker'],
    );
    assert.deepEqual(history.map((m) => m.seq), range1(5));
  });

  describe('sync', () => {
    it('pages through history with after, limit and more, and the pages add up to the stored history', async () => {
      const visitor = await visitorWithSession(service, site);
      const sid = visitor.sessionId;
      for (let i = 1; i <= 24; i++) {
        const r = await api(service, visitor.token).post(`/sessions/${sid}/messages`, { cid: `p${i}`, text: `line ${i}` });
        assert.equal(r.status, 201);
      }
      const n = 25; // started + 24
      const peer = await authedPeer(service.wsUrl, visitor.token);
      peers.push(peer);
      const sync = async (after: number, limit?: number) => {
        peer.send({ t: 'sync', sid, after, ...(limit ? { limit } : {}) });
        const batch = await peer.next((f) => f.t === 'batch' || f.t === 'error');
        assert.equal(batch.t, 'batch', JSON.stringify(batch));
        assert.equal(batch.sid, sid);
        return { seqs: batch.messages.map((m: { seq: number }) => m.seq) as number[], more: batch.more as boolean, messages: batch.messages };
      };

      const pages = [];
      let cursor = 0;
      for (;;) {
        const page = await sync(cursor, 10);
        pages.push(page);
        if (!page.more) break;
        cursor = page.seqs.at(-1)!;
      }
      assert.deepEqual(
        pages.map((p) => ({ seqs: p.seqs, more: p.more })),
        [
          { seqs: range1(10), more: true },
          { seqs: range1(20).slice(10), more: true },
          { seqs: range1(25).slice(20), more: false },
        ],
      );
      assert.deepEqual(pages.flatMap((p) => p.messages), await restHistory(service, visitor.token, sid));

      const page = async (after: number, limit?: number) => sync(after, limit).then((p) => ({ seqs: p.seqs, more: p.more }));
      assert.deepEqual(await page(15, 10), { seqs: range1(25).slice(15), more: false }, 'a page that ends at the last message has no more');
      assert.deepEqual(await page(14, 10), { seqs: range1(24).slice(14), more: true }, 'one message short of the end');
      assert.deepEqual(await page(n, 10), { seqs: [], more: false }, 'after the last message');
      assert.deepEqual(await page(0), { seqs: range1(n), more: false }, 'without a limit');
    });

    it('still says more when the largest allowed page is full and more messages follow', async () => {
      const visitor = await visitorWithSession(service, site);
      const sid = visitor.sessionId;
      for (let i = 0; i < 200; i += 20) {
        const posted = await Promise.all(
          range1(20).map((j) => api(service, visitor.token).post(`/sessions/${sid}/messages`, { cid: `big${i + j}`, text: `line ${i + j}` })),
        );
        assert.deepEqual(posted.map((r) => r.status), posted.map(() => 201));
      }
      const peer = await authedPeer(service.wsUrl, visitor.token);
      peers.push(peer);
      peer.send({ t: 'sync', sid, after: 0, limit: 200 });
      const first = await peer.next((f) => f.t === 'batch' || f.t === 'error');
      assert.equal(first.t, 'batch', JSON.stringify(first));
      assert.deepEqual(first.messages.map((m: { seq: number }) => m.seq), range1(200));
      assert.equal(first.more, true, 'seq 201 is stored, so the page of 200 has more');
      peer.send({ t: 'sync', sid, after: 200, limit: 200 });
      const second = await peer.next((f) => f.t === 'batch');
      assert.deepEqual({ seqs: second.messages.map((m: { seq: number }) => m.seq), more: second.more }, { seqs: [201], more: false });
    });

    it('of a session the caller may not see is an error frame not_found, and the connection stays usable', async () => {
      const mine = await visitorWithSession(service, site);
      const theirs = await visitorWithSession(service, site);
      const otherSite = await createSite(service, 'Other site');
      const outsider = await createAgent(service, otherSite);
      const stranger = await createVisitor(service, site);
      const peer = await authedPeer(service.wsUrl, mine.token);
      const outsiderPeer = await authedPeer(service.wsUrl, outsider.token);
      const strangerPeer = await authedPeer(service.wsUrl, stranger.token);
      peers.push(peer, outsiderPeer, strangerPeer);

      const cases: Array<[RawPeer, string, string]> = [
        [peer, theirs.sessionId, "another visitor's session"],
        [peer, '000000000000000000000000', 'a session that does not exist'],
        [outsiderPeer, mine.sessionId, "an agent of another site, a session of this site"],
        [strangerPeer, mine.sessionId, 'a visitor without any session'],
      ];
      for (const [p, sid, what] of cases) {
        p.send({ t: 'sync', sid, after: 0 });
        const answer = await p.next((f) => f.t === 'batch' || f.t === 'error');
        assert.equal(answer.t, 'error', `${what}: ${JSON.stringify(answer)}`);
        assert.equal(answer.code, 'not_found', what);
        assert.equal(answer.sid, sid, what);
        assert.equal(answer.ref, 'sync', what);
      }

      peer.send({ t: 'sync', sid: mine.sessionId, after: 0 });
      const own = await peer.next((f) => f.t === 'batch' || f.t === 'error');
      assert.equal(own.t, 'batch');
      assert.deepEqual(own.messages.map((m: { body: { event?: string } }) => m.body.event), ['started']);
    });
  });
});

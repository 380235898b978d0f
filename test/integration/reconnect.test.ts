/**
 * Lost connections and lost pushes: the SDK reconnects, resends and syncs;
 * the server retransmits what a connection has not acked (shared/DESIGN.md,
 * "No loss, step 1" and "step 2").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SentFrame } from '../../src/client/index.js';
import { activeSession, api, createSite, type SiteFixture } from '../helpers/api.js';
import { authedPeer, type RawPeer } from '../helpers/raw-ws.js';
import { connectedPair, restHistory, type SdkClient, timeline } from '../helpers/sdk.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor, within } from '../helpers/wait-for.js';

describe('a client whose connection drops', () => {
  let service: Service;
  let site: SiteFixture;
  const clients: SdkClient[] = [];

  before(async () => {
    service = await startService();
    site = await createSite(service);
  });
  after(async () => {
    for (const c of clients) c.client.close();
    await service.close();
  });

  it('mid-burst gets every message once and in order after it reconnects, and its unanswered sends are stored once', async () => {
    const { agent, visitor, sid, v, a } = await connectedPair(service, site, clients);

    const sends: Array<{ cid: string; text: string; from: string; sent: Promise<SentFrame> }> = [];
    const fire = (c: SdkClient, from: string, prefix: string, count: number) => {
      for (let i = 1; i <= count; i++) {
        const cid = `${prefix}-${i}`;
        sends.push({ cid, text: `${prefix} ${i}`, from, sent: c.client.send(sid, `${prefix} ${i}`, { cid }) });
      }
    };
    const cidsOf = (prefix: string, count: number) => Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);

    fire(a, agent.id, 'agent-a', 15);
    fire(v, visitor.id, 'visitor-a', 10);
    // Mid-burst the visitor's network goes silent: what it sends still arrives, answers and pushes are lost.
    await waitFor(() => v.messages.some((m) => m.cid === 'agent-a-5'), 10_000, 'the visitor to see some of the agent burst');
    v.socket().mute();
    fire(v, visitor.id, 'visitor-b', 10);
    fire(a, agent.id, 'agent-b', 10);
    await waitFor(
      () => [...cidsOf('visitor-b', 10), ...cidsOf('agent-b', 10)].every((cid) => a.messages.some((m) => m.cid === cid)),
      10_000,
      'the agent to see everything sent while the visitor was cut off',
    );
    const unanswered = v.client.pendingSends.map((p) => p.cid);
    assert.deepEqual(
      cidsOf('visitor-b', 10).filter((cid) => !unanswered.includes(cid)),
      [],
      'stored, but the visitor never heard so: all of them wait for `sent`',
    );

    // The connection dies without a close frame; the agent keeps talking meanwhile.
    v.socket().kill();
    fire(a, agent.id, 'agent-c', 10);

    const answers = await within(Promise.all(sends.map((s) => s.sent)), 15_000, 'every send to be answered');
    assert.equal(new Set(answers.map((x) => x.seq)).size, sends.length, 'every send has a seq of its own');
    assert.deepEqual(v.client.pendingSends, []);
    assert.ok(v.closeCodes.includes(1006), `the visitor lost its connection: ${JSON.stringify(v.closeCodes)}`);
    assert.ok(v.readies.length >= 2, 'the visitor reconnected by itself');

    const history = timeline(await restHistory(service, agent.token, sid), sid);
    const n = 2 + sends.length;
    assert.deepEqual(history.map((l) => l.seq), Array.from({ length: n }, (_, i) => i + 1));
    for (const [i, s] of sends.entries()) {
      const stored = history.filter((l) => l.cid === s.cid);
      assert.equal(stored.length, 1, `${s.cid} is stored once`);
      assert.deepEqual(stored[0], { seq: answers[i]!.seq, id: answers[i]!.id, cid: s.cid, from: s.from, text: s.text });
    }

    await waitFor(() => v.client.lastSeq(sid) >= n && a.client.lastSeq(sid) >= n, 10_000, 'both sides to show the whole conversation');
    assert.deepEqual(timeline(v.messages, sid), history, 'the visitor shows each message once, in order');
    assert.deepEqual(timeline(a.messages, sid), history, 'the agent shows each message once, in order');
  });
});

describe('pushes that are not acknowledged', () => {
  let service: Service;
  let site: SiteFixture;
  const peers: RawPeer[] = [];

  before(async () => {
    service = await startService({ ackTimeoutMs: 200 });
    site = await createSite(service);
  });
  after(async () => {
    for (const p of peers) p.close();
    await service.close();
  });

  it('are pushed again, identical, until the device acks; a device that acked is not pushed them again', async () => {
    const { agent, visitor, sid } = await activeSession(service, site);
    const desk = await authedPeer(service.wsUrl, agent.token);
    // another device of the agent that never acks: it shows when resends would have happened
    const control = await authedPeer(service.wsUrl, agent.token);
    peers.push(desk, control);
    const copies = (p: RawPeer, cid: string) => p.frames.filter((f) => f.t === 'msg' && f.cid === cid);

    for (const cid of ['q1', 'q2']) {
      const r = await api(service, visitor.token).post(`/sessions/${sid}/messages`, { cid, text: `question ${cid}` });
      assert.equal(r.status, 201);
    }
    // Each push arrives, then again after the ack timeout: the same frame (seq, id, everything).
    for (const cid of ['q1', 'q2']) {
      const first = await desk.next((f) => f.t === 'msg' && f.cid === cid);
      const again = await desk.next((f) => f.t === 'msg' && f.cid === cid);
      assert.deepEqual(again, first);
    }
    assert.deepEqual(
      desk.frames.filter((f) => f.t === 'msg').map((f) => f.seq).slice(0, 2),
      [3, 4],
      'pushed in seq order',
    );

    // A cumulative ack for both; the pong proves the server has taken it.
    desk.send({ t: 'ack', sid, seq: 4 });
    desk.send({ t: 'ping' });
    await desk.next((f) => f.t === 'pong');
    const counted = { q1: copies(desk, 'q1').length, q2: copies(desk, 'q2').length };

    // The control device got the same pushes at the same times. Two more resends to it means the
    // desk's next resend would have been due (and sent) long ago, had the ack not stopped it.
    const controlCopies = copies(control, 'q2').length;
    await waitFor(() => copies(control, 'q2').length >= controlCopies + 2, 10_000, 'two more resends to the control device');
    desk.send({ t: 'ping' });
    await desk.next((f) => f.t === 'pong');
    assert.deepEqual({ q1: copies(desk, 'q1').length, q2: copies(desk, 'q2').length }, counted, 'no resend after the ack');
    for (const cid of ['q1', 'q2']) {
      const all = [...copies(desk, cid), ...copies(control, cid)];
      assert.equal(new Set(all.map((f) => JSON.stringify(f))).size, 1, `every copy of ${cid} is the same push`);
    }
  });
});

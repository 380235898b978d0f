/**
 * A deploy or crash-restart in the middle of a conversation: the instance
 * drains (1012), comes back on the same port and data, and the SDK
 * reconnects, resends and syncs (shared/DESIGN.md, "No loss, step 2").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SentFrame } from '../../src/client/index.js';
import { CLOSE } from '../../src/protocol/codes.js';
import { activeSession, createSite, type SiteFixture } from '../helpers/api.js';
import { connectedPair, range1, restHistory, type SdkClient, sdkClient, timeline } from '../helpers/sdk.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor, within } from '../helpers/wait-for.js';

describe('a restart of the service', () => {
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

  it('in the middle of a burst loses, repeats and reorders nothing: each side and the history show every sent message once, in order', async () => {
    const { agent, visitor, sid, v, a } = await connectedPair(service, site, clients);

    const sends: Array<{ cid: string; text: string; from: string; sent: Promise<SentFrame> }> = [];
    const fire = (c: SdkClient, from: string, cid: string) => {
      const sent = c.client.send(sid, `text of ${cid}`, { cid });
      sends.push({ cid, text: `text of ${cid}`, from, sent });
      return sent;
    };
    // Each side keeps a window of sends on the wire, as a busy chat does, until told to stop:
    // whenever the instance goes away, some are stored but unanswered, some not yet stored.
    let stopped = false;
    const answered = { before: 0, after: 0 };
    let restarted = false;
    const chatter = (c: SdkClient, from: string, prefix: string) => {
      let n = 0;
      const next = (): Promise<unknown> => {
        if (stopped) return Promise.resolve();
        n += 1;
        return fire(c, from, `${prefix}-${n}`).then(() => {
          answered[restarted ? 'after' : 'before'] += 1;
          return next();
        });
      };
      return Promise.all(Array.from({ length: 5 }, next));
    };
    // Sends made while the client is cut off wait in its outbox for the new instance.
    const pendingAtCutOff: number[] = [];
    const whenCutOff = (c: SdkClient, from: string, prefix: string) => {
      const off = c.client.on('state', (s) => {
        if (s.newState !== 'disconnected') return;
        off();
        pendingAtCutOff.push(c.client.pendingSends.length);
        for (let i = 1; i <= 5; i++) void fire(c, from, `${prefix}-${i}`);
      });
    };
    whenCutOff(v, visitor.id, 'visitor-offline');
    whenCutOff(a, agent.id, 'agent-offline');

    const talking = Promise.all([chatter(v, visitor.id, 'visitor'), chatter(a, agent.id, 'agent')]);
    await waitFor(() => answered.before >= 20, 10_000, 'the burst to be under way');
    await service.restart();
    restarted = true;
    await waitFor(() => answered.after >= 20, 10_000, 'the conversation to go on after the restart');
    stopped = true;
    await within(talking, 15_000, 'both sides to stop talking');

    const answers = await within(Promise.all(sends.map((s) => s.sent)), 15_000, 'every send to be answered');
    assert.deepEqual(pendingAtCutOff, [5, 5], 'each side had sends on the wire when the instance went away');
    for (const c of [v, a]) {
      assert.ok(c.closeCodes.includes(CLOSE.GOING_AWAY), `told to reconnect: ${JSON.stringify(c.closeCodes)}`);
      assert.ok(c.readies.length >= 2, 'reconnected by itself');
      assert.deepEqual(c.client.pendingSends, []);
    }
    assert.equal(new Set(answers.map((x) => x.seq)).size, sends.length, 'every send has a seq of its own');

    const history = timeline(await restHistory(service, agent.token, sid), sid);
    const n = 2 + sends.length;
    assert.deepEqual(history.map((l) => l.seq), range1(n));
    for (const [i, s] of sends.entries()) {
      const stored = history.filter((l) => l.cid === s.cid);
      assert.equal(stored.length, 1, `${s.cid} is stored once`);
      assert.deepEqual(stored[0], { seq: answers[i]!.seq, id: answers[i]!.id, cid: s.cid, from: s.from, text: s.text });
    }
    // Each side's own messages keep the order it typed them in.
    for (const [side, id] of Object.entries({ visitor: visitor.id, agent: agent.id })) {
      const typed = sends.filter((s) => s.from === id).map((s) => s.cid);
      const shown = history.filter((l) => l.from === id).map((l) => l.cid);
      assert.deepEqual(shown, typed, `${side}'s messages in the order typed`);
    }

    await waitFor(() => v.client.lastSeq(sid) >= n && a.client.lastSeq(sid) >= n, 10_000, 'both sides to show the whole conversation');
    assert.deepEqual(timeline(v.messages, sid), history, 'the visitor shows each message once, in order');
    assert.deepEqual(timeline(a.messages, sid), history, 'the agent shows each message once, in order');
  });

  it('after a crash between storing a message and telling anyone, the resend of it reaches both sides', async () => {
    const { agent, visitor, sid } = await activeSession(service, site);
    const v = sdkClient(service, visitor.token);
    const a = sdkClient(service, agent.token);
    clients.push(v, a);
    assert.equal((await within(v.client.send(sid, 'hello', { cid: 'before-crash' }), 10_000, 'sent')).seq, 3);
    await waitFor(() => v.client.lastSeq(sid) === 3 && a.client.lastSeq(sid) === 3, 10_000, 'both sides to show seq 3');

    // The crash: the insert claimed seq 4, then the process died before it updated the session or
    // pushed the message, so nobody heard of it, not even the sender (no `sent`).
    const { stores } = service.app.mongo;
    const from = { id: visitor.id, kind: 'visitor' as const, name: v.client.account!.name };
    const draft = { sessionId: sid, siteId: site.siteId, cid: 'cut-off', from, type: 'chat' as const, body: { text: 'are you still there?' }, status: 'ok' as const };
    const orphan = await stores.messages.append({ ...draft, createdAt: new Date() }, 3);
    assert.equal(orphan.message.seq, 4);
    await service.restart();
    await waitFor(() => v.readies.length === 2 && a.readies.length === 2, 10_000, 'both sides to reconnect');

    // The visitor's client sends it again with the same cid, as its outbox would.
    const again = await within(v.client.send(sid, 'are you still there?', { cid: 'cut-off' }), 10_000, 'the resend to be answered');
    assert.deepEqual({ id: again.id, seq: again.seq }, { id: orphan.message.id, seq: 4 });
    const history = timeline(await restHistory(service, agent.token, sid), sid);
    assert.deepEqual(history.map((l) => l.cid).slice(2), ['before-crash', 'cut-off']);
    await waitFor(() => a.client.lastSeq(sid) >= 4 && v.client.lastSeq(sid) >= 4, 5_000, 'both sides to show the message sent again');
    assert.deepEqual(timeline(a.messages, sid), history);
    assert.deepEqual(timeline(v.messages, sid), history);
  });
});

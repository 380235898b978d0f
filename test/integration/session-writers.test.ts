/**
 * One writer per session (src/broker/session-writers.ts, domain/chat.ts's
 * `append`), on the real Redis and with two instances of the service: the
 * instance that writes a session first writes everything of it, the other
 * hands its sends over; a writer that leaves (a drain) or is gone is taken
 * over at once, and nothing is lost, repeated or reordered on the way.
 * (A writer killed outright, with drafts on their way to it: the scale-out
 * test's SIGKILL, test/integration/scale-out.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { brokerKeys } from '../../src/broker/keys.js';
import { createRedisSessionWriters, WRITER_LEASE_MS } from '../../src/broker/session-writers.js';
import type { Message } from '../../src/domain/model.js';
import { WriterGone } from '../../src/domain/ports.js';
import { AppError } from '../../src/errors.js';
import { api, createAgent, createSite, visitorWithSession } from '../helpers/api.js';
import { testUrls, uniqueName } from '../helpers/infra.js';
import { range1, restHistory, sdkClient, type SdkClient, timeline } from '../helpers/sdk.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor } from '../helpers/wait-for.js';

const quietLog = { warn: () => undefined };

describe('session writers, on Redis', () => {
  const keys = brokerKeys(uniqueName('writers'));
  let redis: Redis;
  /** subscriber connections, by instance: each hears its own channel, as the broker's does */
  const subs: Redis[] = [];

  before(async () => {
    redis = new Redis(testUrls().redisUrl, { maxRetriesPerRequest: null });
    await redis.ping();
  });
  after(async () => {
    for (const s of subs) s.disconnect();
    await redis.quit();
  });

  async function instance(id: string) {
    const sub = redis.duplicate();
    subs.push(sub);
    const writers = createRedisSessionWriters({ redis, keys, instanceId: id, unsubscribe: (channel) => sub.unsubscribe(channel), log: quietLog });
    sub.on('message', (channel: string, text: string) => channel === writers.channel && writers.heard(text));
    await sub.subscribe(writers.channel);
    return writers;
  }

  const draft = (cid: string) => ({ cid, from: { id: 'v1', kind: 'visitor' as const, name: 'V' }, type: 'chat' as const, body: { text: cid }, status: 'ok' as const });
  const stored = (seq: number, cid: string): Message => ({ ...draft(cid), id: `s1:${seq}`, seq, sessionId: 's1', siteId: 'site', createdAt: new Date(1_700_000_000_000 + seq) });

  it('the first to ask writes the session; the others are told who does, and a gone writer is taken over', async () => {
    const [a, b] = [await instance('a'), await instance('b')];
    assert.equal(await a.writerOf('s1'), 'a');
    assert.equal(await b.writerOf('s1'), 'a', 'b is told a writes it');
    assert.equal(await a.writerOf('s1'), 'a', 'asking again renews, and changes nothing');
    assert.equal(await b.writerOf('s1', 'c'), 'a', 'naming another instance gone takes nothing from a');
    assert.equal(await b.writerOf('s1', 'a'), 'b', 'naming a gone hands the session to b');
    const lease = await redis.pttl(keys.sessionWriter('s1'));
    assert.ok(lease > 0 && lease <= WRITER_LEASE_MS, `the writer holds a lease (${lease} ms left)`);
  });

  it('a draft handed to its writer comes back stored, or with the writer’s refusal; a writer nobody hears is gone', async () => {
    const [a, b] = [await instance('fa'), await instance('fb')];
    let seq = 0;
    a.serve(async ({ session, draft: d, to }) => {
      assert.equal(session.id, 's1');
      assert.deepEqual(to, ['v1', 'agent1']);
      if (d.cid === 'refused') throw new AppError('rate_limited', 'too many messages, slow down', 1500);
      return { message: stored(++seq, d.cid), created: true };
    });
    const request = (cid: string) => ({ session: { id: 's1', siteId: 'site', lastSeq: 0 }, draft: draft(cid), to: ['v1', 'agent1'] });

    const first = await b.forward('fa', request('c1'));
    assert.equal(first.created, true);
    assert.equal(first.message.seq, 1);
    assert.ok(first.message.createdAt instanceof Date, 'the answer’s date is a Date again');
    const [x, y] = await Promise.all([b.forward('fa', request('c2')), b.forward('fa', request('c3'))]);
    assert.deepEqual([x.message.cid, x.message.seq, y.message.cid, y.message.seq], ['c2', 2, 'c3', 3], 'drafts are stored in the order they were handed over');

    await assert.rejects(b.forward('fa', request('refused')), (err: unknown) => err instanceof AppError && err.code === 'rate_limited' && err.retryAfterMs === 1500);
    await assert.rejects(b.forward('nobody', request('c4')), (err: unknown) => err instanceof WriterGone && err.instanceId === 'nobody');

    await a.leave();
    await assert.rejects(b.forward('fa', request('c5')), WriterGone, 'a writer that left is gone at once');
    await assert.rejects(a.writerOf('s2'), (err: unknown) => err instanceof AppError && err.code === 'unavailable', 'one that left writes nothing new');
  });
});

describe('two instances writing one session', () => {
  let a: Service;
  let b: Service;
  const clients: SdkClient[] = [];

  before(async () => {
    a = await startService({});
    b = await startService({ mongodbDb: a.config.mongodbDb, redisPrefix: a.config.redisPrefix, tokenSecret: a.config.tokenSecret }, { shared: true });
  });
  after(async () => {
    for (const c of clients) c.client.close();
    await b.close();
    await a.close();
  });

  /**
   * A session whose visitor is connected to `a` and whose agent, on `b`,
   * accepted it there; and a Redis connection to look at its writer key.
   */
  async function splitSession() {
    const site = await createSite(a);
    const agent = await createAgent(a, site, { maxSessions: 5 });
    const visitor = await visitorWithSession(a, site);
    const { sessionId } = visitor;
    const redis = new Redis(testUrls().redisUrl, { maxRetriesPerRequest: null });
    const writerKey = brokerKeys(a.config.redisPrefix).sessionWriter(sessionId);
    const v = sdkClient(a, visitor.token);
    const g = sdkClient(b, agent.token);
    clients.push(v, g);
    await waitFor(() => v.readies.length === 1 && g.readies.length === 1, 10_000, 'both clients to be ready');
    assert.equal((await api(b, agent.token).post(`/sessions/${sessionId}/accept`)).status, 200, 'accepted on the agent’s instance');
    return { sessionId, visitor, agent, v, g, redis, writerKey };
  }

  it('the visitor’s instance writes the session; the agent’s hands its sends over; both sides see every message once, in order', async () => {
    const { sessionId, visitor, v, g, redis, writerKey } = await splitSession();
    try {
      const writer = await redis.get(writerKey);
      assert.ok(writer, 'the session has a writer');

      const sends: Array<Promise<unknown>> = [];
      for (let i = 0; i < 20; i++) {
        sends.push(v.client.send(sessionId, `v${i}`));
        sends.push(g.client.send(sessionId, `g${i}`));
      }
      await Promise.all(sends);
      assert.equal(await redis.get(writerKey), writer, 'one writer all along');

      const history = await restHistory(a, visitor.token, sessionId);
      const last = history.at(-1)!.seq;
      assert.deepEqual(history.map((m) => m.seq), range1(last), 'stored without a gap');
      const texts = history.filter((m) => m.type === 'chat').map((m) => (m.body as { text: string }).text);
      assert.deepEqual(texts.filter((t) => t.startsWith('v')), range1(20).map((i) => `v${i - 1}`), 'the visitor’s messages once each, in the order sent');
      assert.deepEqual(texts.filter((t) => t.startsWith('g')), range1(20).map((i) => `g${i - 1}`), 'the agent’s too');
      const seqs = (c: SdkClient) => timeline(c.messages, sessionId).map((m) => m.seq);
      for (const c of [v, g]) await waitFor(() => seqs(c).at(-1) === last, 10_000, `every message to reach ${c === v ? 'the visitor' : 'the agent'}`);
      // the agent joined at the acceptance: it sees from there on (it syncs what came before)
      for (const c of [v, g]) assert.deepEqual(seqs(c), range1(last).slice(seqs(c)[0]! - 1), 'pushed once each, in seq order');
    } finally {
      await redis.quit();
    }
  });

  it('while the writer’s instance restarts, the other one takes the session over: the agent’s messages go through, and the visitor gets them all, once, in order', async () => {
    const { sessionId, agent, v, g, redis, writerKey } = await splitSession();
    try {
      await v.client.send(sessionId, 'before');
      assert.equal(await redis.get(writerKey), a.app.broker.writers?.self, 'the visitor’s instance writes the session');

      await a.stop();
      const during = await Promise.all(['one', 'two', 'three'].map((text) => g.client.send(sessionId, text)));
      assert.deepEqual(
        during.map((f) => f.seq),
        [during[0]!.seq, during[0]!.seq + 1, during[0]!.seq + 2],
        'stored one after another while the writer was away',
      );
      assert.equal(await redis.get(writerKey), b.app.broker.writers?.self, 'the agent’s instance took the session over');

      await a.start();
      const history = await restHistory(b, agent.token, sessionId);
      const last = history.at(-1)!.seq;
      assert.deepEqual(history.map((m) => m.seq), range1(last), 'stored without a gap');
      assert.deepEqual(
        history.filter((m) => m.type === 'chat').map((m) => (m.body as { text: string }).text),
        ['before', 'one', 'two', 'three'],
      );
      await waitFor(() => v.client.lastSeq(sessionId) >= last, 15_000, 'the visitor to reconnect and catch up');
      const texts = timeline(v.messages, sessionId).map((m) => m.text);
      assert.deepEqual(texts.filter((t) => ['before', 'one', 'two', 'three'].includes(String(t))), ['before', 'one', 'two', 'three'], 'the visitor sees each once, in order');
    } finally {
      await redis.quit();
    }
  });
});

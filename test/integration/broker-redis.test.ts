import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Broker, PushHandler } from '../../src/broker/broker.js';
import { brokerKeys } from '../../src/broker/keys.js';
import { createRedisBroker } from '../../src/broker/redis.js';
import type { Message, Session } from '../../src/domain/model.js';
import type { Push } from '../../src/domain/ports.js';
import { testUrls, uniqueName } from '../helpers/infra.js';
import { waitFor } from '../helpers/wait-for.js';

const prefix = uniqueName('imb');
const keys = brokerKeys(prefix);
const connections: Redis[] = [];
const brokers: Broker[] = [];
const logged: Array<{ level: string; msg: string }> = [];
let admin: Redis;

async function connection(): Promise<Redis> {
  const redis = new Redis(testUrls().redisUrl, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  connections.push(redis);
  return redis;
}

/** A broker as one instance runs it, with its own command connection. */
async function instance(name: string, presenceTtlMs = 30_000, redis?: Redis): Promise<Broker> {
  const broker = await createRedisBroker({
    redis: redis ?? (await connection()),
    prefix,
    instanceId: `${name}-${process.pid}`,
    presenceTtlMs,
    log: {
      warn: (_obj, msg) => logged.push({ level: 'warn', msg }),
      error: (_obj, msg) => logged.push({ level: 'error', msg }),
    },
  });
  brokers.push(broker);
  return broker;
}

/** A handler that keeps what it is given. */
function inbox() {
  const pushes: Push[] = [];
  const handler: PushHandler = (push) => pushes.push(push);
  return {
    pushes,
    handler,
    async count(n: number, what = `${n} pushes`) {
      await waitFor(() => pushes.length >= n, 5000, what);
      return pushes;
    },
  };
}

async function subscribers(channel: string): Promise<number> {
  const reply = (await admin.pubsub('NUMSUB', channel)) as [string, number];
  return Number(reply[1]);
}

function messagePush(sessionId: string, seq: number): Push {
  const message: Message = {
    id: `m${seq}`,
    sessionId,
    siteId: 'site-1',
    seq,
    cid: `c${seq}`,
    from: { id: 'visitor-1', kind: 'visitor', name: 'Vi' },
    type: 'chat',
    body: { text: `hello ${seq}` },
    status: 'ok',
    createdAt: new Date(Date.UTC(2024, 0, 1, 0, 0, seq)),
  };
  return { kind: 'message', message };
}

const agent = (id: string, siteId = 'site-1') => ({ id, siteId, kind: 'agent' });
const visitor = (id: string, siteId = 'site-1') => ({ id, siteId, kind: 'visitor' });

before(async () => {
  admin = await connection();
});

after(async () => {
  for (const b of brokers) await b.close();
  const left = await admin.keys(`${prefix}:*`);
  if (left.length > 0) await admin.del(...left);
  for (const c of connections) c.disconnect();
});

describe('redis broker: fan-out between instances', () => {
  it("a push published on one instance reaches the account's handler on another, exactly as sent", async () => {
    const [a, b] = [await instance('fan-a'), await instance('fan-b')];
    const box = inbox();
    await a.subscribeAccount('acct-1', box.handler);
    const sessionPush: Push = {
      kind: 'event',
      sid: 's1',
      name: 'session',
      data: {
        state: 'active',
        assigneeId: 'agent-1',
        session: {
          id: 's1',
          siteId: 'site-1',
          state: 'active',
          visitorId: 'visitor-1',
          assigneeId: 'agent-1',
          lastSeq: 3,
          createdAt: new Date('2024-01-01T00:00:00Z'),
          acceptedAt: new Date('2024-01-01T00:01:00Z'),
          lastActivityAt: new Date('2024-01-01T00:02:00Z'),
        } satisfies Session,
      },
    };
    await b.toAccounts(['acct-1'], messagePush('s1', 1));
    await b.toAccounts(['acct-2'], messagePush('s1', 99));
    await b.toAccounts(['acct-1'], sessionPush);
    const got = await box.count(2);
    assert.deepStrictEqual(got, [messagePush('s1', 1), sessionPush]);
  });

  it("a site's agents channel reaches that site's subscribers only", async () => {
    const [a, b] = [await instance('site-a'), await instance('site-b')];
    const [one, other] = [inbox(), inbox()];
    await a.subscribeSiteAgents('site-1', one.handler);
    await a.subscribeSiteAgents('site-2', other.handler);
    const push: Push = { kind: 'event', sid: 's1', name: 'typing', data: { from: { id: 'v', kind: 'visitor', name: 'V' } } };
    await b.toSiteAgents('site-1', push);
    await b.toSiteAgents('site-1', messagePush('s1', 2));
    assert.deepStrictEqual(await one.count(2), [push, messagePush('s1', 2)]);
    assert.equal(other.pushes.length, 0);
  });

  it('an instance subscribes a channel once for all its handlers, and leaves it with the last one', async () => {
    const [a, b] = [await instance('ref-a'), await instance('ref-b')];
    const channel = keys.account('acct-ref');
    const [first, second] = [inbox(), inbox()];
    // subscribing at once: both are active when they resolve
    const [unsubFirst, unsubSecond] = await Promise.all([a.subscribeAccount('acct-ref', first.handler), a.subscribeAccount('acct-ref', second.handler)]);
    assert.equal(await subscribers(channel), 1);
    await b.toAccounts(['acct-ref'], messagePush('s', 1));
    await first.count(1);
    await second.count(1);

    await unsubFirst();
    await unsubFirst(); // twice is harmless
    assert.equal(await subscribers(channel), 1);
    await b.toAccounts(['acct-ref'], messagePush('s', 2));
    await second.count(2);
    assert.equal(first.pushes.length, 1, 'an unsubscribed handler hears nothing more');

    await unsubSecond();
    assert.equal(await subscribers(channel), 0);

    // and back: a new handler after the last one left is subscribed again
    const third = inbox();
    const unsubThird = await a.subscribeAccount('acct-ref', third.handler);
    assert.equal(await subscribers(channel), 1);
    await b.toAccounts(['acct-ref'], messagePush('s', 3));
    assert.deepStrictEqual(await third.count(1), [messagePush('s', 3)]);
    await unsubThird();
  });

  it('one publish to many accounts reaches each of them once, and in the order published', async () => {
    const [a, c, b] = [await instance('many-a'), await instance('many-c'), await instance('many-b')];
    const ids = Array.from({ length: 400 }, (_, i) => `acct-many-${i}`);
    const boxes = ids.map(() => inbox());
    // half the accounts on one instance, half on another
    await Promise.all(ids.map((id, i) => (i % 2 === 0 ? a : c).subscribeAccount(id, boxes[i]!.handler)));
    const rounds = 20;
    const started = performance.now();
    for (let seq = 1; seq <= rounds; seq++) await b.toAccounts(ids, messagePush('s-many', seq));
    const publishMs = (performance.now() - started) / rounds;
    await waitFor(() => boxes.every((box) => box.pushes.length >= rounds), 10_000, 'every account to get every push');
    const delivered = performance.now() - started;
    for (const box of boxes) {
      assert.deepStrictEqual(
        box.pushes.map((p) => (p.kind === 'message' ? p.message.seq : -1)),
        Array.from({ length: rounds }, (_, i) => i + 1),
      );
    }
    console.error(`[broker-redis] publish to ${ids.length} accounts: ${publishMs.toFixed(2)} ms each; ${rounds * ids.length} pushes delivered in ${delivered.toFixed(0)} ms`);
  });
});

describe('redis broker: a dropped subscriber connection', () => {
  it('comes back with its subscriptions, and says so in the log', async () => {
    const [a, b] = [await instance('drop-a'), await instance('drop-b')];
    const box = inbox();
    await a.subscribeAccount('acct-drop', box.handler);
    await a.subscribeSiteAgents('site-drop', box.handler);
    const clients = (await admin.client('LIST')) as string;
    const line = clients.split('\n').find((l) => l.includes(` name=${prefix}:broker-sub:drop-a-`));
    assert.ok(line, 'the subscriber connection is named after its instance');
    const id = /\bid=(\d+)/.exec(line)![1]!;
    const before = logged.length;

    await admin.client('KILL', 'ID', id);
    await waitFor(() => logged.slice(before).some((l) => l.msg.includes('reconnected')), 5000, 'the reconnect to be logged');
    await waitFor(
      async () => (await subscribers(keys.account('acct-drop'))) === 1 && (await subscribers(keys.siteAgents('site-drop'))) === 1,
      5000,
      'the channels to be subscribed again',
    );
    await b.toAccounts(['acct-drop'], messagePush('s-drop', 1));
    await b.toSiteAgents('site-drop', messagePush('s-drop', 2));
    assert.deepStrictEqual(await box.count(2), [messagePush('s-drop', 1), messagePush('s-drop', 2)]);
  });
});

describe('redis broker: presence', () => {
  it('counts devices and online agents across instances; repeats are harmless', async () => {
    const [a, b] = [await instance('pres-a'), await instance('pres-b')];
    await a.connected(agent('agent-p1'), 'conn-1', 1);
    await b.connected(agent('agent-p1'), 'conn-2', 1);
    await b.connected(agent('agent-p1'), 'conn-2', 1);
    await b.connected(agent('agent-p2', 'site-other'), 'conn-3', 1);
    await a.connected(visitor('visitor-p1'), 'conn-4', 1);

    for (const reader of [a, b]) {
      assert.equal(await reader.devices('agent-p1'), 2);
      assert.equal(await reader.devices('visitor-p1'), 1);
      assert.equal(await reader.devices('nobody'), 0);
      assert.deepEqual(await reader.onlineAgents('site-1'), ['agent-p1'], 'each agent once, and no visitors');
      assert.deepEqual(await reader.onlineAgents('site-other'), ['agent-p2']);
    }

    await a.connected(agent('agent-p1'), 'conn-1', -1);
    await a.connected(agent('agent-p1'), 'conn-1', -1);
    assert.equal(await b.devices('agent-p1'), 1);
    assert.deepEqual(await a.onlineAgents('site-1'), ['agent-p1']);
    await b.connected(agent('agent-p1'), 'conn-2', -1);
    assert.equal(await a.devices('agent-p1'), 0);
    assert.deepEqual(await a.onlineAgents('site-1'), []);
  });

  it('an instance that dies without a goodbye drops out within its TTL, while a live one stays by refreshing', async () => {
    const ttl = 300;
    const dyingConnection = await connection();
    const [dying, live, reader] = [await instance('ttl-dying', ttl, dyingConnection), await instance('ttl-live', ttl), await instance('ttl-reader', ttl)];
    await dying.connected(agent('agent-t1'), 'conn-d1', 1);
    await dying.connected(visitor('visitor-t1'), 'conn-d2', 1);
    await live.connected(agent('agent-t2'), 'conn-l1', 1);
    assert.deepEqual((await reader.onlineAgents('site-1')).sort(), ['agent-t1', 'agent-t2']);
    assert.equal(await reader.devices('visitor-t1'), 1);

    // the process is gone: no more refreshes, no goodbye
    const died = Date.now();
    dyingConnection.disconnect();
    await waitFor(async () => (await reader.devices('visitor-t1')) === 0 && (await reader.onlineAgents('site-1')).length === 1, 5000, 'the dead instance to drop out');
    const gone = Date.now() - died;
    assert.deepEqual(await reader.onlineAgents('site-1'), ['agent-t2'], 'the live instance is still there');
    assert.ok(gone <= ttl + 1000, `dropped out after ${gone} ms`);

    // several TTLs later the live instance's connection is still online
    const later = Date.now() + 3 * ttl;
    await waitFor(() => Date.now() >= later, 5000, 'three TTLs');
    assert.deepEqual(await reader.onlineAgents('site-1'), ['agent-t2']);
    assert.equal(await reader.devices('agent-t2'), 1);

    // readers prune what expired, so the sets do not grow with dead instances
    await waitFor(
      async () => {
        await reader.devices('visitor-t1');
        await reader.onlineAgents('site-1');
        const [acct, site] = [await admin.zcard(keys.presenceAccount('visitor-t1')), await admin.zcard(keys.presenceSiteAgents('site-1'))];
        return acct === 0 && site === 1;
      },
      5000,
      'expired members to be pruned',
    );
  });

  it('an instance cut off long enough to be pruned puts its connections back on its next refresh', async () => {
    const ttl = 300;
    const [holder, reader] = [await instance('back-holder', ttl), await instance('back-reader')];
    await holder.connected(agent('agent-b1', 'site-back'), 'conn-b1', 1);
    // as if a reader had pruned it while the holder was paused
    await admin.del(keys.presenceAccount('agent-b1'), keys.presenceSiteAgents('site-back'));
    assert.equal(await reader.devices('agent-b1'), 0);
    await waitFor(async () => (await reader.devices('agent-b1')) === 1, 5000, 'the refresh to restore the connection');
    assert.deepEqual(await reader.onlineAgents('site-back'), ['agent-b1']);
  });

  it('close says goodbye: its connections leave presence at once and its subscriptions end', async () => {
    const [leaving, reader] = [await instance('bye-leaving'), await instance('bye-reader')];
    await leaving.connected(agent('agent-g1', 'site-bye'), 'conn-g1', 1);
    await leaving.connected(agent('agent-g1', 'site-bye'), 'conn-g2', 1);
    await leaving.connected(visitor('visitor-g1', 'site-bye'), 'conn-g3', 1);
    await reader.connected(agent('agent-g2', 'site-bye'), 'conn-g4', 1);
    await leaving.subscribeAccount('visitor-g1', () => {});
    await leaving.subscribeSiteAgents('site-bye', () => {});
    assert.equal(await subscribers(keys.account('visitor-g1')), 1);
    assert.equal(await reader.devices('agent-g1'), 2);

    await leaving.close();
    assert.equal(await reader.devices('agent-g1'), 0);
    assert.equal(await reader.devices('visitor-g1'), 0);
    assert.deepEqual(await reader.onlineAgents('site-bye'), ['agent-g2']);
    await waitFor(async () => (await subscribers(keys.account('visitor-g1'))) === 0 && (await subscribers(keys.siteAgents('site-bye'))) === 0, 5000, 'the subscriber to leave');
    // a connection that closes after the goodbye (a slow drain) changes nothing
    await leaving.connected(agent('agent-g1', 'site-bye'), 'conn-g1', -1);
    assert.equal(logged.filter((l) => l.level === 'error').length, 0, JSON.stringify(logged));
  });
});

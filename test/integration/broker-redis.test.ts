import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Broker, Delivery, PushHandler } from '../../src/broker/broker.js';
import { deliveryOf } from '../../src/broker/codec.js';
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

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The id a test instance called `name` runs under. */
const instanceId = (name: string) => `${name}-${process.pid}`;

/** A broker as one instance runs it, with its own command connection. */
async function instance(name: string, presenceTtlMs = 30_000, redis?: Redis, presenceKeyTtlMs?: number): Promise<Broker> {
  const broker = await createRedisBroker({
    redis: redis ?? (await connection()),
    prefix,
    instanceId: instanceId(name),
    presenceTtlMs,
    ...(presenceKeyTtlMs === undefined ? {} : { presenceKeyTtlMs }),
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
  const pushes: Delivery[] = [];
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

/**
 * Every command that `redis` sends from now on, pipelined ones too (each
 * goes through `sendCommand`), as [name, ...args]; `stop()` stops recording.
 * (Not MONITOR: a monitor connection of ioredis can receive its lines before
 * it is in monitor mode, which fails at random.)
 */
function commandsOf(redis: Redis) {
  const seen: string[][] = [];
  const original = redis.sendCommand;
  redis.sendCommand = function (this: Redis, command: Parameters<Redis['sendCommand']>[0], ...rest: unknown[]) {
    seen.push([command.name.toLowerCase(), ...command.args.map((a) => String(a))]);
    return (original as (...args: unknown[]) => unknown).call(this, command, ...rest);
  } as Redis['sendCommand'];
  return {
    seen,
    stop(): string[][] {
      redis.sendCommand = original;
      return seen;
    },
  };
}

/** Counts the pipelines made on `redis` from now on. */
function countPipelines(redis: Redis): { count: number } {
  const counter = { count: 0 };
  const original = redis.pipeline.bind(redis);
  redis.pipeline = ((...args: Parameters<Redis['pipeline']>) => {
    counter.count++;
    return original(...args);
  }) as Redis['pipeline'];
  return counter;
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
  it("a push published on one instance reaches the account's handler on another, exactly as sent (a message as its frame)", async () => {
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
    assert.deepStrictEqual(got, [deliveryOf(messagePush('s1', 1)), sessionPush]);
  });

  it("a site's agents channel reaches that site's subscribers only", async () => {
    const [a, b] = [await instance('site-a'), await instance('site-b')];
    const [one, other] = [inbox(), inbox()];
    await a.subscribeSiteAgents('site-1', one.handler);
    await a.subscribeSiteAgents('site-2', other.handler);
    const push: Push = { kind: 'event', sid: 's1', name: 'typing', data: { from: { id: 'v', kind: 'visitor', name: 'V' } } };
    await b.toSiteAgents('site-1', push);
    await b.toSiteAgents('site-1', messagePush('s1', 2));
    assert.deepStrictEqual(await one.count(2), [push, deliveryOf(messagePush('s1', 2))]);
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
    assert.deepStrictEqual(await third.count(1), [deliveryOf(messagePush('s', 3))]);
    await unsubThird();
  });

  it('a storm of subscriptions (clients moving here at once) goes out in a few SUBSCRIBEs, and every one is live when it resolves', async () => {
    const redis = await connection();
    // the broker subscribes on a duplicate of its connection: record what that one sends
    let sub: ReturnType<typeof commandsOf> | undefined;
    const duplicate = redis.duplicate.bind(redis);
    redis.duplicate = ((...args: Parameters<Redis['duplicate']>) => {
      const made = duplicate(...args);
      sub = commandsOf(made);
      return made;
    }) as Redis['duplicate'];
    const [a, b] = [await instance('storm-a', 30_000, redis), await instance('storm-b')];
    const ids = Array.from({ length: 300 }, (_, i) => `acct-storm-${i}`);
    const boxes = ids.map(() => inbox());
    await Promise.all(ids.map((id, i) => a.subscribeAccount(id, boxes[i]!.handler)));
    // the broker's own channel (drafts handed to it as a session's writer) is subscribed once, at its start
    const subscribes = sub!.stop().filter(([name, ...channels]) => name === 'subscribe' && !String(channels[0]).startsWith(keys.instance('')));
    assert.ok(subscribes.length <= 3, `${subscribes.length} SUBSCRIBE commands for ${ids.length} channels`);
    assert.deepEqual(subscribes.flatMap(([, ...channels]) => channels).sort(), ids.map((id) => keys.account(id)).sort());
    await b.toAccounts(ids, messagePush('s-storm', 1));
    await waitFor(() => boxes.every((box) => box.pushes.length === 1), 5000, 'every account to get its push');
  });

  it("a push for several accounts leaves as one command, and each account's holder gets it, in the order published", async () => {
    const [a, c] = [await instance('each-a'), await instance('each-c')];
    const made = await connection();
    const b = await instance('each-b', 30_000, made);
    const [one, two] = [inbox(), inbox()];
    await a.subscribeAccount('acct-each-1', one.handler);
    await c.subscribeAccount('acct-each-2', two.handler);
    const watch = commandsOf(made);
    await b.toAccounts(['acct-each-1', 'acct-each-2'], messagePush('s-each', 1));
    await b.toAccounts(['acct-each-1', 'acct-each-2'], messagePush('s-each', 2));
    const sent = watch.stop().map(([name]) => name);
    assert.equal(sent.filter((name) => name === 'publish').length, 0, 'no PUBLISH per account');
    // EVALSHA each time, and EVAL once if the script was not loaded yet
    assert.equal(sent.filter((name) => name === 'evalsha').length, 2, sent.join(' '));
    for (const box of [one, two]) {
      assert.deepStrictEqual(await box.count(2), [deliveryOf(messagePush('s-each', 1)), deliveryOf(messagePush('s-each', 2))]);
    }
  });

  it("word of a session's change reaches every instance, the teller too, in the order told", async () => {
    const [a, b] = [await instance('change-a'), await instance('change-b')];
    const heard = { a: [] as Array<string | undefined>, b: [] as Array<string | undefined> };
    a.onSessionChange((id) => heard.a.push(id));
    b.onSessionChange((id) => heard.b.push(id));
    await b.sessionChanged('s-change-1');
    await a.sessionChanged('s-change-2');
    await b.sessionChanged('s-change-1');
    await waitFor(() => heard.a.length === 3 && heard.b.length === 3, 5000, 'both instances to hear all three');
    assert.deepStrictEqual(heard.a, ['s-change-1', 's-change-2', 's-change-1']);
    assert.deepStrictEqual(heard.b, ['s-change-1', 's-change-2', 's-change-1']);
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
        box.pushes.map((p) => (p.kind === 'message' ? p.seq : -1)),
        Array.from({ length: rounds }, (_, i) => i + 1),
      );
    }
    console.error(`[broker-redis] publish to ${ids.length} accounts: ${publishMs.toFixed(2)} ms each; ${rounds * ids.length} pushes delivered in ${delivered.toFixed(0)} ms`);
  });
});

describe('redis broker: a dropped subscriber connection', () => {
  it('comes back with its subscriptions, says so in the log, and tells its listeners once every channel is live again', async () => {
    const [a, b] = [await instance('drop-a'), await instance('drop-b')];
    const box = inbox();
    await a.subscribeAccount('acct-drop', box.handler);
    await a.subscribeSiteAgents('site-drop', box.handler);
    // what a listener sees of the channels when it is told of the loss
    const told: Array<Promise<number[]>> = [];
    a.onPushesLost(() => told.push(Promise.all([subscribers(keys.account('acct-drop')), subscribers(keys.siteAgents('site-drop'))])));
    // and what a listener of session changes hears: "forget them all", when the connection drops and again once it is back
    const changes: Array<string | undefined> = [];
    a.onSessionChange((sid) => changes.push(sid));
    const clients = (await admin.client('LIST')) as string;
    const line = clients.split('\n').find((l) => l.includes(` name=${prefix}:broker-sub:drop-a-`));
    assert.ok(line, 'the subscriber connection is named after its instance');
    const id = /\bid=(\d+)/.exec(line)![1]!;
    const before = logged.length;

    await admin.client('KILL', 'ID', id);
    await waitFor(() => logged.slice(before).some((l) => l.msg.includes('reconnected')), 5000, 'the reconnect to be logged');
    await waitFor(() => told.length === 1, 5000, 'the listener to be told');
    assert.deepEqual(await told[0], [1, 1], 'both channels subscribed again by then');
    assert.deepStrictEqual(changes, [undefined, undefined], 'word of changes may have been missed: twice');
    await b.sessionChanged('s-drop');
    await waitFor(() => changes.length === 3, 5000, 'word of a change to be heard again');
    assert.equal(changes[2], 's-drop');
    await waitFor(
      async () => (await subscribers(keys.account('acct-drop'))) === 1 && (await subscribers(keys.siteAgents('site-drop'))) === 1,
      5000,
      'the channels to be subscribed again',
    );
    await b.toAccounts(['acct-drop'], messagePush('s-drop', 1));
    await b.toSiteAgents('site-drop', messagePush('s-drop', 2));
    assert.deepStrictEqual(await box.count(2), [deliveryOf(messagePush('s-drop', 1)), deliveryOf(messagePush('s-drop', 2))]);
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
        const [acct, site] = [await admin.scard(keys.presenceAccount('visitor-t1')), await admin.scard(keys.presenceSiteAgents('site-1'))];
        return acct === 0 && site === 1;
      },
      5000,
      'expired members to be pruned',
    );
  });

  it('an instance whose presence Redis lost (its liveness key too) writes all of it again on its next refresh, a few hundred a pipeline', async () => {
    const ttl = 300;
    const holderConnection = await connection();
    const [holder, reader] = [await instance('back-holder', ttl, holderConnection), await instance('back-reader')];
    await holder.connected(agent('agent-b1', 'site-back'), 'conn-b1', 1);
    await Promise.all(Array.from({ length: 600 }, (_, i) => holder.connected(visitor('visitor-b1', 'site-back'), `conn-bv${i}`, 1)));
    assert.equal(await reader.devices('visitor-b1'), 600);
    const pipelines = countPipelines(holderConnection);
    // as after a Redis restart without persistence (or a pause long enough for the key to expire and readers to prune)
    await admin.del(keys.presenceAccount('agent-b1'), keys.presenceSiteAgents('site-back'), keys.presenceAccount('visitor-b1'), keys.presenceInstance(instanceId('back-holder')));
    await waitFor(async () => (await reader.devices('agent-b1')) === 1 && (await reader.devices('visitor-b1')) === 600, 5000, 'the refresh to restore the connections');
    assert.deepEqual(await reader.onlineAgents('site-back'), ['agent-b1']);
    assert.equal(await admin.exists(keys.presenceInstance(instanceId('back-holder'))), 1, 'the instance is alive again');
    assert.ok(pipelines.count >= 2, `601 connections written again in ${pipelines.count} pipeline(s), not one`);
    assert.ok(logged.some((l) => l.level === 'warn' && l.msg.includes('dropped out of presence')), 'and says so in the log');
  });

  it('a refresh is one command, however many connections the instance holds', async () => {
    const ttl = 1500;
    const holderConnection = await connection();
    const holder = await instance('one-holder', ttl, holderConnection);
    const n = 2000;
    await Promise.all(
      Array.from({ length: n }, (_, i) => holder.connected(i % 2 === 0 ? agent(`agent-o${i % 20}`, 'site-one') : visitor(`visitor-o${i}`, 'site-one'), `conn-o${i}`, 1)),
    );
    assert.equal((await holder.onlineAgents('site-one')).length, 10);

    const watch = commandsOf(holderConnection);
    await sleep(2 * ttl); // about six refreshes
    const sent = watch.stop();
    assert.ok(sent.length >= 4, `${sent.length} refreshes in two TTLs`);
    const refreshCommand = ['set', keys.presenceInstance(instanceId('one-holder')), '1', 'PX', String(ttl), 'GET'].map((a) => a.toLowerCase());
    for (const command of sent) assert.deepEqual(command.map((a) => a.toLowerCase()), refreshCommand, `holding ${n} connections, a refresh sends nothing else`);
    assert.equal(await holder.devices('agent-o0'), 100);
  });

  it('a storm of opens and closes goes out in a few pipelines, and leaves every connection where it belongs', async () => {
    const stormConnection = await connection();
    const storm = await instance('storm', 30_000, stormConnection);
    const who = (i: number) => (i % 2 === 0 ? agent(`agent-s${i % 20}`, 'site-storm') : visitor(`visitor-s${i % 20}`, 'site-storm'));
    const n = 2000;
    const pipelines = countPipelines(stormConnection);
    const watch = commandsOf(stormConnection);
    await Promise.all(Array.from({ length: n }, (_, i) => storm.connected(who(i), `conn-s${i}`, 1)));
    const sent = watch.stop();
    const sadds = sent.filter((c) => c[0] === 'sadd').length;
    assert.ok(pipelines.count < n / 10, `${n} opens in ${pipelines.count} pipelines`);
    assert.ok(sadds < n / 10, `${n} opens in ${sadds} SADDs`);
    for (let a = 0; a < 20; a++) assert.equal(await storm.devices(who(a).id), n / 20, `devices of ${who(a).id}`);
    assert.deepEqual((await storm.onlineAgents('site-storm')).sort(), Array.from({ length: 10 }, (_, a) => `agent-s${2 * a}`).sort());

    // half of them close, while others open and close again at once
    pipelines.count = 0;
    await Promise.all([
      ...Array.from({ length: n / 2 }, (_, i) => storm.connected(who(i), `conn-s${i}`, -1)),
      ...Array.from({ length: 100 }, (_, i) => [storm.connected(who(i), `conn-brief${i}`, 1), storm.connected(who(i), `conn-brief${i}`, -1)]).flat(),
    ]);
    assert.ok(pipelines.count < n / 20, `${n / 2 + 200} opens and closes in ${pipelines.count} pipelines`);
    for (let a = 0; a < 20; a++) assert.equal(await storm.devices(who(a).id), n / 40, `devices of ${who(a).id} after the closes`);
    const members = await admin.smembers(keys.presenceAccount('visitor-s1'));
    assert.equal(members.length, n / 40);
    assert.ok(
      members.every((m) => m.startsWith(`${instanceId('storm')}|conn-s`) && Number(m.split('conn-s')[1]) >= n / 2),
      'only the connections still open, in the member format',
    );
  });

  it('in a batch of presence writes, each caller learns the outcome of its own', async () => {
    const b = await instance('batch-errors');
    const broken = keys.presenceAccount('visitor-wrongtype');
    await admin.set(broken, 'not a set');
    const [bad, good] = await Promise.allSettled([b.connected(visitor('visitor-wrongtype'), 'conn-e1', 1), b.connected(visitor('visitor-fine'), 'conn-e2', 1)]);
    assert.equal(bad.status, 'rejected');
    assert.match(String((bad as PromiseRejectedResult).reason), /WRONGTYPE/);
    assert.equal(good.status, 'fulfilled');
    assert.equal(await b.devices('visitor-fine'), 1);
    await admin.del(broken);
    await b.connected(visitor('visitor-wrongtype'), 'conn-e1', -1);
  });

  it("readers remove the members of a dead instance as they meet them, and only those", async () => {
    const deadConnection = await connection();
    const [dead, live, reader] = [await instance('prune-dead', 30_000, deadConnection), await instance('prune-live'), await instance('prune-reader')];
    await dead.connected(agent('agent-x1', 'site-prune'), 'conn-x1', 1);
    await dead.connected(agent('agent-x2', 'site-prune'), 'conn-x2', 1);
    await live.connected(agent('agent-x1', 'site-prune'), 'conn-x3', 1);
    assert.equal(await reader.devices('agent-x1'), 2);
    assert.deepEqual((await reader.onlineAgents('site-prune')).sort(), ['agent-x1', 'agent-x2']);

    // killed: no more refreshes and no goodbye; its liveness key expiring is played by deleting it
    deadConnection.disconnect();
    await admin.del(keys.presenceInstance(instanceId('prune-dead')));
    assert.equal(await reader.devices('agent-x1'), 1);
    assert.equal(await reader.devices('agent-x2'), 0);
    assert.deepEqual(await reader.onlineAgents('site-prune'), ['agent-x1']);
    assert.deepEqual(await admin.smembers(keys.presenceAccount('agent-x1')), [`${instanceId('prune-live')}|conn-x3`]);
    assert.equal(await admin.exists(keys.presenceAccount('agent-x2')), 0, 'a set left empty is gone');
    assert.deepEqual(await admin.smembers(keys.presenceSiteAgents('site-prune')), [`agent-x1|${instanceId('prune-live')}|conn-x3`]);
  });

  it('presence sets expire on their own, yet a connection open for longer than that stays counted', async () => {
    const keyTtl = 600;
    const [holder, reader] = [await instance('long-holder', 30_000, undefined, keyTtl), await instance('long-reader')];
    await holder.connected(agent('agent-l1', 'site-long'), 'conn-l1', 1);
    for (const key of [keys.presenceAccount('agent-l1'), keys.presenceSiteAgents('site-long')]) {
      const pttl = await admin.pttl(key);
      assert.ok(pttl > 0 && pttl <= keyTtl, `${key} expires (in ${pttl} ms)`);
    }
    await sleep(4 * keyTtl);
    assert.equal(await reader.devices('agent-l1'), 1, 'still counted after four times the sets’ expiry');
    assert.deepEqual(await reader.onlineAgents('site-long'), ['agent-l1']);
    await holder.connected(agent('agent-l1', 'site-long'), 'conn-l1', -1);
    assert.equal(await reader.devices('agent-l1'), 0);
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
    assert.equal(await admin.exists(keys.presenceInstance(instanceId('bye-leaving'))), 0, 'its liveness key is gone');
    assert.deepEqual(await admin.smembers(keys.presenceAccount('agent-g1')), [], 'and its members');
    assert.equal(await reader.devices('agent-g1'), 0);
    assert.equal(await reader.devices('visitor-g1'), 0);
    assert.deepEqual(await reader.onlineAgents('site-bye'), ['agent-g2']);
    await waitFor(async () => (await subscribers(keys.account('visitor-g1'))) === 0 && (await subscribers(keys.siteAgents('site-bye'))) === 0, 5000, 'the subscriber to leave');
    // a connection that closes after the goodbye (a slow drain) changes nothing
    await leaving.connected(agent('agent-g1', 'site-bye'), 'conn-g1', -1);
    assert.equal(logged.filter((l) => l.level === 'error').length, 0, JSON.stringify(logged));
  });
});

/**
 * Turns at writing a session, on the real Redis (src/broker/seq-turns.ts),
 * and the message store writing in turns against the real MongoDB-compatible
 * server (src/store/message-appender.ts): a writer waits while another
 * instance has the session's turn, then numbers on from the seq that turn
 * stored, without a clash.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { brokerKeys } from '../../src/broker/keys.js';
import { createRedisSeqTurns, TURN_LEASE_MS, TURN_OWED_MS } from '../../src/broker/seq-turns.js';
import type { MessageDraft } from '../../src/domain/model.js';
import type { SeqTurns } from '../../src/domain/ports.js';
import { createMessageRepository } from '../../src/store/messages.js';
import { ensureIndexes } from '../../src/store/stores.js';
import { countingLane } from '../helpers/counting-lane.js';
import { testDatabase, testUrls, uniqueName } from '../helpers/infra.js';
import { waitFor } from '../helpers/wait-for.js';

const keys = brokerKeys(uniqueName('turns'));
let redis: Redis;

before(async () => {
  redis = new Redis(testUrls().redisUrl, { maxRetriesPerRequest: null });
  await redis.ping();
});
after(() => redis.quit());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const turnsOf = (instanceId: string) => createRedisSeqTurns({ redis, keys, instanceId });

describe('turns at writing a session, on Redis', () => {
  it('one instance at a time; the next starts from the last seq the previous turn stored', async () => {
    const [a, b] = [turnsOf('a'), turnsOf('b')];
    assert.deepEqual(await a.takeTurns(['s1', 's2']), [0, 0], 'free turns, nothing stored in turns yet');
    assert.deepEqual(await b.takeTurns(['s1', 's3']), [null, 0], "a's session is refused, a free one is not");
    await a.giveTurns([
      { sessionId: 's1', lastSeq: 7 },
      { sessionId: 's2', lastSeq: 0 },
    ]);
    assert.deepEqual(await b.takeTurns(['s1', 's2']), [7, 0], 'b starts after the 7 stored during a’s turn');
    await b.giveTurns([{ sessionId: 's1', lastSeq: 5 }]);
    assert.deepEqual(await a.takeTurns(['s1']), [7], 'a lagging last seq never moves it back');
  });

  it('whoever asked while the turn was held gets it next, even if the holder asks again at once', async () => {
    const [a, b] = [turnsOf('a'), turnsOf('b')];
    assert.deepEqual(await a.takeTurns(['fair']), [0]);
    assert.deepEqual(await b.takeTurns(['fair']), [null]);
    await a.giveTurns([{ sessionId: 'fair', lastSeq: 3 }]);
    assert.deepEqual(await a.takeTurns(['fair']), [null], 'b is owed it');
    assert.deepEqual(await b.takeTurns(['fair']), [3]);
    await b.giveTurns([{ sessionId: 'fair', lastSeq: 4 }]);
    assert.deepEqual(await a.takeTurns(['fair']), [4], 'a asked during b’s turn: its turn now');
  });

  it('a turn its holder never gives back lapses with its lease, and an owed asker that stops asking is not waited for', async () => {
    const [a, b] = [turnsOf('a'), turnsOf('b')];
    assert.deepEqual(await a.takeTurns(['dead']), [0]);
    assert.deepEqual(await b.takeTurns(['dead']), [null]);
    await sleep(TURN_LEASE_MS + 50);
    assert.deepEqual(await b.takeTurns(['dead']), [0], 'a died holding it: b has it after the lease');
    assert.deepEqual(await a.takeTurns(['dead']), [null], 'b holds it; a is owed it');
    await b.giveTurns([{ sessionId: 'dead', lastSeq: 2 }]);
    await sleep(TURN_OWED_MS + 50);
    assert.deepEqual(await b.takeTurns(['dead']), [2], 'a stopped asking: b is not kept waiting for it');
  });
});

function draft(sessionId: string, cid: string, from: string): MessageDraft {
  return { sessionId, siteId: 'site-1', cid, from: { id: from, kind: 'visitor', name: from }, type: 'chat', body: { text: cid }, status: 'ok', createdAt: new Date() };
}

describe('the message store, writing a session another instance writes too', () => {
  let db: Db;
  testDatabase('turns', async (d) => {
    db = d;
    await ensureIndexes(db);
  });

  const storedSeqs = async (sessionId: string) =>
    (await db.collection<{ seq: number; cid: string }>('messages').find({ sessionId }).toArray()).map((m) => [m.seq, m.cid]).sort((x, y) => Number(x[0]) - Number(y[0]));

  it('waits while the other instance has the turn, then goes on from the seq it stored, without a clash', async () => {
    const other = createMessageRepository(db);
    const lane = countingLane();
    const mine = createMessageRepository(db, lane, { turns: turnsOf('mine') });
    const elsewhere = turnsOf('elsewhere');
    // another instance stored seq 1; this one, not knowing, clashes once: from then on the session counts as shared
    await other.append(draft('s-shared', 'theirs-1', 'agent-1'), 0);
    assert.equal((await mine.append(draft('s-shared', 'mine-1', 'visitor-1'), 0)).message.seq, 2);

    // the other instance takes the turn (once this store has given back the one it took for its retry) and stores two messages in it
    let last: number | null = null;
    await waitFor(async () => (last = (await elsewhere.takeTurns(['s-shared']))[0]!) !== null, 2000, 'the turn');
    assert.equal(last, 2, 'the turn this store took for its retry recorded seq 2');
    await other.append(draft('s-shared', 'theirs-2', 'agent-1'), 2);
    await other.append(draft('s-shared', 'theirs-3', 'agent-1'), 3);
    const commands = lane.commands;
    let answered = false;
    const pending = mine.append(draft('s-shared', 'mine-2', 'visitor-1'), 2).then((r) => {
      answered = true;
      return r;
    });
    await sleep(100);
    assert.equal(answered, false, 'not stored while the other instance has the turn');
    assert.equal(lane.commands, commands, 'not even tried');

    await elsewhere.giveTurns([{ sessionId: 's-shared', lastSeq: 4 }]);
    const result = await pending;
    assert.equal(result.message.seq, 5, 'right after the seq the other turn stored');
    assert.equal(lane.commands, commands + 1, 'one insert: no clash, no retry');
    assert.deepEqual(await storedSeqs('s-shared'), [
      [1, 'theirs-1'],
      [2, 'mine-1'],
      [3, 'theirs-2'],
      [4, 'theirs-3'],
      [5, 'mine-2'],
    ]);
  });

  it('three instances racing on one session in turns: every draft stored once, no gap, each one’s in its order', async () => {
    // with three, only one waiter at a time is owed the next turn: the others must still get theirs
    let asked = 0;
    const counted = (turns: SeqTurns): SeqTurns => ({
      takeTurns: (ids) => ((asked += ids.length), turns.takeTurns(ids)),
      giveTurns: (given) => turns.giveTurns(given),
    });
    const writers = ['a', 'b', 'c'].map((name) => ({ name, store: createMessageRepository(db, undefined, { turns: counted(turnsOf(`race-${name}`)) }) }));
    const sends: Array<Promise<{ message: { seq: number } }>> = [];
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 3; i++) {
        for (const { name, store } of writers) sends.push(store.append(draft('s-turns', `${name}-${round}-${i}`, `sender-${name}`), 0));
      }
      await sleep(2);
    }
    const results = await Promise.all(sends);
    const stored = await storedSeqs('s-turns');
    assert.deepEqual(
      stored.map(([seq]) => seq),
      Array.from({ length: 90 }, (_, i) => i + 1),
      'seqs 1..90, each once',
    );
    assert.equal(new Set(results.map((r) => r.message.seq)).size, 90, 'each answered with its own seq');
    for (const { name } of writers) {
      const cids = stored.map(([, cid]) => String(cid)).filter((c) => c.startsWith(`${name}-`));
      assert.equal(cids.length, 30, `all of ${name}'s drafts stored`);
      assert.deepEqual(cids, [...cids].sort((x, y) => x.localeCompare(y, 'en', { numeric: true })), `${name}'s drafts in the order asked`);
    }
    assert.ok(asked > 0, 'the session was written in turns once the writers had clashed');
  });

  it('stores as before when the turns cannot be had (Redis away), and says so once', async () => {
    // a client that never connects and queues nothing: every call to it fails at once
    const offline = new Redis(testUrls().redisUrl, { lazyConnect: true, enableOfflineQueue: false });
    let asked = 0;
    const turns = createRedisSeqTurns({ redis: offline, keys, instanceId: 'away' });
    const away: SeqTurns = {
      takeTurns: (ids) => ((asked += 1), turns.takeTurns(ids)),
      giveTurns: (given) => turns.giveTurns(given),
    };
    const other = createMessageRepository(db);
    const lost: unknown[] = [];
    const mine = createMessageRepository(db, undefined, { turns: away, onLost: (err) => lost.push(err) });
    await other.append(draft('s-away', 'theirs-1', 'agent-1'), 0);
    assert.equal((await mine.append(draft('s-away', 'mine-1', 'visitor-1'), 0)).message.seq, 2, 'past the clash');
    const next = await Promise.all(['mine-2', 'mine-3'].map((cid) => mine.append(draft('s-away', cid, 'visitor-1'), 0)));
    assert.deepEqual(
      next.map((r) => r.message.seq),
      [3, 4],
    );
    assert.ok(asked > 1, 'the shared session asked for its turn at each batch, and was stored without one');
    assert.equal(lost.length, 1, 'the outage is reported once, not at every batch');
    assert.deepEqual(await storedSeqs('s-away'), [
      [1, 'theirs-1'],
      [2, 'mine-1'],
      [3, 'mine-2'],
      [4, 'mine-3'],
    ]);
    offline.disconnect();
  });

  it('says so again when the turns, back meanwhile, are lost a second time', async () => {
    let down = true;
    const real = turnsOf('flaky');
    const flaky: SeqTurns = {
      takeTurns: (ids) => (down ? Promise.reject(new Error('redis away')) : real.takeTurns(ids)),
      giveTurns: (given) => (down ? Promise.reject(new Error('redis away')) : real.giveTurns(given)),
    };
    const lost: unknown[] = [];
    const other = createMessageRepository(db);
    const mine = createMessageRepository(db, undefined, { turns: flaky, onLost: (err) => lost.push(err) });
    await other.append(draft('s-flaky', 'theirs-1', 'agent-1'), 0);
    await mine.append(draft('s-flaky', 'mine-1', 'visitor-1'), 0); // the clash makes the session shared
    await mine.append(draft('s-flaky', 'mine-2', 'visitor-1'), 0);
    assert.equal(lost.length, 1, 'the first outage');
    down = false;
    await mine.append(draft('s-flaky', 'mine-3', 'visitor-1'), 0);
    assert.equal(lost.length, 1, 'nothing to say while the turns can be had');
    down = true;
    await mine.append(draft('s-flaky', 'mine-4', 'visitor-1'), 0);
    assert.equal(lost.length, 2, 'the second outage');
    assert.deepEqual(
      (await storedSeqs('s-flaky')).map(([seq]) => seq),
      [1, 2, 3, 4, 5],
    );
  });
});

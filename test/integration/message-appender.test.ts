/**
 * The message store's appends against the real MongoDB-compatible server:
 * many of a session on their way at once, numbered and stored in the order
 * they were asked, through clashes with other writers, resends and failures
 * (src/store/message-appender.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MongoClient, type Db } from 'mongodb';
import type { MessageDraft } from '../../src/domain/model.js';
import type { MessageStore } from '../../src/domain/ports.js';
import { ensureIndexes } from '../../src/store/stores.js';
import { createMessageRepository, messageId } from '../../src/store/messages.js';
import { STORE_RETRY_MS } from '../../src/store/message-appender.js';
import type { WriteLane } from '../../src/store/write-lane.js';
import { countingLane } from '../helpers/counting-lane.js';
import { testDatabase, testUrls } from '../helpers/infra.js';
import { waitFor } from '../helpers/wait-for.js';

function draft(sessionId: string, cid: string, from = 'visitor-1'): MessageDraft {
  return {
    sessionId,
    siteId: 'site-1',
    cid,
    from: { id: from, kind: 'visitor', name: 'Visitor' },
    type: 'chat',
    body: { text: cid },
    status: 'ok',
    createdAt: new Date(),
  };
}

describe('message appends', () => {
  let db: Db;
  testDatabase('appends', async (d) => {
    db = d;
    await ensureIndexes(db);
  });

  async function storedTexts(sessionId: string): Promise<string[]> {
    const docs = await db
      .collection<{ _id: string; seq: number; body: { text: string } }>('messages')
      .find({ sessionId })
      .toArray();
    docs.sort((a, b) => a.seq - b.seq);
    assert.deepEqual(
      docs.map((d) => d.seq),
      docs.map((_, i) => i + 1),
      'seqs 1..N, no gap',
    );
    return docs.map((d) => d.body.text);
  }

  it("stops an ordered insert at its first failure, also past the server's chunks of 100 (FerretDB's patch)", async () => {
    const col = db.collection<{ _id: string; n: number }>('ordered');
    await col.insertOne({ _id: 'doc-40', n: -1 });
    const docs = Array.from({ length: 250 }, (_, n) => ({ _id: `doc-${n}`, n }));
    const err = await col.insertMany(docs, { ordered: true }).then(
      () => null,
      (e: { writeErrors?: unknown }) => e,
    );
    assert.ok(err, 'the duplicate fails the insert');
    assert.deepEqual(
      [err.writeErrors].flat().map((w) => (w as { index: number }).index),
      [40],
    );
    assert.equal(await col.countDocuments({ n: { $gte: 0 } }), 40, 'the 40 before it, none after');
  });

  it("stores every other document of an insert with duplicates, by either unique index, and names each duplicate, as MongoDB does (FerretDB patch 3 keeps this answer)", async () => {
    const col = db.collection<{ _id: string; n: number; key: string }>('unordered');
    await col.createIndex({ key: 1 }, { unique: true });
    await col.insertMany([
      { _id: 'doc-3', n: -1, key: 'old-3' },
      { _id: 'old-120', n: -1, key: 'key-120' },
    ]);
    const docs = Array.from({ length: 250 }, (_, n) => ({ _id: `doc-${n}`, n, key: `key-${n}` }));
    docs[201] = { ...docs[201]!, key: 'key-200' }; // clashes with a document of the same command
    for (const ordered of [false, true]) {
      await col.deleteMany({ n: { $gte: 0 } });
      const err = await col.insertMany(docs, { ordered }).then(
        () => null,
        (e: { writeErrors?: unknown }) => e,
      );
      assert.ok(err, 'the duplicates fail the insert');
      const indexes = [err.writeErrors].flat().map((w) => (w as { index: number; code: number }).index);
      const stored = (await col.find({ n: { $gte: 0 } }).toArray()).map((d) => d.n).sort((a, b) => a - b);
      if (ordered) {
        assert.deepEqual(indexes, [3]);
        assert.deepEqual(stored, [0, 1, 2], 'the ones before the first, none after');
      } else {
        assert.deepEqual(indexes, [3, 120, 201], '_id, the other index, and a clash within the command');
        assert.deepEqual(
          stored,
          docs.map((d) => d.n).filter((n) => ![3, 120, 201].includes(n)),
        );
      }
    }
  });

  it("stores a session's drafts asked at once in one command, numbered in the order asked", async () => {
    const lane = countingLane();
    const store = createMessageRepository(db, lane);
    const cids = Array.from({ length: 30 }, (_, i) => `one-${i}`);
    const results = await Promise.all(cids.map((cid) => store.append(draft('s-one', cid), 0)));
    assert.deepEqual(
      results.map((r) => [r.message.cid, r.message.seq, r.created]),
      cids.map((cid, i) => [cid, i + 1, true]),
    );
    assert.equal(lane.commands, 1, 'one insert for all thirty');
    assert.deepEqual(await storedTexts('s-one'), cids);
  });

  it("while one insert is on its way, a second stores other sessions; a session's later drafts wait for its first and follow it", async () => {
    // the first insert is held until the test lets it go
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let commands = 0;
    const lane: WriteLane = {
      run: (write) => (++commands === 1 ? held.then(write) : write()),
    };
    const store = createMessageRepository(db, lane);
    const first = store.append(draft('s-first', 'first-1'), 0);
    await new Promise((resolve) => setImmediate(resolve));
    const later = store.append(draft('s-first', 'first-2'), 0);
    const other = await store.append(draft('s-other', 'other-1'), 0);
    assert.equal(other.message.seq, 1, 'the other session is stored while the first insert is still held');
    assert.deepEqual(await storedTexts('s-first'), [], 'nothing of the held session yet');
    release();
    assert.deepEqual([(await first).message.seq, (await later).message.seq], [1, 2]);
    assert.deepEqual(await storedTexts('s-first'), ['first-1', 'first-2']);
    assert.equal(commands, 3, 'the later draft went in an insert of its own, after the first');
  });

  it('goes past seqs another writer took, keeping its order, and stores the other sessions of the batch too', async () => {
    const other: MessageStore = createMessageRepository(db);
    for (const cid of ['theirs-1', 'theirs-2', 'theirs-3']) await other.append(draft('s-clash', cid, 'agent-1'), 0);
    const store = createMessageRepository(db, countingLane());
    const mine = ['mine-1', 'mine-2', 'mine-3', 'mine-4'];
    // the hint lags (seq 1): the first tries clash with what the other writer stored
    const clashing = mine.map((cid) => store.append(draft('s-clash', cid), 1));
    const bystanders = ['by-1', 'by-2'].map((cid) => store.append(draft('s-bystander', cid), 0));
    const results = await Promise.all(clashing);
    assert.deepEqual(
      results.map((r) => r.message.seq),
      [4, 5, 6, 7],
    );
    assert.deepEqual(await storedTexts('s-clash'), ['theirs-1', 'theirs-2', 'theirs-3', ...mine]);
    assert.deepEqual(
      (await Promise.all(bystanders)).map((r) => r.message.seq),
      [1, 2],
    );
    assert.deepEqual(await storedTexts('s-bystander'), ['by-1', 'by-2']);
  });

  it('two writers of one session at once: every draft stored once, no gap, each writer\'s in its order', async () => {
    const a = createMessageRepository(db);
    const b = createMessageRepository(db);
    const sends: Array<Promise<{ message: { seq: number; cid: string } }>> = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) {
        sends.push(a.append(draft('s-race', `a-${round}-${i}`, 'visitor-1'), 0));
        sends.push(b.append(draft('s-race', `b-${round}-${i}`, 'agent-1'), 0));
      }
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    const results = await Promise.all(sends);
    const texts = await storedTexts('s-race');
    assert.equal(texts.length, 40, 'all forty stored once');
    assert.equal(new Set(results.map((r) => r.message.seq)).size, 40, 'each answered with its own seq');
    for (const writer of ['a', 'b']) {
      const mine = texts.filter((t) => t.startsWith(writer));
      assert.deepEqual(mine, [...mine].sort((x, y) => x.localeCompare(y, 'en', { numeric: true })), `${writer}'s drafts in the order asked`);
    }
  });

  it('answers a resend with its original, even in the same batch, and leaves no gap', async () => {
    const store = createMessageRepository(db, countingLane());
    const [first, resend, next] = await Promise.all([
      store.append(draft('s-resend', 'x'), 0),
      store.append(draft('s-resend', 'x'), 0),
      store.append(draft('s-resend', 'y'), 0),
    ]);
    assert.deepEqual([first.message.seq, first.created], [1, true]);
    assert.deepEqual([resend.message.seq, resend.created], [1, false]);
    assert.deepEqual([next.message.seq, next.created], [2, true]);
    assert.deepEqual(await storedTexts('s-resend'), ['x', 'y']);

    // a resend a fresh process has never seen (no cache): found by its cid
    const fresh = createMessageRepository(db);
    const again = await fresh.append(draft('s-resend', 'x'), 0);
    assert.deepEqual([again.message.seq, again.created], [1, false]);
    assert.deepEqual(await storedTexts('s-resend'), ['x', 'y']);
  });

  it("refuses a failed draft, every draft of its session behind it, and its sender's new ones until they come back, so that the order holds", async () => {
    const lane = countingLane();
    const store = createMessageRepository(db, lane);
    lane.failNext = 1;
    const inFailingBatch = ['f-1', 'f-2'].map((cid) => store.append(draft('s-fail', cid), 0));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const behind = store.append(draft('s-fail', 'f-3'), 0); // waits for the failing batch
    const outcomes = await Promise.allSettled([...inFailingBatch, behind]);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      const err = (o as PromiseRejectedResult).reason as { code?: string; retryAfterMs?: number };
      assert.equal(err.code, 'unavailable');
      assert.equal(err.retryAfterMs, STORE_RETRY_MS);
    }
    assert.deepEqual(await storedTexts('s-fail'), [], 'nothing stored');

    // a draft its sender had on its way before hearing of the refusal waits for them
    await assert.rejects(store.append(draft('s-fail', 'f-4'), 0), { code: 'unavailable' });
    await assert.rejects(store.append(draft('s-fail', 'f-2'), 0), { code: 'unavailable' }, 'not before f-1 either');
    // another member's does not: it owes nothing to messages never stored
    assert.equal((await store.append(draft('s-fail', 'g-1', 'agent-1'), 0)).message.seq, 1);

    const resent = await Promise.all(['f-1', 'f-2', 'f-3', 'f-4'].map((cid) => store.append(draft('s-fail', cid), 0)));
    assert.deepEqual(
      resent.map((r) => r.message.seq),
      [2, 3, 4, 5],
    );
    assert.deepEqual(await storedTexts('s-fail'), ['g-1', 'f-1', 'f-2', 'f-3', 'f-4']);
    assert.equal(await db.collection('messages').countDocuments({ _id: messageId('s-fail', 6) as never }), 0);
  });

  it("still stores a system line during such a hold: the transition it records is already made", async () => {
    const lane = countingLane();
    const store = createMessageRepository(db, lane);
    lane.failNext = 1;
    await assert.rejects(store.append(draft('s-fail-sys', 'v-1'), 0), { code: 'unavailable' });
    const closed = await store.append({ ...draft('s-fail-sys', 'sys-closed'), from: { id: 'system', kind: 'system', name: 'System' }, type: 'system' }, 0);
    assert.deepEqual([closed.message.seq, closed.created], [1, true]);
    await assert.rejects(store.append(draft('s-fail-sys', 'v-2'), 0), { code: 'unavailable' }, 'the visitor is still held');
    assert.deepEqual(await storedTexts('s-fail-sys'), ['sys-closed']);
  });

  it('tells how long the messages waiting to be stored have waited, and 0 once nothing waits', async () => {
    // a lane that holds every insert until released: a database that stopped answering
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stalled: WriteLane = { run: (write) => gate.then(write) };
    const store = createMessageRepository(db, stalled);
    assert.equal(store.lagMs(), 0, 'nothing waits');
    const first = store.append(draft('s-lag', 'one'), 0);
    const second = store.append(draft('s-lag', 'two'), 0);
    await new Promise((r) => setTimeout(r, 60));
    const waited = store.lagMs();
    assert.ok(waited >= 50, `the batch on its way has waited since its first append (${waited} ms)`);
    await new Promise((r) => setTimeout(r, 30));
    assert.ok(store.lagMs() >= waited + 20, 'and keeps growing while the store does not answer');
    release();
    assert.deepEqual((await Promise.all([first, second])).map((r) => r.message.seq), [1, 2]);
    await waitFor(() => store.lagMs() === 0, 5000, 'the lag to go back to 0');
    assert.deepEqual(await storedTexts('s-lag'), ['one', 'two']);
  });

  it("finds where a session's messages end in a few reads, however far behind the hint is (a search, not a walk)", async () => {
    const sid = 's-lagging';
    await db.collection('messages').insertMany(Array.from({ length: 300 }, (_, i) => ({ ...draft(sid, `lag-${i + 1}`), _id: messageId(sid, i + 1), seq: i + 1 })) as never[]);
    const client = await MongoClient.connect(testUrls().mongoUrl, { monitorCommands: true });
    let reads = 0;
    client.on('commandStarted', (e) => {
      if (e.commandName === 'find') reads += 1;
    });
    try {
      const store = createMessageRepository(client.db(db.databaseName));
      // a client connecting to a session whose record says 0 (its writes are coalesced) while 300 are stored
      assert.equal(await store.lastSeq(sid, 0), 300);
      assert.ok(reads <= 2 * Math.ceil(Math.log2(301)) + 1, `${reads} reads for a lag of 300 (a walk takes 301)`);
      reads = 0;
      assert.equal(await store.lastSeq(sid, 299), 300);
      assert.equal(reads, 2, 'one behind: the seq after the hint, and the one after that');
      reads = 0;
      assert.equal(await store.lastSeq(sid, 300), 300);
      assert.equal(reads, 1, 'up to date: one read');
      assert.equal(await store.lastSeq('s-empty', 0), 0);
    } finally {
      await client.close();
    }
  });
});

describe('the dedup index an earlier version made', () => {
  let db: Db;
  testDatabase('old-index', async (d) => {
    db = d;
    // as versions before the cid-first key left it: the same constraint, keyed by session first
    await db.collection('messages').createIndex({ sessionId: 1, 'from.id': 1, cid: 1 }, { name: 'session_sender_cid', unique: true });
    await createMessageRepository(db).append(draft('s-old', 'kept'), 0);
  });

  it('is replaced at start, by several instances at once, and a resend still finds its original', async () => {
    await Promise.all([ensureIndexes(db), ensureIndexes(db)]);
    const names = (await db.collection('messages').listIndexes().toArray()).map((i) => i.name as string).sort();
    assert.deepEqual(names, ['_id_', 'cid_session_sender']);

    const fresh = createMessageRepository(db);
    const again = await fresh.append(draft('s-old', 'kept'), 0);
    assert.deepEqual([again.message.seq, again.created], [1, false], 'the original, not a second copy');
    // the cid is unique per session and sender, not across them
    const other = await fresh.append(draft('s-old', 'kept', 'agent-1'), 0);
    const elsewhere = await fresh.append(draft('s-new', 'kept'), 0);
    assert.deepEqual(
      [other, elsewhere].map((r) => [r.message.seq, r.created]),
      [
        [2, true],
        [1, true],
      ],
    );
    const copies = await db.collection('messages').countDocuments({ sessionId: 's-old', 'from.id': 'visitor-1', cid: 'kept' });
    assert.equal(copies, 1);
  });

});

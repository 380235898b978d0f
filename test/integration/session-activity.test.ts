/**
 * What messages change on a session (lastSeq, lastActivityAt, each sender's
 * sentSeq) is gathered and written for all sessions together: every session
 * ends up right, reads see it before it is written, and a state change
 * written meanwhile is not undone.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Db } from 'mongodb';
import type { Session } from '../../src/domain/model.js';
import { createSessionRepository } from '../../src/store/sessions.js';
import { testDatabase } from '../helpers/infra.js';

describe('coalesced session activity', () => {
  let db: Db;
  const errors: unknown[] = [];
  testDatabase('t', (d) => {
    db = d;
  });

  const draft = (i: number): Omit<Session, 'id'> => ({
    siteId: 'site',
    state: 'queued',
    visitorId: `visitor-${i}`,
    lastSeq: 1,
    createdAt: new Date(0),
    lastActivityAt: new Date(0),
  });

  it('many sessions at once (more than one update command of FerretDB may hold) each get their own lastSeq, activity and senders', async () => {
    const sessions = createSessionRepository(db, (err) => errors.push(err));
    const ids: string[] = [];
    for (let i = 0; i < 120; i++) ids.push((await sessions.openForVisitor(draft(i))).session.id);

    for (const [i, id] of ids.entries()) {
      for (let seq = 2; seq <= 4; seq++) await sessions.noteAppended(id, seq + i, new Date(1000 * (seq + i)), seq % 2 ? `agent-${i}` : `visitor-${i}`);
      await sessions.noteAppended(id, 1, new Date(1), `visitor-${i}`); // late and older: changes nothing
    }
    const seen = await sessions.get(ids[7]!);
    assert.equal(seen?.lastSeq, 11, 'this process reads its own updates before they are written');

    await sessions.flush();
    assert.deepEqual(errors, []);
    const stored = await db.collection('sessions').find({ _id: { $in: ids as never[] } }).toArray();
    assert.equal(stored.length, 120);
    for (const doc of stored) {
      const i = ids.indexOf(doc._id as unknown as string);
      assert.equal(doc.lastSeq, 4 + i);
      assert.equal((doc.lastActivityAt as Date).getTime(), 1000 * (4 + i));
      assert.deepEqual(doc.sentSeq, { [`visitor-${i}`]: 4 + i, [`agent-${i}`]: 3 + i });
      assert.equal(doc.state, 'queued');
    }
  });

  it('a transition written while activity is being flushed keeps its state, and the activity lands too', async () => {
    const sessions = createSessionRepository(db, (err) => errors.push(err));
    const ids: string[] = [];
    for (let i = 200; i < 260; i++) ids.push((await sessions.openForVisitor(draft(i))).session.id);
    for (const id of ids) await sessions.noteAppended(id, 5, new Date(5000), 'someone');

    const flushing = sessions.flush();
    const closed = await Promise.all(ids.map((id) => sessions.transition(id, { from: ['queued'] }, { state: 'closed', closedAt: new Date(6000) })));
    await flushing;
    assert.ok(closed.every((s) => s?.state === 'closed'));

    const stored = await db.collection('sessions').find({ _id: { $in: ids as never[] } }).toArray();
    for (const doc of stored) {
      assert.equal(doc.state, 'closed');
      assert.equal(doc.lastSeq, 5);
      assert.deepEqual(doc.sentSeq, { someone: 5 });
    }
    assert.deepEqual(errors, []);
  });
});

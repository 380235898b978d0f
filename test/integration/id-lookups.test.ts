/**
 * Every hot path reads by `_id` (messages, sessions, cursors, accounts),
 * because that is the one lookup the embedded FerretDB answers from an index
 * — with the patch src/embedded/ferretdb.ts applies to its build. Released
 * FerretDB 1.24 scans the whole table instead, which made a lookup cost
 * 53 ms at 50,000 documents. On MongoDB the question does not arise.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Db } from 'mongodb';
import { testDatabase } from '../helpers/infra.js';

describe('lookups by _id', () => {
  let db: Db;
  testDatabase('idx', async (d) => {
    db = d;
    await db.collection<{ _id: string; n: number }>('messages').insertMany(Array.from({ length: 200 }, (_, n) => ({ _id: `s1:${n + 1}`, n })));
  });

  it('find the document through the _id index, not by scanning the collection', async (t) => {
    const plan = await db.command({ explain: { find: 'messages', filter: { _id: 's1:150' } } });
    if (plan.ferretdbVersion === undefined && plan.filterPushdown === undefined) {
      t.skip('not FerretDB: MongoDB answers _id lookups from its index by design');
      return;
    }
    const steps = JSON.stringify(plan.queryPlanner);
    assert.match(steps, /USING INDEX/, `the query plan scans: ${steps}`);
    assert.doesNotMatch(steps, /\bSCAN\b/, `the query plan scans: ${steps}`);
    assert.equal((await db.collection('messages').findOne({ _id: 's1:150' as never }))?.n, 149);
  });
});

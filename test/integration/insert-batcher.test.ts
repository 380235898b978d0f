import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Collection, MongoClient } from 'mongodb';
import { isDuplicateKey } from '../../src/store/ids.js';
import { createInsertBatcher } from '../../src/store/insert-batcher.js';
import { testUrls, uniqueName } from '../helpers/infra.js';

describe('batched inserts', () => {
  let client: MongoClient;
  let col: Collection<{ _id: string; n: number }>;
  const db = uniqueName('t');

  before(async () => {
    client = new MongoClient(testUrls().mongoUrl);
    col = client.db(db).collection('docs');
    await col.insertOne({ _id: 'taken', n: 0 });
  });
  after(async () => {
    await client.db(db).dropDatabase();
    await client.close();
  });

  it('concurrent inserts are stored together, and only the one with a duplicate key fails, with the duplicate-key error', async () => {
    const batcher = createInsertBatcher(col);
    const ids = ['a', 'b', 'taken', 'c', 'd'];
    const results = await Promise.allSettled(ids.map((id, n) => batcher.insert({ _id: id, n })));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.ok(isDuplicateKey((results[2] as PromiseRejectedResult).reason));
    const stored = await col.find({}).sort({ _id: 1 }).toArray();
    assert.deepEqual(stored.map((d) => d._id), ['a', 'b', 'c', 'd', 'taken']);
    assert.equal(stored.find((d) => d._id === 'taken')!.n, 0, 'the earlier document is untouched');
  });

  it('more inserts than one batch holds are all stored, each answered once', async () => {
    const batcher = createInsertBatcher(col, { maxBatch: 7 });
    const ids = Array.from({ length: 50 }, (_, i) => `many-${i}`);
    await Promise.all(ids.map((id, n) => batcher.insert({ _id: id, n })));
    assert.equal(await col.countDocuments({ _id: { $in: ids } }), 50);
  });

  it('inserts that come while a batch is being stored wait and leave together in the next one', async () => {
    const sizes: number[] = [];
    const counting = {
      insertMany: (docs: Parameters<typeof col.insertMany>[0], options: Parameters<typeof col.insertMany>[1]) => {
        sizes.push(docs.length);
        return col.insertMany(docs, options);
      },
    } as unknown as typeof col;
    const batcher = createInsertBatcher(counting);
    const first = batcher.insert({ _id: 'gather-0', n: 0 });
    await new Promise((resolve) => setImmediate(resolve)); // the first batch has left, alone
    const rest = Array.from({ length: 20 }, (_, i) => batcher.insert({ _id: `gather-${i + 1}`, n: i + 1 }));
    await Promise.all([first, ...rest]);
    assert.deepEqual(sizes, [1, 20]);
  });
});

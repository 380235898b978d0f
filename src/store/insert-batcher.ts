/**
 * Groups concurrent inserts into one collection into one unordered
 * `insertMany`: each caller still learns about its own document only (stored,
 * or the error it alone caused, such as a duplicate key), and only once the
 * batch is stored, so "answer `sent` only after storing" holds unchanged.
 * Batches form as domain/gatherer.ts says: one document and no added delay
 * under light load; under load, documents gather while the previous batch is
 * being stored, so batches grow with the load instead of the statements.
 *
 * Why: the embedded FerretDB writes one statement at a time, and one
 * insertMany of 100 costs about what 6 insertOne calls do.
 */
import type { Collection, Document, MongoBulkWriteError, OptionalUnlessRequiredId } from 'mongodb';
import { createGatherer } from '../domain/gatherer.js';
import { createWriteLane, type WriteLane } from './write-lane.js';

interface Pending<T> {
  doc: T;
  resolve(): void;
  reject(err: unknown): void;
}

export interface InsertBatcher<T extends Document> {
  insert(doc: T): Promise<void>;
}

export interface InsertBatcherOptions {
  /** the lane this process's frequent writes share (write-lane.ts); a lane of its own by default */
  lane?: WriteLane;
  maxBatch?: number;
}

export function createInsertBatcher<T extends Document>(col: Collection<T>, opts: InsertBatcherOptions = {}): InsertBatcher<T> {
  const lane = opts.lane ?? createWriteLane();
  const maxBatch = opts.maxBatch ?? 200;

  async function store(batch: Pending<T>[]) {
    try {
      await lane.run(() =>
        col.insertMany(
          batch.map((p) => p.doc as OptionalUnlessRequiredId<T>),
          { ordered: false },
        ),
      );
      for (const p of batch) p.resolve();
    } catch (err) {
      const failed = new Map<number, unknown>();
      for (const w of (err as MongoBulkWriteError).writeErrors ? [(err as MongoBulkWriteError).writeErrors].flat() : []) {
        failed.set(w.index, Object.assign(new Error(w.errmsg ?? 'write error'), { code: w.code }));
      }
      if (failed.size === 0) {
        // the whole command failed (connection, server): nobody's document is known stored
        for (const p of batch) p.reject(err);
        return;
      }
      batch.forEach((p, i) => (failed.has(i) ? p.reject(failed.get(i)) : p.resolve()));
    }
  }

  const gatherer = createGatherer({ maxBatch, send: store });

  return {
    insert(doc) {
      return new Promise<void>((resolve, reject) => gatherer.add({ doc, resolve, reject }));
    },
  };
}

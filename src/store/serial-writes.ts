/**
 * FerretDB (the SQLite backend that runs when there is no mongod) applies an
 * update by reading the document and writing it back whole, with no check
 * that it is still the document it read (FerretDB issue #3040). Two
 * conditional updates of one document at once can then both match (two
 * agents both accept one session), and any two can undo each other (twenty
 * concurrent `$inc: 1` add up to 7). So repositories send the updates of one
 * document one at a time from this process. MongoDB is atomic per document
 * without this; several instances sharing one FerretDB are not made safe by it.
 */
import { KeyedQueue } from '../domain/keyed-queue.js';

export interface SerialWrites {
  /** Runs `write` after every earlier write of the same document id in this process. */
  <T>(id: string, write: () => Promise<T>): Promise<T>;
  /**
   * Runs `write` (one bulk statement over several documents) once every
   * earlier write of each of `ids` is done, holding later writes of them until
   * it is. Every caller queues on all its ids at once, so two of these never
   * wait on each other in a cycle.
   */
  all<T>(ids: string[], write: () => Promise<T>): Promise<T>;
}

export function serialWrites(): SerialWrites {
  const queue = new KeyedQueue();
  const one = <T>(id: string, write: () => Promise<T>) => queue.run(id, write);
  async function all<T>(ids: string[], write: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const turns = [...new Set(ids)].map((id) => new Promise<void>((ready) => void queue.run(id, () => (ready(), released))));
    try {
      await Promise.all(turns);
      return await write();
    } finally {
      release();
    }
  }
  return Object.assign(one, { all });
}

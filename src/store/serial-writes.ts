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

/** Runs `write` after every earlier write of the same document id in this process. */
export type SerialWrites = <T>(id: string, write: () => Promise<T>) => Promise<T>;

export function serialWrites(): SerialWrites {
  const queue = new KeyedQueue();
  return (id, write) => queue.run(id, write);
}

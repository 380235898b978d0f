/**
 * Gathers items into batches with one batch on its way at a time. A batch
 * leaves when the event loop has handled what was ready (setImmediate) and
 * no batch is on its way, or when it is full: under light load that is one
 * item and no added delay; under load, items gather while the previous batch
 * is on its way, so batches grow with the load instead of the round trips.
 * In-process scheduling only; `send` does the I/O and answers the items'
 * callers itself (it should not throw: a batch that throws is gone).
 */
export interface Gatherer<T> {
  /** Throws once closed. */
  add(item: T): void;
  /** Stops sending and hands back what was waiting (a batch on its way finishes). */
  close(): T[];
}

export function createGatherer<T>(opts: { maxBatch: number; send(batch: T[]): Promise<void> }): Gatherer<T> {
  const waiting: T[] = [];
  let scheduled = false;
  let sending = false;
  let closed = false;

  function schedule(): void {
    if (scheduled || sending || closed || waiting.length === 0) return;
    scheduled = true;
    setImmediate(() => void flush());
  }

  async function flush(): Promise<void> {
    scheduled = false;
    if (sending || closed) return;
    const batch = waiting.splice(0, opts.maxBatch);
    if (batch.length === 0) return;
    sending = true;
    try {
      await opts.send(batch);
    } finally {
      sending = false;
      schedule();
    }
  }

  return {
    add(item) {
      if (closed) throw new Error('the gatherer is closed');
      waiting.push(item);
      schedule();
    },
    close() {
      closed = true;
      return waiting.splice(0);
    },
  };
}

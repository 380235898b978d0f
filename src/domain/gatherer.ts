/**
 * Gathers items into batches with `maxInFlight` batches on their way at a
 * time (one by default). A batch leaves when the event loop has handled what
 * was ready (setImmediate) and fewer are on their way, or when it is full:
 * under light load that is one item and no added delay; under load, items
 * gather while the previous batch is on its way, so batches grow with the
 * load instead of the round trips.
 * `waitMs` may hold a batch a little longer for more items, given the size of
 * the last one (a store whose every batch costs a commit wants fewer, fuller
 * ones once the load is there; a lone item still leaves at once). The wait
 * counts from the batch's oldest item: items that gathered while the
 * previous batch was on its way have waited already and leave as soon as it
 * is done, before its callers' work on its results (their I/O then overlaps
 * the next batch's), so under load batches follow each other without a gap.
 * In-process scheduling only; `send` does the I/O and answers the items'
 * callers itself (it should not throw: a batch that throws is gone).
 */
export interface Gatherer<T> {
  /** Throws once closed. */
  add(item: T): void;
  /** Stops sending and hands back what was waiting (a batch on its way finishes). */
  close(): T[];
}

export interface GathererOptions<T> {
  maxBatch: number;
  send(batch: T[]): Promise<void>;
  /** how long a batch's oldest item may wait for more to join it, given the last batch's size (default: none) */
  waitMs?: (lastBatchSize: number) => number;
  /** batches on their way at once (default 1) */
  maxInFlight?: number;
}

export function createGatherer<T>(opts: GathererOptions<T>): Gatherer<T> {
  const waiting: T[] = [];
  /** when each waiting item was added (performance.now()), in the same order */
  const arrivals: number[] = [];
  let scheduled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const maxInFlight = opts.maxInFlight ?? 1;
  let inFlight = 0;
  let closed = false;
  let lastSize = 0;

  /** `justSent`: a batch is done, and what waits gathered while it was on its way. */
  function schedule(justSent = false): void {
    if (scheduled || inFlight >= maxInFlight || closed || waiting.length === 0) return;
    scheduled = true;
    const ms = (opts.waitMs?.(lastSize) ?? 0) - (performance.now() - arrivals[0]!);
    if (ms > 0) timer = setTimeout(() => void flush(), ms);
    // at once, before the callers of the last batch run on its results: the next batch's I/O overlaps that work
    else if (justSent) void flush();
    else setImmediate(() => void flush());
  }

  async function flush(): Promise<void> {
    scheduled = false;
    clearTimeout(timer);
    timer = undefined;
    if (inFlight >= maxInFlight || closed) return;
    const batch = waiting.splice(0, opts.maxBatch);
    arrivals.splice(0, batch.length);
    if (batch.length === 0) return;
    lastSize = batch.length;
    inFlight += 1;
    try {
      await opts.send(batch);
    } finally {
      inFlight -= 1;
      schedule(true);
    }
  }

  return {
    add(item) {
      if (closed) throw new Error('the gatherer is closed');
      waiting.push(item);
      arrivals.push(performance.now());
      // a full batch waits no longer
      if (timer && waiting.length >= opts.maxBatch) void flush();
      else schedule();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      arrivals.length = 0;
      return waiting.splice(0);
    },
  };
}

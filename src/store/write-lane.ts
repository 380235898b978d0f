/**
 * One lane for this process's frequent writes (message inserts, read cursors,
 * session activity): at most `concurrency` statements at a time (one by
 * default). The embedded FerretDB (SQLite) applies one write at a time; before
 * its build queued writes on a mutex (src/embedded/ferretdb.ts, patch 4), two
 * writes sent together made one of them wait on the database lock with
 * sleeping back-off, and those waits were the send-to-deliver p99 (measured
 * at 1,000 msg/s over 100 sessions: 257 ms with the activity updates running
 * beside the inserts, 38 ms without them). Two at a time keep the next write
 * waiting in the server, ready to start the moment the last one commits.
 *
 * Writes someone is waiting for go first, in the order they asked; a
 * `background` write (the coalesced session activity, which nobody waits
 * for) takes the lane when nothing else waits, or once it has waited
 * `maxBackgroundWaitMs`, so it is slowed by load, never starved. Rare writes
 * (transitions, accounts) stay outside the lane.
 */
export interface WriteLane {
  run<T>(write: () => Promise<T>, opts?: { background?: boolean }): Promise<T>;
}

interface Waiting {
  start(): void;
  since: number;
}

export function createWriteLane(opts: { maxBackgroundWaitMs?: number; now?: () => number; concurrency?: number } = {}): WriteLane {
  const maxWait = opts.maxBackgroundWaitMs ?? 250;
  const concurrency = opts.concurrency ?? 1;
  const now = opts.now ?? Date.now;
  const urgent: Waiting[] = [];
  const background: Waiting[] = [];
  let running = 0;

  function next(): void {
    if (running >= concurrency) return;
    const overdue = background.length > 0 && now() - background[0]!.since >= maxWait;
    const item = overdue || urgent.length === 0 ? background.shift() : urgent.shift();
    if (!item) return;
    running += 1;
    item.start();
  }

  return {
    run(write, { background: isBackground = false } = {}) {
      return new Promise((resolve, reject) => {
        const item: Waiting = {
          since: now(),
          start: () => {
            write()
              .then(resolve, reject)
              .finally(() => {
                running -= 1;
                next();
              });
          },
        };
        (isBackground ? background : urgent).push(item);
        next();
      });
    },
  };
}

/**
 * One lane for this process's frequent writes (message inserts, read cursors,
 * session activity): statements go one at a time. The embedded FerretDB
 * (SQLite) applies one write at a time; two writes sent together make one of
 * them wait on the database lock with back-off, and those waits were the
 * send-to-deliver p99 (measured at 1,000 msg/s over 100 sessions: 257 ms
 * with the activity updates running beside the inserts, 38 ms without them).
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

export function createWriteLane(opts: { maxBackgroundWaitMs?: number; now?: () => number } = {}): WriteLane {
  const maxWait = opts.maxBackgroundWaitMs ?? 250;
  const now = opts.now ?? Date.now;
  const urgent: Waiting[] = [];
  const background: Waiting[] = [];
  let busy = false;

  function next(): void {
    if (busy) return;
    const overdue = background.length > 0 && now() - background[0]!.since >= maxWait;
    const item = overdue || urgent.length === 0 ? background.shift() : urgent.shift();
    if (!item) return;
    busy = true;
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
                busy = false;
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

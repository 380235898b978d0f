/**
 * Runs tasks one after another per key (tasks of different keys run
 * concurrently). In-process only: it cuts contention, it is not what makes
 * anything correct across instances — the stores' atomic updates do that.
 */
export class KeyedQueue {
  /** created on first use: one of these sits on every idle connection */
  private tails: Map<string, Promise<unknown>> | undefined;

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const tails = (this.tails ??= new Map());
    const prev = tails.get(key) ?? Promise.resolve();
    const next = prev.then(task, task);
    const tail = next.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return next;
  }

  /** true when no task of `key` is running or waiting */
  idle(key: string): boolean {
    return !this.tails?.has(key);
  }

  get size(): number {
    return this.tails?.size ?? 0;
  }
}

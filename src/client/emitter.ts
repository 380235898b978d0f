/**
 * A tiny typed emitter (no Node `events`, so the SDK runs in browsers).
 *
 * A listener that throws must not break the client's bookkeeping halfway
 * through a frame, so each listener runs isolated and its error is rethrown on
 * a fresh microtask: it still reaches window.onerror or Node's
 * uncaughtException, as it would from a DOM event listener.
 */

export type Listener<T> = (payload: T) => void;

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Subscribes; returns the matching unsubscribe. */
  on<K extends keyof Events>(event: K, cb: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(cb as Listener<never>);
    return () => this.off(event, cb);
  }

  off<K extends keyof Events>(event: K, cb: Listener<Events[K]>): void {
    this.listeners.get(event)?.delete(cb as Listener<never>);
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) return;
    // A copy, so that on/off inside a listener affects the next emit only.
    for (const cb of [...set] as Listener<Events[K]>[]) {
      try {
        cb(payload);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}

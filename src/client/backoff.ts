/**
 * Full-jitter exponential backoff: delay = random() * min(max, min * 2^attempt).
 * The jitter spreads clients that lost the same instance over the whole window,
 * so a restart is not followed by a synchronized reconnect storm.
 */

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** uniform in [0, 1); injectable so tests are deterministic */
  random?: () => number;
}

export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  // 2 ** attempt overflows to Infinity for large attempts, and min() absorbs that.
  const cap = Math.min(opts.maxMs, opts.minMs * 2 ** Math.max(0, attempt));
  const r = (opts.random ?? Math.random)();
  // A bad injected random() must not produce a negative or NaN timer.
  return Number.isFinite(r) ? Math.min(Math.max(r, 0), 1) * cap : cap;
}

/** Counts attempts; `reset()` after a success starts the window small again. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** the delay before the next attempt; each call widens the window */
  next(): number {
    return backoffDelay(this.attempt++, this.opts);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/**
 * The service's metrics: one prom-client registry per app instance (so two
 * instances in one process, as in the tests, never share counters), with
 * Node.js process metrics and the service's own.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { METRIC, REFUSAL_REASONS, type RefusalReason } from './names.js';

export interface Metrics {
  registry: Registry;
  /** counts one refusal (a rate limit, slow mode, a connection limit or overload) */
  refused(reason: RefusalReason): void;
  /** a gauge whose value is read at each scrape (its name from names.ts, as every metric's) */
  gauge(name: (typeof METRIC)[keyof typeof METRIC], help: string, read: () => number): void;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const refusals = new Counter({
    name: METRIC.refusals,
    help: 'Work refused to protect the service, by the limit that refused it',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  // Every reason is exported from the start at 0, so rate() and alerts see a series before the first refusal.
  for (const reason of REFUSAL_REASONS) refusals.inc({ reason }, 0);
  return {
    registry,
    refused: (reason) => refusals.inc({ reason }),
    gauge(name, help, read) {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(read());
        },
      });
    },
  };
}

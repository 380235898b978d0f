/** Prometheus metrics: the registry and the service's counters, served at GET /metrics (src/routes/metrics.ts). */
import fp from 'fastify-plugin';
import { createMetrics, type Metrics } from '../src/metrics/metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

export default fp(
  async (app) => {
    const metrics = createMetrics();
    app.decorate('metrics', metrics);
    app.addHook('onClose', async () => metrics.registry.clear());
  },
  { name: 'metrics' },
);

/** GET /metrics: Prometheus text exposition, outside /api/v1 and answered under overload too (that is when it is needed). */
import type { FastifyPluginAsync } from 'fastify';

const routes: FastifyPluginAsync = async (app) => {
  app.get('/metrics', { schema: { hide: true }, config: { overloadExempt: true } }, async (_request, reply) => {
    const text = await app.metrics.registry.metrics();
    return reply.type(app.metrics.registry.contentType).send(text);
  });
};

export default routes;

/**
 * GET /metrics: Prometheus text exposition, outside /api/v1 and answered
 * under overload too (that is when it is needed). With a token configured
 * (METRICS_TOKEN), only a scraper that presents it gets the figures.
 */
import type { FastifyPluginAsync } from 'fastify';
import { safeEqual } from '../domain/secrets.js';
import { errorBody } from '../errors.js';
import { bearerToken } from './bearer.js';

const routes: FastifyPluginAsync<{ token?: string }> = async (app, { token }) => {
  app.get('/metrics', { schema: { hide: true }, config: { overloadExempt: true } }, async (request, reply) => {
    if (token !== undefined) {
      const presented = bearerToken(request.headers.authorization);
      if (!presented || !safeEqual(presented, token)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send(errorBody('unauthorized', 'send Authorization: Bearer <METRICS_TOKEN>'));
      }
    }
    const text = await app.metrics.registry.metrics();
    return reply.type(app.metrics.registry.contentType).send(text);
  });
};

export default routes;

/** Liveness and readiness for load balancers and orchestrators. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get('/health/live', { schema: { tags: ['health'], summary: 'The process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));

  app.get(
    '/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'MongoDB and Redis are reachable (503 otherwise)',
        response: {
          200: Type.Object({ status: Type.String(), mongo: Type.Boolean(), redis: Type.Boolean(), connections: Type.Integer() }),
          503: Type.Object({ status: Type.String(), mongo: Type.Boolean(), redis: Type.Boolean(), connections: Type.Integer() }),
        },
      },
    },
    async (_request, reply) => {
      const [mongo, redis] = await Promise.all([app.mongo.ping(), app.queues.ping()]);
      const ok = mongo && redis;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', mongo, redis, connections: app.gateway.connectionCount });
    },
  );
};

export default routes;

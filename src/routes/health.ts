/**
 * Liveness and readiness for load balancers and orchestrators. Both are
 * answered under overload: liveness stays 200 (restarting an overloaded
 * process helps nobody), readiness turns 503 (send new work elsewhere).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const Readiness = Type.Object({ status: Type.String(), mongo: Type.Boolean(), redis: Type.Boolean(), overloaded: Type.Boolean(), connections: Type.Integer() });

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health/live',
    { config: { overloadExempt: true }, schema: { tags: ['health'], summary: 'The process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    {
      config: { overloadExempt: true },
      schema: {
        tags: ['health'],
        summary: 'MongoDB and Redis are reachable and the instance is not overloaded (503 otherwise)',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const [mongo, redis] = await Promise.all([app.mongo.ping(), app.queues.ping()]);
      const overloaded = app.refusesNewWork();
      const ok = mongo && redis && !overloaded;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', mongo, redis, overloaded, connections: app.gateway.connectionCount });
    },
  );
};

export default routes;

/**
 * Liveness and readiness for load balancers and orchestrators. Both are
 * answered under overload: liveness stays 200 (restarting an overloaded
 * process helps nobody), readiness turns 503 (send new work elsewhere).
 * Readiness answers within PING_TIMEOUT_MS even when MongoDB or Redis hangs
 * rather than refuses: a ping not answered by then counts as unreachable.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

/** longest a readiness check waits for a ping */
const PING_TIMEOUT_MS = 2000;

/** `ping`'s answer, or false once PING_TIMEOUT_MS has passed without one */
function answered(ping: Promise<boolean>): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS)));
  return Promise.race([ping, late]).finally(() => clearTimeout(timer));
}

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
      const [mongo, redis] = await Promise.all([answered(app.mongo.ping()), answered(app.queues.ping())]);
      // this instance's own overload: a store that falls behind does so for every instance (plugins/pressure.ts)
      const overloaded = app.isUnderPressure();
      const ok = mongo && redis && !overloaded;
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', mongo, redis, overloaded, connections: app.gateway.connectionCount });
    },
  );
};

export default routes;

/** Slow mode of a site (site admin): each visitor may send one message per `seconds`; agents and bots are never slowed. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Bearer, errors } from './schemas.js';

/** an hour: longer is not slow mode but a ban */
const MAX_SLOW_MODE_SECONDS = 3600;

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.put(
    '/slow-mode',
    {
      schema: {
        tags: ['sites'],
        summary: "Set the site's slow mode: one message per `seconds` per visitor, 0 turns it off (site admin)",
        description: 'Effective at once on the instance that answers, and on every other instance within a second. A refused message gets `rate_limited` with Retry-After.',
        security: Bearer,
        body: Type.Object({ seconds: Type.Integer({ minimum: 0, maximum: MAX_SLOW_MODE_SECONDS }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ slowMode: Type.Object({ seconds: Type.Integer() }) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const siteId = await app.auth.requireSiteAdmin(request);
      const site = await app.domain.chat.setSlowMode(siteId, request.body.seconds);
      return { slowMode: { seconds: site.slowModeSeconds ?? 0 } };
    },
  );
};

export default routes;

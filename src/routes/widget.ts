/** What the widget needs before a visitor has a token: the site's name and whether anyone can answer. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { notFound } from '../errors.js';
import { errors } from './schemas.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/widget',
    {
      schema: {
        tags: ['visitors'],
        summary: "The widget's view of a site: its name and how many agents are online (public: the site key sits in the host page)",
        querystring: Type.Object({ siteKey: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ name: Type.String(), agentsOnline: Type.Integer() }), ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      const site = await app.domain.directory.site(request.query.siteKey);
      if (!site) throw notFound('site');
      const online = await app.broker.onlineAgents(site.id);
      reply.header('cache-control', 'no-store');
      return { name: site.name, agentsOnline: online.length };
    },
  );
};

export default routes;

/** Sites (tenants): created by the operator. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Bearer, SiteSchema, errors } from './schemas.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/sites',
    {
      schema: {
        tags: ['sites'],
        summary: 'Create a site (operator)',
        security: Bearer,
        body: Type.Object(
          {
            name: Type.String({ minLength: 1, maxLength: 200 }),
            allowedOrigins: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 300, pattern: '^https?://[^/\\s]+$' }), { maxItems: 50 })),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ site: SiteSchema, adminKey: Type.String(), siteKey: Type.String(), identitySecret: Type.String() }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      await app.auth.requireOperator(request);
      const created = await app.domain.directory.createSite(request.body);
      const { identitySecret: _secret, ...site } = created.site;
      return reply.code(201).send({ ...created, site: { ...site, createdAt: site.createdAt.toISOString() } });
    },
  );
};

export default routes;

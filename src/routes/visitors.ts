/** Visitor tokens (from the public site key) and agent login. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { publicAccount } from './agents.js';
import { AccountSchema, errors } from './schemas.js';

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/visitors',
    {
      schema: {
        tags: ['visitors'],
        summary: 'Get a visitor token for a site (anonymous, or identified with an HMAC)',
        body: Type.Object(
          {
            siteKey: Type.String({ minLength: 1, maxLength: 100 }),
            identity: Type.Optional(
              Type.Object(
                {
                  userId: Type.String({ minLength: 1, maxLength: 200 }),
                  name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
                  email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
                  hash: Type.String({ minLength: 64, maxLength: 64, pattern: '^[0-9a-fA-F]+$' }),
                },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ token: Type.String(), visitor: AccountSchema }), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { visitor } = await app.domain.directory.visitor(request.body.siteKey, request.body.identity);
      return reply.code(201).send({ token: app.auth.issue(visitor), visitor: publicAccount(visitor) });
    },
  );

  app.post(
    '/auth/login',
    {
      schema: {
        tags: ['agents'],
        summary: 'Agent login',
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 254 }),
            password: Type.String({ minLength: 1, maxLength: 200 }),
            siteId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ token: Type.String(), agent: AccountSchema }), ...errors(400, 401) },
      },
    },
    async (request) => {
      const agent = await app.domain.directory.login(request.body);
      return { token: app.auth.issue(agent), agent: publicAccount(agent) };
    },
  );
};

export default routes;

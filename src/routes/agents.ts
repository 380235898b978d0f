/** Agents and bots of a site: created by the site admin; agents list their colleagues (for transfers). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Account } from '../domain/model.js';
import { forbidden } from '../errors.js';
import { AccountSchema, Bearer, errors } from './schemas.js';

export function publicAccount(a: Account) {
  return {
    id: a.id,
    siteId: a.siteId,
    kind: a.kind,
    name: a.name,
    ...(a.email ? { email: a.email } : {}),
    ...(a.maxSessions !== undefined ? { maxSessions: a.maxSessions } : {}),
    ...(a.userId ? { userId: a.userId } : {}),
    ...(a.webhookUrl ? { webhookUrl: a.webhookUrl } : {}),
  };
}

const routes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/agents',
    {
      schema: {
        tags: ['agents'],
        summary: 'Create an agent (site admin)',
        security: Bearer,
        body: Type.Object(
          {
            email: Type.String({ format: 'email', maxLength: 254 }),
            name: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 8, maxLength: 200 }),
            maxSessions: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ agent: AccountSchema }), ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const siteId = await app.auth.requireSiteAdmin(request);
      const agent = await app.domain.directory.createAgent(siteId, request.body);
      return reply.code(201).send({ agent: publicAccount(agent) });
    },
  );

  app.get(
    '/agents',
    {
      schema: {
        tags: ['agents'],
        summary: "The site's agents with their presence (site admin or agent)",
        security: Bearer,
        response: {
          200: Type.Object({ agents: Type.Array(Type.Intersect([AccountSchema, Type.Object({ online: Type.Boolean(), devices: Type.Integer() })])) }),
          ...errors(401, 403),
        },
      },
    },
    async (request) => {
      const p = await app.auth.principal(request);
      if (p.kind !== 'siteAdmin' && p.kind !== 'agent') throw forbidden('site admin or agent only');
      const siteId = p.siteId;
      const agents = await app.domain.directory.listAgents(siteId);
      const devices = await Promise.all(agents.map((a) => app.broker.devices(a.id)));
      return { agents: agents.map((a, i) => ({ ...publicAccount(a), online: (devices[i] ?? 0) > 0, devices: devices[i] ?? 0 })) };
    },
  );

  app.post(
    '/bots',
    {
      schema: {
        tags: ['bots'],
        summary: 'Create a bot (site admin); its token and webhook secret are shown once',
        security: Bearer,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }), webhookUrl: Type.String({ format: 'uri', pattern: '^https?://', maxLength: 2000 }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ bot: AccountSchema, token: Type.String(), webhookSecret: Type.String() }), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const siteId = await app.auth.requireSiteAdmin(request);
      const { bot, token, webhookSecret } = await app.domain.directory.createBot(siteId, request.body);
      return reply.code(201).send({ bot: publicAccount(bot), token, webhookSecret });
    },
  );

  app.put(
    '/routing',
    {
      schema: {
        tags: ['sites'],
        summary: 'Set session routing for the site (site admin)',
        security: Bearer,
        body: Type.Object(
          {
            mode: Type.Union([Type.Literal('human'), Type.Literal('bot-first')]),
            botId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            assign: Type.Union([Type.Literal('manual'), Type.Literal('auto')]),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ routing: Type.Object({ mode: Type.String(), botId: Type.Optional(Type.String()), assign: Type.String() }) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const siteId = await app.auth.requireSiteAdmin(request);
      const site = await app.domain.chat.setRouting(siteId, request.body);
      return { routing: site.routing };
    },
  );
};

export default routes;

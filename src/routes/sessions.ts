/** Sessions and their messages: the same domain operations the WebSocket gateway calls. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { LIMITS, SessionStateSchema } from '../protocol/frames.js';
import { toMessageObject, toSessionObject } from '../protocol/serialize.js';
import { publicAccount } from './agents.js';
import { AccountSchema, Bearer, Id, MessageSchema, SessionSchema, errors } from './schemas.js';

const Params = Type.Object({ id: Id });
const SessionReply = Type.Object({ session: SessionSchema });

const routes: FastifyPluginAsyncTypebox = async (app) => {
  const { chat } = app.domain;

  app.post(
    '/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Start a session (visitor); returns the open one if there is one',
        security: Bearer,
        body: Type.Optional(
          Type.Object(
            {
              topic: Type.Optional(Type.String({ maxLength: 200 })),
              page: Type.Optional(
                Type.Object(
                  { url: Type.String({ minLength: 1, maxLength: 2000, pattern: '^https?://' }), title: Type.Optional(Type.String({ maxLength: 300 })) },
                  { additionalProperties: false },
                ),
              ),
            },
            { additionalProperties: false },
          ),
        ),
        response: { 200: SessionReply, 201: SessionReply, ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const actor = await app.auth.requireActor(request, ['visitor']);
      const { topic, page } = request.body ?? {};
      const { session, created } = await chat.startSession(actor, { ...(topic ? { topic } : {}), ...(page ? { page } : {}) });
      return reply.code(created ? 201 : 200).send({ session: toSessionObject(session) });
    },
  );

  app.get(
    '/sessions',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Sessions the caller may see (agents: the queue and their own)',
        security: Bearer,
        querystring: Type.Object({ state: Type.Optional(SessionStateSchema) }, { additionalProperties: false }),
        response: { 200: Type.Object({ sessions: Type.Array(SessionSchema) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent', 'visitor', 'bot']);
      const sessions = await chat.listSessions(actor, request.query.state);
      return { sessions: sessions.map(toSessionObject) };
    },
  );

  app.get(
    '/sessions/:id',
    {
      schema: {
        tags: ['sessions'],
        summary: "One session, with its visitor (name, and for identified visitors userId and email) and the visitor's read position",
        security: Bearer,
        params: Params,
        response: { 200: Type.Object({ session: SessionSchema, visitor: Type.Optional(AccountSchema), visitorReadSeq: Type.Integer() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent', 'visitor', 'bot']);
      const { session, visitor, visitorReadSeq } = await chat.sessionVisitor(actor, request.params.id);
      return { session: toSessionObject(session), ...(visitor ? { visitor: publicAccount(visitor) } : {}), visitorReadSeq };
    },
  );

  app.post(
    '/sessions/:id/accept',
    { schema: { tags: ['sessions'], summary: 'Accept a queued session (agent)', security: Bearer, params: Params, response: { 200: SessionReply, ...errors(400, 401, 403, 404, 409) } } },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent']);
      return { session: toSessionObject(await chat.acceptSession(actor, request.params.id)) };
    },
  );

  app.post(
    '/sessions/:id/transfer',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Transfer to an agent, or back to the queue without one (assigned agent or bot)',
        security: Bearer,
        params: Params,
        body: Type.Optional(Type.Object({ toAgentId: Type.Optional(Id) }, { additionalProperties: false })),
        response: { 200: SessionReply, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent', 'bot']);
      const toAgentId = request.body?.toAgentId;
      return { session: toSessionObject(await chat.transferSession(actor, request.params.id, toAgentId ? { toAgentId } : {})) };
    },
  );

  app.post(
    '/sessions/:id/close',
    {
      schema: {
        tags: ['sessions'],
        summary: 'Close (visitor, assigned agent or bot)',
        security: Bearer,
        params: Params,
        body: Type.Optional(Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false })),
        response: { 200: SessionReply, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent', 'visitor', 'bot']);
      const reason = request.body?.reason;
      return { session: toSessionObject(await chat.closeSession(actor, request.params.id, reason ? { reason } : {})) };
    },
  );

  app.post(
    '/sessions/:id/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'Send a message; the same cid again returns the same message',
        security: Bearer,
        params: Params,
        body: Type.Object(
          { cid: Type.String({ minLength: 1, maxLength: LIMITS.idLength, pattern: '^[A-Za-z0-9_:.-]+$' }), text: Type.String({ minLength: 1 }) },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ message: MessageSchema }), ...errors(400, 401, 403, 404, 409, 413, 429, 503) },
      },
    },
    async (request, reply) => {
      const actor = await app.auth.requireActor(request, ['agent', 'visitor', 'bot']);
      const message = await chat.sendMessage(actor, request.params.id, request.body);
      return reply.code(201).send({ message: toMessageObject(message) });
    },
  );

  app.get(
    '/sessions/:id/messages',
    {
      schema: {
        tags: ['messages'],
        summary: 'History, ascending by seq',
        security: Bearer,
        params: Params,
        querystring: Type.Object(
          { after: Type.Integer({ minimum: 0, default: 0 }), limit: Type.Integer({ minimum: 1, maximum: LIMITS.syncLimit, default: 100 }) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ messages: Type.Array(MessageSchema), lastSeq: Type.Integer() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent', 'visitor', 'bot']);
      const { session, messages } = await chat.history(actor, request.params.id, request.query.after, request.query.limit);
      const lastSeq = Math.max(session.lastSeq, messages.at(-1)?.seq ?? 0);
      return { messages: messages.map(toMessageObject), lastSeq };
    },
  );

  app.post(
    '/sessions/:id/read',
    {
      schema: {
        tags: ['messages'],
        summary: 'Move the read cursor (never backwards)',
        security: Bearer,
        params: Params,
        body: Type.Object({ seq: Type.Integer({ minimum: 0 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ readSeq: Type.Integer() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent', 'visitor', 'bot']);
      return { readSeq: await chat.markRead(actor, request.params.id, request.body.seq) };
    },
  );

  app.get(
    '/unread',
    {
      schema: {
        tags: ['messages'],
        summary: 'Unread messages per open session and in total',
        security: Bearer,
        response: { 200: Type.Object({ total: Type.Integer(), sessions: Type.Record(Type.String(), Type.Integer()) }), ...errors(401, 403) },
      },
    },
    async (request) => {
      const actor = await app.auth.requireActor(request, ['agent', 'visitor']);
      return chat.unread(actor);
    },
  );
};

export default routes;

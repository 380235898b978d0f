/**
 * Every WebSocket frame of shared/PROTOCOL.md as a TypeBox schema; the types
 * are derived from the schemas, so what is checked and what is typed cannot
 * drift. Shared by the gateway and the client SDK.
 */
import { Type, type Static } from 'typebox';

export const LIMITS = {
  /** longest id or cid a client may send */
  idLength: 64,
  /** most messages one sync may ask for */
  syncLimit: 200,
} as const;

const Id = Type.String({ minLength: 1, maxLength: LIMITS.idLength, pattern: '^[A-Za-z0-9_:.-]+$' });
const Seq = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

// ---- client -> server ----------------------------------------------------

export const AuthFrame = Type.Object({ t: Type.Literal('auth'), token: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false });
export const SendFrame = Type.Object(
  {
    t: Type.Literal('send'),
    sid: Id,
    cid: Id,
    body: Type.Object({ text: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export const AckFrame = Type.Object({ t: Type.Literal('ack'), sid: Id, seq: Seq }, { additionalProperties: false });
export const ReadFrame = Type.Object({ t: Type.Literal('read'), sid: Id, seq: Seq }, { additionalProperties: false });
export const SyncFrame = Type.Object(
  { t: Type.Literal('sync'), sid: Id, after: Seq, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIMITS.syncLimit })) },
  { additionalProperties: false },
);
export const TypingFrame = Type.Object({ t: Type.Literal('typing'), sid: Id }, { additionalProperties: false });
export const PingFrame = Type.Object({ t: Type.Literal('ping') }, { additionalProperties: false });

export const CLIENT_FRAMES = {
  auth: AuthFrame,
  send: SendFrame,
  ack: AckFrame,
  read: ReadFrame,
  sync: SyncFrame,
  typing: TypingFrame,
  ping: PingFrame,
} as const;

export type AuthFrame = Static<typeof AuthFrame>;
export type SendFrame = Static<typeof SendFrame>;
export type AckFrame = Static<typeof AckFrame>;
export type ReadFrame = Static<typeof ReadFrame>;
export type SyncFrame = Static<typeof SyncFrame>;
export type TypingFrame = Static<typeof TypingFrame>;
export type PingFrame = Static<typeof PingFrame>;
export type ClientFrame = AuthFrame | SendFrame | AckFrame | ReadFrame | SyncFrame | TypingFrame | PingFrame;

// ---- shared objects -------------------------------------------------------

export const SenderSchema = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('visitor'), Type.Literal('agent'), Type.Literal('bot'), Type.Literal('system')]),
  name: Type.String(),
});

/**
 * A message body: `text` or `imageId` for chat; for system messages `event`
 * (started, accepted, transferred, handoff, closed) and the fields that
 * describe it.
 */
export const MessageBodySchema = Type.Object(
  {
    text: Type.Optional(Type.String()),
    imageId: Type.Optional(Type.String()),
    event: Type.Optional(Type.String()),
    agentId: Type.Optional(Type.String()),
    agentName: Type.Optional(Type.String()),
    auto: Type.Optional(Type.Boolean()),
    fromId: Type.Optional(Type.String()),
    fromName: Type.Optional(Type.String()),
    toId: Type.Optional(Type.String()),
    toName: Type.Optional(Type.String()),
    by: Type.Optional(Type.String()),
    byId: Type.Optional(Type.String()),
    byName: Type.Optional(Type.String()),
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

/** A stored message as REST and `batch` frames carry it. */
export const MessageSchema = Type.Object({
  id: Type.String(),
  sessionId: Type.String(),
  seq: Type.Integer(),
  cid: Type.String(),
  from: SenderSchema,
  type: Type.Union([Type.Literal('chat'), Type.Literal('system')]),
  body: MessageBodySchema,
  status: Type.Union([Type.Literal('ok'), Type.Literal('pending'), Type.Literal('rejected')]),
  createdAt: Type.String({ format: 'date-time' }),
});
export type MessageObject = Static<typeof MessageSchema>;

export const SessionStateSchema = Type.Union([Type.Literal('bot'), Type.Literal('queued'), Type.Literal('active'), Type.Literal('closed')]);

export const SessionSchema = Type.Object({
  id: Type.String(),
  siteId: Type.String(),
  state: SessionStateSchema,
  visitorId: Type.String(),
  assigneeId: Type.Optional(Type.String()),
  botId: Type.Optional(Type.String()),
  topic: Type.Optional(Type.String()),
  page: Type.Optional(Type.Object({ url: Type.String(), title: Type.Optional(Type.String()) })),
  lastSeq: Type.Integer(),
  createdAt: Type.String({ format: 'date-time' }),
  acceptedAt: Type.Optional(Type.String({ format: 'date-time' })),
  closedAt: Type.Optional(Type.String({ format: 'date-time' })),
});
export type SessionObject = Static<typeof SessionSchema>;

// ---- server -> client: plain types in server-frames.ts ----------------------

export * from './server-frames.js';

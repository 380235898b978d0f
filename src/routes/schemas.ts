/** Schema pieces the REST routes share (the protocol objects come from src/protocol). */
import { Type } from 'typebox';
import { MessageSchema, SessionSchema } from '../protocol/frames.js';

export { MessageSchema, SessionSchema };

export const Id = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_:.-]+$' });

export const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String() }),
});

/** The error answers a route may give, for the OpenAPI document. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, ErrorResponse]));
}

export const Bearer = [{ bearer: [] }];

export const AccountSchema = Type.Object({
  id: Type.String(),
  siteId: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  email: Type.Optional(Type.String()),
  maxSessions: Type.Optional(Type.Integer()),
  userId: Type.Optional(Type.String()),
  webhookUrl: Type.Optional(Type.String()),
});

export const SiteSchema = Type.Object({
  id: Type.String(),
  name: Type.String(),
  siteKey: Type.String(),
  allowedOrigins: Type.Array(Type.String()),
  routing: Type.Object({ mode: Type.String(), botId: Type.Optional(Type.String()), assign: Type.String() }),
  slowModeSeconds: Type.Optional(Type.Integer()),
  createdAt: Type.String({ format: 'date-time' }),
});

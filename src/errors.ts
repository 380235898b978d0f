/**
 * The one catalogue of error codes (shared/DESIGN.md, "Errors").
 *
 * REST answers `{"error": {"code", "message"}}` with `status`; the WebSocket
 * gateway answers `{"t":"error","code","message","cid"?}`. Domain code throws
 * `AppError`s made by the named constructors below; anything else that reaches
 * the error handler is a bug and is reported as `unavailable` without details.
 */

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  moderation_blocked: 422,
  rate_limited: 429,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** when a retry can succeed (`rate_limited`, `unavailable`): REST sends it as Retry-After, WebSocket as `retryAfterMs` */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, retryAfterMs?: number) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.retryAfterMs = retryAfterMs;
  }
}

export const badRequest = (message: string) => new AppError('bad_request', message);
export const unauthorized = (message = 'missing or invalid credentials') => new AppError('unauthorized', message);
export const forbidden = (message = 'not allowed') => new AppError('forbidden', message);
export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const conflict = (message: string) => new AppError('conflict', message);
export const tooLarge = (message: string) => new AppError('too_large', message);
export const rateLimited = (message = 'too many requests', retryAfterMs?: number) => new AppError('rate_limited', message, retryAfterMs);
export const unavailable = (message = 'service unavailable, try again', retryAfterMs?: number) => new AppError('unavailable', message, retryAfterMs);

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** The Retry-After header value (whole seconds, at least 1) for a wait in ms. */
export function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The JSON body of a REST error. */
export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

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

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_STATUS[code];
  }
}

export const badRequest = (message: string) => new AppError('bad_request', message);
export const unauthorized = (message = 'missing or invalid credentials') => new AppError('unauthorized', message);
export const forbidden = (message = 'not allowed') => new AppError('forbidden', message);
export const notFound = (what: string) => new AppError('not_found', `${what} not found`);
export const conflict = (message: string) => new AppError('conflict', message);
export const tooLarge = (message: string) => new AppError('too_large', message);
export const rateLimited = (message = 'too many requests') => new AppError('rate_limited', message);
export const unavailable = (message = 'service unavailable, try again') => new AppError('unavailable', message);

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

/** The JSON body of a REST error. */
export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

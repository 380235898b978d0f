/**
 * The error a rejected `send()` or `sync()` carries. `code` is the server's
 * error code (`moderation_blocked`, `forbidden`...), `closed` when the client
 * was closed, or `bad_frame` when the server's answer could not be read.
 */
export class ClientError extends Error {
  readonly code: string;
  /** the send's cid, when the error is about one */
  readonly cid: string | undefined;
  /** the WebSocket close code, when a terminal close caused it */
  readonly closeCode: number | undefined;

  constructor(code: string, message: string, extra: { cid?: string; closeCode?: number } = {}) {
    super(message);
    this.name = 'ClientError';
    this.code = code;
    this.cid = extra.cid;
    this.closeCode = extra.closeCode;
  }
}

/** Server error codes that mean "try again later", not "this will never work". */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set(['unavailable', 'rate_limited']);

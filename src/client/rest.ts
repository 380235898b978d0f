/**
 * The REST half of shared/PROTOCOL.md as the browser UIs (widget, workbench)
 * call it: JSON over fetch, every failure one RestError. `status` 0 means the
 * service could not be reached at all (down, restarting, offline).
 */
import type { MessageObject } from '../protocol/frames.js';

export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RestError';
  }
}

/** the largest history page the service answers */
const HISTORY_PAGE = 200;

/** `path` is below `${baseUrl}/api/v1`; `baseUrl` '' is the page's own origin. */
export async function restCall<T>(method: string, path: string, token?: string | null, body?: unknown, baseUrl = ''): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/api/v1${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new RestError(0, 'unreachable', 'Cannot reach the server');
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new RestError(res.status, err?.code ?? `http_${res.status}`, err?.message ?? res.statusText);
  }
  return parsed as T;
}

/**
 * Every stored message of a session after `after`, page by page (ascending by
 * seq; the store has no holes), handed to `onPage` as each page comes.
 * Resolves with the last seq seen (`after` when there was none).
 */
export async function restHistory(token: string, sid: string, after: number, onPage: (messages: MessageObject[]) => void, baseUrl = ''): Promise<number> {
  let cursor = after;
  for (;;) {
    const page = await restCall<{ messages: MessageObject[] }>('GET', `/sessions/${encodeURIComponent(sid)}/messages?after=${cursor}&limit=${HISTORY_PAGE}`, token, undefined, baseUrl);
    if (page.messages.length > 0) onPage(page.messages);
    const last = page.messages.at(-1)?.seq ?? cursor;
    if (page.messages.length < HISTORY_PAGE || last <= cursor) return last;
    cursor = last;
  }
}

/** The few REST calls the chat frame makes, on its own origin (the service's). */
import type { MessageObject } from '../../src/client/index.js';
import type { Identity } from '../bridge.js';

export interface SessionInfo {
  id: string;
  state: 'bot' | 'queued' | 'active' | 'closed';
  assigneeId?: string;
  lastSeq: number;
}

export interface SiteInfo {
  name: string;
  agentsOnline: number;
}

/** A REST answer other than 2xx; `status` 0 is a network failure. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const HISTORY_PAGE = 100;

async function call<T>(method: string, path: string, token?: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`/api/v1${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new RestError(0, 'network', err instanceof Error ? err.message : String(err));
  }
  const parsed = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
  if (!res.ok) throw new RestError(res.status, parsed?.error?.code ?? 'error', parsed?.error?.message ?? res.statusText);
  return parsed as T;
}

export const rest = {
  site: (siteKey: string) => call<SiteInfo>('GET', `/widget?siteKey=${encodeURIComponent(siteKey)}`),

  visitor: (siteKey: string, identity?: Identity) =>
    call<{ token: string; visitor: { id: string } }>('POST', '/visitors', undefined, { siteKey, ...(identity ? { identity } : {}) }),

  /** the visitor's sessions, newest first */
  sessions: (token: string) => call<{ sessions: SessionInfo[] }>('GET', '/sessions', token).then((r) => r.sessions),

  startSession: (token: string, page?: { url: string; title?: string }) =>
    call<{ session: SessionInfo }>('POST', '/sessions', token, page ? { page } : {}).then((r) => r.session),

  /** The whole stored history of a session, page by page, ascending by seq (the store has no holes). */
  async history(token: string, sid: string): Promise<MessageObject[]> {
    const all: MessageObject[] = [];
    for (;;) {
      const r = await call<{ messages: MessageObject[] }>('GET', `/sessions/${encodeURIComponent(sid)}/messages?after=${all.at(-1)?.seq ?? 0}&limit=${HISTORY_PAGE}`, token);
      all.push(...r.messages);
      if (r.messages.length < HISTORY_PAGE) return all;
    }
  },
};

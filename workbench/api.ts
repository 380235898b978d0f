/**
 * The REST part of shared/PROTOCOL.md that the workbench uses, over fetch on
 * the page's own origin. Every failure becomes an ApiError: `status` 0 means
 * the service could not be reached at all (down, restarting, offline).
 */
import type { MessageObject, SessionObject } from '../src/protocol/frames.js';

export interface Account {
  id: string;
  siteId: string;
  kind: string;
  name: string;
  email?: string;
  userId?: string;
}

export interface AgentInfo extends Account {
  online: boolean;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

const BASE = '/api/v1';

async function call<T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(BASE + path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new ApiError(0, 'unreachable', 'Cannot reach the server');
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
    throw new ApiError(res.status, err?.code ?? 'http_' + res.status, err?.message ?? res.statusText);
  }
  return parsed as T;
}

/** One page size for history: the most the service returns at once. */
const PAGE = 200;

export function createApi(token: string | null) {
  return {
    login: (email: string, password: string) => call<{ token: string; agent: Account }>('POST', '/auth/login', null, { email, password }),
    /** the queue and the caller's active sessions */
    sessions: () => call<{ sessions: SessionObject[] }>('GET', '/sessions', token),
    session: (id: string) => call<{ session: SessionObject; visitor?: Account; visitorReadSeq?: number }>('GET', `/sessions/${encodeURIComponent(id)}`, token),
    accept: (id: string) => call<{ session: SessionObject }>('POST', `/sessions/${encodeURIComponent(id)}/accept`, token, {}),
    transfer: (id: string, toAgentId?: string) => call<{ session: SessionObject }>('POST', `/sessions/${encodeURIComponent(id)}/transfer`, token, toAgentId ? { toAgentId } : {}),
    close: (id: string) => call<{ session: SessionObject }>('POST', `/sessions/${encodeURIComponent(id)}/close`, token, {}),
    unread: () => call<{ total: number; sessions: Record<string, number> }>('GET', '/unread', token),
    agents: () => call<{ agents: AgentInfo[] }>('GET', '/agents', token),
    /** every stored message after `after`, page by page */
    async history(id: string, after: number, onPage: (messages: MessageObject[]) => void): Promise<number> {
      let cursor = after;
      for (;;) {
        const r = await call<{ messages: MessageObject[]; lastSeq: number }>('GET', `/sessions/${encodeURIComponent(id)}/messages?after=${cursor}&limit=${PAGE}`, token);
        if (r.messages.length > 0) onPage(r.messages);
        const last = r.messages.at(-1)?.seq ?? cursor;
        if (r.messages.length < PAGE || last <= cursor) return last;
        cursor = last;
      }
    },
  };
}

export type Api = ReturnType<typeof createApi>;

/**
 * The REST part of shared/PROTOCOL.md that the workbench uses, on the page's
 * own origin, through the SDK's restCall: every failure is a RestError
 * (ApiError here), `status` 0 when the service could not be reached.
 */
import { type MessageObject, restCall as call, restHistory } from '../src/client/index.js';
import type { SessionObject } from '../src/protocol/frames.js';

export { RestError as ApiError } from '../src/client/index.js';

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
    /** every stored message after `after`, page by page; resolves with the last seq */
    history: (id: string, after: number, onPage: (messages: MessageObject[]) => void) => restHistory(token ?? '', id, after, onPage),
  };
}

export type Api = ReturnType<typeof createApi>;

/** The few REST calls the chat frame makes, on its own origin (the service's); failures are RestErrors. */
import { type MessageObject, restCall as call, restHistory } from '../../src/client/index.js';
import type { Identity } from '../bridge.js';

export { RestError } from '../../src/client/index.js';

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

export const rest = {
  site: (siteKey: string) => call<SiteInfo>('GET', `/widget?siteKey=${encodeURIComponent(siteKey)}`),

  visitor: (siteKey: string, identity?: Identity) =>
    call<{ token: string; visitor: { id: string } }>('POST', '/visitors', undefined, { siteKey, ...(identity ? { identity } : {}) }),

  /** the visitor's sessions, newest first */
  sessions: (token: string) => call<{ sessions: SessionInfo[] }>('GET', '/sessions', token).then((r) => r.sessions),

  startSession: (token: string, page?: { url: string; title?: string }) =>
    call<{ session: SessionInfo }>('POST', '/sessions', token, page ? { page } : {}).then((r) => r.session),

  /** The whole stored history of a session, ascending by seq. */
  async history(token: string, sid: string): Promise<MessageObject[]> {
    const all: MessageObject[] = [];
    await restHistory(token, sid, 0, (page) => all.push(...page));
    return all;
  },
};

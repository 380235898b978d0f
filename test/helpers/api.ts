/** A tiny REST client for tests: real HTTP with fetch, answers as {status, body}. */
import { ADMIN_TOKEN, type Service } from './service.js';

export interface Reply<T = any> {
  status: number;
  body: T;
}

export function api(service: Service, token?: string) {
  async function call<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    const res = await fetch(`${service.url}/api/v1${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed as T };
  }
  return {
    call,
    get: <T = any>(path: string) => call<T>('GET', path),
    post: <T = any>(path: string, body?: unknown) => call<T>('POST', path, body ?? {}),
    put: <T = any>(path: string, body?: unknown) => call<T>('PUT', path, body ?? {}),
  };
}

export interface SiteFixture {
  siteId: string;
  siteKey: string;
  adminKey: string;
  identitySecret: string;
}

export async function createSite(service: Service, name = 'Test site'): Promise<SiteFixture> {
  const r = await api(service, ADMIN_TOKEN).post('/sites', { name });
  if (r.status !== 201) throw new Error(`create site: ${r.status} ${JSON.stringify(r.body)}`);
  return { siteId: r.body.site.id, siteKey: r.body.siteKey, adminKey: r.body.adminKey, identitySecret: r.body.identitySecret };
}

let agentCounter = 0;

export async function createAgent(service: Service, site: SiteFixture, opts: { name?: string; maxSessions?: number } = {}) {
  agentCounter += 1;
  const email = `agent${agentCounter}-${Math.random().toString(36).slice(2, 8)}@example.com`;
  const password = 'correct horse battery';
  const created = await api(service, site.adminKey).post('/agents', { email, name: opts.name ?? `Agent ${agentCounter}`, password, ...(opts.maxSessions ? { maxSessions: opts.maxSessions } : {}) });
  if (created.status !== 201) throw new Error(`create agent: ${created.status} ${JSON.stringify(created.body)}`);
  const login = await api(service).post('/auth/login', { email, password });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${JSON.stringify(login.body)}`);
  return { id: login.body.agent.id as string, token: login.body.token as string, email, password };
}

export async function createVisitor(service: Service, site: SiteFixture, identity?: { userId: string; name?: string; hash: string }) {
  const r = await api(service).post('/visitors', { siteKey: site.siteKey, ...(identity ? { identity } : {}) });
  if (r.status !== 201) throw new Error(`create visitor: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.visitor.id as string, token: r.body.token as string };
}

/** A visitor with an open session. */
export async function visitorWithSession(service: Service, site: SiteFixture) {
  const visitor = await createVisitor(service, site);
  const r = await api(service, visitor.token).post('/sessions', {});
  if (r.status !== 201) throw new Error(`start session: ${r.status} ${JSON.stringify(r.body)}`);
  return { ...visitor, sessionId: r.body.session.id as string };
}

/** A visitor's session accepted by a new agent of the site: the usual start of a conversation. */
export async function activeSession(service: Service, site: SiteFixture) {
  const agent = await createAgent(service, site);
  const visitor = await visitorWithSession(service, site);
  const accepted = await api(service, agent.token).post(`/sessions/${visitor.sessionId}/accept`);
  if (accepted.status !== 200) throw new Error(`accept: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  return { agent, visitor, sid: visitor.sessionId };
}

/**
 * Creates what the load needs over the public REST API, as a host platform
 * and its users would: one site, then per pair an agent (created by the site
 * admin, logged in), a visitor, the visitor's session, and the agent's accept;
 * for idle connections, visitors only.
 */

export interface Pair {
  sessionId: string;
  visitor: { id: string; token: string };
  agent: { id: string; token: string };
}

interface Site {
  site: { id: string };
  adminKey: string;
  siteKey: string;
}

const PASSWORD = 'bench password 0123';
/** concurrent pair set-ups: agent creation and login each run scrypt on the service */
const PAIRS_PARALLEL = 8;
/** concurrent visitor creations: one insert each, so the database sets the pace */
const VISITORS_PARALLEL = 16;

async function call<T>(baseUrl: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<T> {
  const res = await fetch(`${baseUrl}/api/v1${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

const createSite = (baseUrl: string, adminToken: string) => call<Site>(baseUrl, 'POST', '/sites', adminToken, { name: 'Bench site' });

/** Runs make(0..count-1) with at most `parallel` at a time, results in order. */
async function bounded<T>(count: number, parallel: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      results[i] = await make(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return results;
}

export async function createPairs(baseUrl: string, count: number, adminToken: string): Promise<Pair[]> {
  const site = await createSite(baseUrl, adminToken);
  return bounded(count, PAIRS_PARALLEL, async (i) => {
    // agent emails are unique across the service: a second batch of pairs (bench/failover.ts) is on a site of its own
    const email = `agent${i}.${site.site.id}@bench.example`;
    await call(baseUrl, 'POST', '/agents', site.adminKey, { email, name: `Agent ${i}`, password: PASSWORD });
    const login = await call<{ token: string; agent: { id: string } }>(baseUrl, 'POST', '/auth/login', undefined, { email, password: PASSWORD });
    const visitor = await call<{ token: string; visitor: { id: string } }>(baseUrl, 'POST', '/visitors', undefined, { siteKey: site.siteKey });
    const { session } = await call<{ session: { id: string } }>(baseUrl, 'POST', '/sessions', visitor.token, {});
    await call(baseUrl, 'POST', `/sessions/${session.id}/accept`, login.token, {});
    return { sessionId: session.id, visitor: { id: visitor.visitor.id, token: visitor.token }, agent: { id: login.agent.id, token: login.token } };
  });
}

/** Visitor tokens, one POST /visitors each. */
export async function createVisitors(baseUrl: string, count: number, adminToken: string): Promise<string[]> {
  const site = await createSite(baseUrl, adminToken);
  return bounded(count, VISITORS_PARALLEL, async () => (await call<{ token: string }>(baseUrl, 'POST', '/visitors', undefined, { siteKey: site.siteKey })).token);
}

/**
 * Rate limits and overload protection, held across instances (Redis): a
 * message flood spread over two instances is limited in total, slow mode
 * holds visitors and nobody else, WebSocket connection attempts per IP and
 * connections per instance are capped, the REST API is limited per IP, and an
 * overloaded instance refuses new work with 503 instead of answering late
 * (its store falling behind: new REST calls, while open connections go on
 * and new ones wait their turn to be set up).
 * Every refusal answers with a retry time, stores nothing, and is counted in
 * /metrics.
 *
 * Client IPs are told apart with X-Forwarded-For: by default the service
 * trusts a proxy on loopback (TRUST_PROXY), which the tests stand in for, so
 * each test has limits of its own on one loopback address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { api, activeSession, createSite, type SiteFixture } from '../helpers/api.js';
import { assertErrorFrame, assertRestError } from '../helpers/errors.js';
import { authedPeer, rawPeer, type RawPeer } from '../helpers/raw-ws.js';
import { type SdkClient, sdkClient, timeline } from '../helpers/sdk.js';
import { type Service, startService } from '../helpers/service.js';
import { type StallProxy, startStallProxy } from '../helpers/stall-proxy.js';
import { testUrls } from '../helpers/infra.js';
import { waitFor } from '../helpers/wait-for.js';

interface HttpReply {
  status: number;
  body: any;
  retryAfter: string | null;
}

/** A REST call that also shows the Retry-After header. */
async function http(service: Service, method: string, path: string, opts: { token?: string; body?: unknown; ip?: string } = {}): Promise<HttpReply> {
  const res = await fetch(`${service.url}${path}`, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(opts.ip ? { 'x-forwarded-for': opts.ip } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body, retryAfter: res.headers.get('retry-after') };
}

const send = (service: Service, token: string, sid: string, cid: string, text = cid) =>
  http(service, 'POST', `/api/v1/sessions/${sid}/messages`, { token, body: { cid, text } });

/** The stored chat messages of a session, by cid. */
async function storedCids(service: Service, token: string, sid: string): Promise<string[]> {
  const r = await api(service, token).get(`/sessions/${sid}/messages?limit=200`);
  assert.equal(r.status, 200);
  return r.body.messages.filter((m: any) => m.type === 'chat').map((m: any) => m.cid);
}

/** The value of one series (`name`, or `name{labels}`) as this instance's GET /metrics shows it. */
async function scraped(service: Service, series: string): Promise<number> {
  const res = await fetch(`${service.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `/metrics has no ${series}`);
  return Number(line.slice(series.length + 1));
}

/** This instance's `im_refusals_total{reason}`. */
const refusals = (service: Service, reason: string) => scraped(service, `im_refusals_total{reason="${reason}"}`);

function assertRetryAfter(reply: HttpReply, maxSeconds: number) {
  const seconds = Number(reply.retryAfter);
  assert.ok(Number.isInteger(seconds) && seconds >= 1 && seconds <= maxSeconds, `Retry-After ${reply.retryAfter}, expected 1..${maxSeconds}`);
}

/** The answer of a WebSocket send: its `sent` or its `error` frame. */
async function wsSend(peer: RawPeer, sid: string, cid: string) {
  peer.send({ t: 'send', sid, cid, body: { text: cid } });
  return peer.next((f) => (f.t === 'sent' || f.t === 'error') && f.cid === cid);
}

/** New work refused as overload: the REST reply with 503 `unavailable` and Retry-After, and a WebSocket upgrade from `ip` with 503. */
async function assertNewWorkRefused(service: Service, rest: HttpReply, ip: string): Promise<void> {
  assertRestError({ status: rest.status, body: rest.body }, 503, 'unavailable');
  assertRetryAfter(rest, 60);
  const upgraded = await upgrade(service, ip);
  assert.ok(!('ws' in upgraded), 'no new connections');
  assert.equal(upgraded.status, 503);
  assert.equal(upgraded.body.error.code, 'unavailable');
}

type Upgrade = { ws: WebSocket } | { status: number; retryAfter: string | null; body: any };

/** A WebSocket upgrade from `ip`: the open socket, or the HTTP answer that refused it. */
function upgrade(service: Service, ip: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(service.wsUrl, { headers: { 'x-forwarded-for': ip } });
    ws.once('open', () => resolve({ ws }));
    ws.once('unexpected-response', (req, res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, retryAfter: (res.headers['retry-after'] as string | undefined) ?? null, body: JSON.parse(text) });
      });
    });
    ws.once('error', reject);
  });
}

function closeAll(sockets: WebSocket[]): Promise<unknown> {
  return Promise.all(
    sockets.splice(0).map(
      (ws) =>
        new Promise((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve(undefined);
          ws.once('close', resolve);
          ws.close();
        }),
    ),
  );
}

describe('message rate held across two instances', () => {
  const BURST = 5;
  const RATE = 1;
  let a: Service;
  let b: Service;
  let site: SiteFixture;
  const peers: RawPeer[] = [];

  before(async () => {
    a = await startService({ msgBurst: BURST, msgRatePerSec: RATE });
    b = await startService(
      { msgBurst: BURST, msgRatePerSec: RATE, mongodbDb: a.config.mongodbDb, redisPrefix: a.config.redisPrefix, tokenSecret: a.config.tokenSecret },
      { shared: true },
    );
    site = await createSite(a);
  });

  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await b.close();
    await a.close();
  });

  it('a flood from one account over both instances is limited in total; the refused get rate_limited with Retry-After and store nothing', async () => {
    const { visitor, sid } = await activeSession(a, site);
    const counted = (await refusals(a, 'message_rate')) + (await refusals(b, 'message_rate'));
    const FLOOD = 40;
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: FLOOD }, (_, i) => send(i % 2 ? b : a, visitor.token, sid, `flood-${i}`)));
    const elapsedS = (Date.now() - started) / 1000;

    const accepted = replies.flatMap((r, i) => (r.status === 201 ? [`flood-${i}`] : []));
    const refused = replies.flatMap((r, i) => (r.status === 201 ? [] : [{ cid: `flood-${i}`, reply: r }]));
    assert.ok(accepted.length >= BURST, `the burst goes through: ${accepted.length}`);
    assert.ok(refused.length > 0, 'the flood was refused');
    assert.ok(accepted.length <= BURST + RATE * elapsedS, `${accepted.length} stored in ${elapsedS} s: more than the burst plus the rate allow`);
    for (const { reply } of refused) {
      assertRestError({ status: reply.status, body: reply.body }, 429, 'rate_limited');
      assertRetryAfter(reply, 1);
    }
    assert.deepEqual((await storedCids(a, visitor.token, sid)).sort(), accepted.sort(), 'exactly the accepted messages are stored');
    assert.equal((await refusals(a, 'message_rate')) + (await refusals(b, 'message_rate')) - counted, refused.length, 'every refusal is counted');
  });

  it('a resend of a stored message is answered with the original on either instance, even with the bucket empty', async () => {
    const { visitor, sid } = await activeSession(a, site);
    const first = await send(a, visitor.token, sid, 'keep');
    assert.equal(first.status, 201);
    for (let i = 0; (await send(a, visitor.token, sid, `drain-${i}`)).status === 201; i++);
    for (const service of [a, b, a]) {
      const again = await send(service, visitor.token, sid, 'keep');
      assert.equal(again.status, 201, JSON.stringify(again.body));
      assert.equal(again.body.message.id, first.body.message.id);
      assert.equal(again.body.message.seq, first.body.message.seq);
    }
  });

  it('over WebSocket a refused send gets an error frame with its cid and retryAfterMs, is not stored, and later sends wait for it', async () => {
    const { agent, sid } = await activeSession(a, site);
    const peer = await authedPeer(b.wsUrl, agent.token);
    peers.push(peer);
    let refused: any;
    for (let i = 0; i <= BURST + 5; i++) {
      refused = await wsSend(peer, sid, `ws-${i}`);
      if (refused.t === 'error') break;
    }
    assertErrorFrame(refused, 'rate_limited');
    assert.equal(refused.ref, 'send');
    assert.ok(Number.isInteger(refused.retryAfterMs) && refused.retryAfterMs > 0 && refused.retryAfterMs <= 1000 / RATE, `retryAfterMs ${refused.retryAfterMs}`);
    assert.ok(!(await storedCids(a, agent.token, sid)).includes(refused.cid), 'the refused message is not stored');

    // a later send on the connection is held back until the refused one is sent again (its tokens untouched)
    const later = await wsSend(peer, sid, 'ws-later');
    assertErrorFrame(later, 'rate_limited');
    assert.match(later.message, /earlier message/);
    assert.ok(later.retryAfterMs > 0);
    await new Promise((resolve) => setTimeout(resolve, refused.retryAfterMs));
    assert.equal((await wsSend(peer, sid, refused.cid)).t, 'sent');
    let answer = await wsSend(peer, sid, 'ws-later');
    if (answer.t === 'error') {
      await new Promise((resolve) => setTimeout(resolve, answer.retryAfterMs));
      answer = await wsSend(peer, sid, 'ws-later');
    }
    assert.equal(answer.t, 'sent');
    assert.deepEqual((await storedCids(a, agent.token, sid)).slice(-2), [refused.cid, 'ws-later'], 'stored in the order sent');
  });

  it('the SDK sending far past the limit gets every message stored once and in order: it waits as told and resends', async () => {
    const { visitor, sid } = await activeSession(a, site);
    const client: SdkClient = sdkClient(b, visitor.token, { WebSocket });
    try {
      await waitFor(() => client.readies.length === 1, 10_000, 'the client to be ready');
      const texts = Array.from({ length: BURST + 3 }, (_, i) => `sdk ${i}`);
      await Promise.all(texts.map((text) => client.client.send(sid, text)));
      const history = await api(a, visitor.token).get(`/sessions/${sid}/messages?limit=200`);
      assert.deepEqual(
        history.body.messages.filter((m: any) => m.type === 'chat').map((m: any) => m.body.text),
        texts,
      );
      await waitFor(() => timeline(client.messages, sid).filter((l) => l.text?.startsWith('sdk')).length === texts.length, 10_000, 'the pushes');
    } finally {
      client.client.close();
    }
  });
});

describe('slow mode', () => {
  let service: Service;
  let site: SiteFixture;
  const peers: RawPeer[] = [];

  before(async () => {
    service = await startService();
    site = await createSite(service);
  });

  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
  });

  const setSlowMode = (seconds: unknown, token = site.adminKey) => http(service, 'PUT', '/api/v1/slow-mode', { token, body: { seconds } });

  it("holds each visitor to one message per window, never the agent, and lifts when turned off", async () => {
    const { agent, visitor, sid } = await activeSession(service, site);
    const counted = await refusals(service, 'slow_mode');
    const on = await setSlowMode(30);
    assert.equal(on.status, 200);
    assert.deepEqual(on.body, { slowMode: { seconds: 30 } });

    assert.equal((await send(service, visitor.token, sid, 'v1')).status, 201);
    const second = await send(service, visitor.token, sid, 'v2');
    assertRestError({ status: second.status, body: second.body }, 429, 'rate_limited');
    assert.match(second.body.error.message, /slow mode/);
    assertRetryAfter(second, 30);

    const peer = await authedPeer(service.wsUrl, visitor.token);
    peers.push(peer);
    const overWs = await wsSend(peer, sid, 'v3');
    assertErrorFrame(overWs, 'rate_limited');
    assert.ok(overWs.retryAfterMs > 0 && overWs.retryAfterMs <= 30_000, `retryAfterMs ${overWs.retryAfterMs}`);

    for (const cid of ['a1', 'a2', 'a3']) assert.equal((await send(service, agent.token, sid, cid)).status, 201, 'agents are not slowed');

    assert.deepEqual((await setSlowMode(0)).body, { slowMode: { seconds: 0 } });
    assert.equal((await send(service, visitor.token, sid, 'v4')).status, 201);
    assert.deepEqual(await storedCids(service, visitor.token, sid), ['v1', 'a1', 'a2', 'a3', 'v4']);
    assert.equal((await refusals(service, 'slow_mode')) - counted, 2);
  });

  it('only the site admin sets it, within 0 to 3600 seconds', async () => {
    const { visitor, agent } = await activeSession(service, site);
    assertRestError(await setSlowMode(10, visitor.token).then((r) => ({ status: r.status, body: r.body })), 403, 'forbidden');
    assertRestError(await setSlowMode(10, agent.token).then((r) => ({ status: r.status, body: r.body })), 403, 'forbidden');
    assertRestError(await setSlowMode(3601).then((r) => ({ status: r.status, body: r.body })), 400, 'bad_request');
    assertRestError(await setSlowMode(-1).then((r) => ({ status: r.status, body: r.body })), 400, 'bad_request');
  });
});

describe('WebSocket connection limits', () => {
  const MAX_CONNECTIONS = 2;
  const CONNECT_PER_MIN = 4;
  let service: Service;
  const sockets: WebSocket[] = [];

  before(async () => {
    service = await startService({ maxConnections: MAX_CONNECTIONS, wsConnectPerMin: CONNECT_PER_MIN });
  });

  after(async () => {
    await closeAll(sockets);
    await service.close();
  });

  async function open(ip: string): Promise<Upgrade> {
    const u = await upgrade(service, ip);
    if ('ws' in u) sockets.push(u.ws);
    return u;
  }

  it('an instance holding MAX_CONNECTIONS refuses the next upgrade with 503 until one goes', async () => {
    const counted = await refusals(service, 'max_connections');
    for (let i = 0; i < MAX_CONNECTIONS; i++) assert.ok('ws' in (await open('10.0.0.1')));
    const extra = await open('10.0.0.1');
    assert.ok(!('ws' in extra));
    assert.equal(extra.status, 503);
    assert.equal(extra.body.error.code, 'unavailable');
    assert.ok(Number(extra.retryAfter) >= 1);
    assert.equal((await refusals(service, 'max_connections')) - counted, 1);

    sockets[0]!.close();
    await waitFor(() => service.app.gateway.connectionCount < MAX_CONNECTIONS, 5000, 'a connection to go');
    assert.ok('ws' in (await open('10.0.0.1')));
    await closeAll(sockets);
    await waitFor(() => service.app.gateway.connectionCount === 0, 5000, 'every connection to go');
  });

  it('connection attempts per IP beyond WS_CONNECT_PER_MIN are refused with 429 and Retry-After; other addresses still connect', async () => {
    const counted = await refusals(service, 'ws_connect_rate');
    for (let i = 0; i < CONNECT_PER_MIN; i++) {
      const u = await open('10.0.0.2');
      assert.ok('ws' in u, `attempt ${i + 1}`);
      await closeAll(sockets);
    }
    const over = await open('10.0.0.2');
    assert.ok(!('ws' in over));
    assert.equal(over.status, 429);
    assert.equal(over.body.error.code, 'rate_limited');
    const seconds = Number(over.retryAfter);
    assert.ok(seconds >= 1 && seconds <= 60, `Retry-After ${over.retryAfter}`);
    assert.ok('ws' in (await open('10.0.0.3')), 'another address is not limited');
    await closeAll(sockets);
    assert.equal((await refusals(service, 'ws_connect_rate')) - counted, 1);
  });
});

describe('which address a limit counts against (TRUST_PROXY)', () => {
  const CONNECT_PER_MIN = 3;
  const services: Service[] = [];
  const sockets: WebSocket[] = [];
  after(async () => {
    await closeAll(sockets);
    for (const s of services) await s.close();
  });

  /** Connection attempts from the same client, each claiming another address before it; how many got through. */
  async function attempts(service: Service, forwardedFor: (i: number) => string, n: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) {
      const u = await upgrade(service, forwardedFor(i));
      if ('ws' in u) {
        statuses.push(101);
        sockets.push(u.ws);
        await closeAll(sockets);
      } else statuses.push(u.status);
    }
    return statuses;
  }

  it('behind a trusted proxy (loopback, the default), the client is what the proxy appended: addresses the client made up before it change nothing', async () => {
    const service = await startService({ wsConnectPerMin: CONNECT_PER_MIN });
    services.push(service);
    // a proxy appends the address it saw to whatever the client sent
    const statuses = await attempts(service, (i) => `203.0.113.${i}, 10.9.0.1`, CONNECT_PER_MIN + 1);
    assert.deepEqual(statuses, [...Array<number>(CONNECT_PER_MIN).fill(101), 429], 'made-up addresses do not get a flood past the limit');
    const other = await upgrade(service, '10.9.0.2');
    assert.ok('ws' in other, 'another client behind the proxy is not limited');
    sockets.push(other.ws);
  });

  it('with TRUST_PROXY=false, X-Forwarded-For is ignored: every attempt counts against the peer it came from', async () => {
    const service = await startService({ wsConnectPerMin: CONNECT_PER_MIN, trustProxy: false });
    services.push(service);
    const statuses = await attempts(service, (i) => `10.8.0.${i}`, CONNECT_PER_MIN + 1);
    assert.deepEqual(statuses, [...Array<number>(CONNECT_PER_MIN).fill(101), 429], 'one peer, one limit, whatever it claims');
  });
});

describe('REST rate limit per IP', () => {
  const PER_MIN = 5;
  let service: Service;

  before(async () => {
    service = await startService({ restRatePerMin: PER_MIN });
  });
  after(() => service.close());

  it('answers 429 rate_limited in the error shape with Retry-After past the limit, per address, and leaves health checks alone', async () => {
    const counted = await refusals(service, 'rest_rate');
    for (let i = 0; i < PER_MIN; i++) assert.equal((await http(service, 'GET', '/api/v1/unread', { ip: '10.1.0.1' })).status, 401);
    const over = await http(service, 'GET', '/api/v1/unread', { ip: '10.1.0.1' });
    assertRestError({ status: over.status, body: over.body }, 429, 'rate_limited');
    assertRetryAfter(over, 60);
    assert.equal((await http(service, 'GET', '/api/v1/unread', { ip: '10.1.0.2' })).status, 401, 'another address is not limited');
    for (let i = 0; i < PER_MIN + 1; i++) assert.equal((await http(service, 'GET', '/health/live', { ip: '10.1.0.1' })).status, 200);
    assert.equal((await refusals(service, 'rest_rate')) - counted, 1);
  });
});

describe('overload', () => {
  let overloaded = false;
  let service: Service;
  let site: SiteFixture;
  const peers: RawPeer[] = [];

  before(async () => {
    service = await startService({}, { overloadProbe: () => overloaded });
    site = await createSite(service);
  });

  after(async () => {
    overloaded = false;
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
  });

  it('refuses new work with 503 unavailable and Retry-After, keeps health and metrics answering, and recovers', async () => {
    const { agent, sid } = await activeSession(service, site);
    const peer = await authedPeer(service.wsUrl, agent.token);
    peers.push(peer);
    const counted = await refusals(service, 'overload');

    overloaded = true;
    await waitFor(() => service.app.isUnderPressure(), 5000, 'the overload to be noticed');

    const rest = await http(service, 'GET', '/api/v1/unread', { token: agent.token });
    const refusedSend = await wsSend(peer, sid, 'under-pressure');
    assertErrorFrame(refusedSend, 'unavailable');
    assert.ok(refusedSend.retryAfterMs > 0);
    await assertNewWorkRefused(service, rest, '10.2.0.1');

    assert.equal((await http(service, 'GET', '/health/live')).status, 200);
    const ready = await http(service, 'GET', '/health/ready');
    assert.equal(ready.status, 503);
    assert.equal(ready.body.overloaded, true);
    assert.equal((await refusals(service, 'overload')) - counted, 3);

    const messages = service.app.mongo.client.db(service.config.mongodbDb).collection('messages');
    assert.equal(await messages.countDocuments({ sessionId: sid, cid: 'under-pressure' }), 0, 'the refused send was not stored');

    overloaded = false;
    await waitFor(() => !service.app.isUnderPressure(), 5000, 'the overload to pass');
    assert.equal((await http(service, 'GET', '/api/v1/unread', { token: agent.token })).status, 200);
    assert.equal((await http(service, 'GET', '/health/ready')).status, 200);
    // as a client does: the refused message first, then the next
    assert.equal((await wsSend(peer, sid, 'under-pressure')).t, 'sent');
    assert.equal((await wsSend(peer, sid, 'after')).t, 'sent');
    assert.deepEqual(await storedCids(service, agent.token, sid), ['under-pressure', 'after']);
  });
});

describe('overload: a store that falls behind', () => {
  const MAX_STORE_LAG_MS = 200;
  let proxy: StallProxy;
  let service: Service;
  let site: SiteFixture;
  const peers: RawPeer[] = [];

  before(async () => {
    // the database behind a proxy that can stop passing the service's commands on
    proxy = await startStallProxy(testUrls().mongoUrl);
    service = await startService({ mongodbUrl: proxy.url, maxStoreLagMs: MAX_STORE_LAG_MS });
    site = await createSite(service);
  });

  after(async () => {
    proxy.resume();
    for (const p of peers) p.close();
    await Promise.all(peers.map((p) => p.closed));
    await service.close();
    await proxy.close();
  });

  const storeLag = () => scraped(service, 'im_store_lag_seconds');

  it('while messages wait to be stored past MAX_STORE_LAG_MS, refuses new REST calls, but takes the sends of open connections and lets new ones in, losing nothing', async () => {
    const { agent, visitor, sid } = await activeSession(service, site);
    const peer = await authedPeer(service.wsUrl, agent.token);
    peers.push(peer);
    const counted = await refusals(service, 'overload');
    // the first send reads the session from the store; later ones find it in memory, as under load
    assert.equal((await wsSend(peer, sid, 'first')).t, 'sent');
    assert.equal(await storeLag(), 0, 'nothing waits');

    proxy.stall();
    const taken = wsSend(peer, sid, 'taken');
    // the gauge shows how far behind the store is
    await waitFor(async () => (await storeLag()) > MAX_STORE_LAG_MS / 1000, 5000, 'the store lag to pass MAX_STORE_LAG_MS');

    const rest = await send(service, agent.token, sid, 'refused-rest');
    assertRestError({ status: rest.status, body: rest.body }, 503, 'unavailable');
    assertRetryAfter(rest, 60);
    // A client coming back (its instance died: the store falls behind most then) is let in and waits
    // its turn to be set up, rather than being turned back to retry by its backoff.
    const comingBack = await rawPeer(service.wsUrl);
    peers.push(comingBack);
    comingBack.send({ t: 'auth', token: visitor.token });
    const ready = comingBack.next((f) => f.t === 'ready' || f.t === 'error', 15_000);
    assert.equal((await http(service, 'GET', '/health/live')).status, 200);
    // readiness answers although the database does not: unreachable after its ping's timeout; the
    // instance itself is not overloaded (every instance shares the store: all would leave the balancer)
    const readiness = await http(service, 'GET', '/health/ready');
    assert.equal(readiness.status, 503);
    assert.deepEqual([readiness.body.overloaded, readiness.body.mongo, readiness.body.redis], [false, false, true]);
    assert.equal((await refusals(service, 'overload')) - counted, 1, 'the REST call');
    // an open connection's conversation goes on: its sends wait for the store with the others
    const alsoTaken = wsSend(peer, sid, 'also-taken');

    proxy.resume();
    assert.deepEqual([(await taken).t, (await alsoTaken).t], ['sent', 'sent'], 'what was taken is stored once the store answers');
    const back = await ready;
    assert.equal(back.t, 'ready', 'the client let in during the lag is set up once the store answers');
    assert.ok(back.sessions.some((x: { id: string }) => x.id === sid), 'with its session');
    await waitFor(async () => (await storeLag()) <= MAX_STORE_LAG_MS / 1000, 5000, 'the overload to pass');
    assert.equal(await storeLag(), 0);
    assert.equal((await send(service, agent.token, sid, 'after')).status, 201);
    assert.deepEqual(await storedCids(service, agent.token, sid), ['first', 'taken', 'also-taken', 'after']);
  });
});

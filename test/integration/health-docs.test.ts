import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createSite, createVisitor } from '../helpers/api.js';
import { authedPeer } from '../helpers/raw-ws.js';
import { type Service, startService } from '../helpers/service.js';

describe('health checks and API documentation', () => {
  let service: Service;

  before(async () => {
    service = await startService();
  });
  after(() => service.close());

  async function get(path: string) {
    const res = await fetch(`${service.url}${path}`);
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text(), url: res.url };
  }

  it('/health/live says the process is up, without credentials', async () => {
    const r = await get('/health/live');
    assert.equal(r.status, 200);
    assert.match(r.type, /^application\/json/);
    assert.deepEqual(JSON.parse(r.text), { status: 'ok' });
  });

  it('/health/ready says MongoDB and Redis are reachable', async () => {
    const r = await get('/health/ready');
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text);
    assert.equal(body.status, 'ok');
    assert.equal(body.mongo, true);
    assert.equal(body.redis, true);
    assert.equal(typeof body.connections, 'number');
  });

  it('/docs serves the OpenAPI UI, and the assets it loads are there', async () => {
    const r = await get('/docs');
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/html/);
    assert.match(r.text, /swagger-ui/i);
    // every script and stylesheet the page loads from us is there, resolved as a browser would
    const assets = [...r.text.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]!).filter((a) => !/^https?:/.test(a));
    assert.ok(assets.length > 0, 'the page loads no assets');
    for (const asset of assets) {
      const a = await fetch(new URL(asset, r.url));
      assert.equal(a.status, 200, `${asset}: ${a.status}`);
      await a.arrayBuffer();
    }
  });

  it('/docs/json is the OpenAPI document of the REST API, sessions included', async () => {
    const r = await get('/docs/json');
    assert.equal(r.status, 200);
    const doc = JSON.parse(r.text);
    assert.match(doc.openapi, /^3\./);
    const paths = Object.keys(doc.paths);
    for (const path of [
      '/api/v1/sessions',
      '/api/v1/sessions/{id}',
      '/api/v1/sessions/{id}/accept',
      '/api/v1/sessions/{id}/transfer',
      '/api/v1/sessions/{id}/close',
      '/api/v1/sessions/{id}/messages',
      '/api/v1/sessions/{id}/read',
      '/api/v1/unread',
      '/api/v1/auth/login',
      '/api/v1/visitors',
      '/api/v1/sites',
      '/api/v1/agents',
    ]) {
      assert.ok(paths.includes(path), `${path} is not documented; documented: ${paths.join(', ')}`);
    }
    assert.ok(doc.paths['/api/v1/sessions'].post, 'POST /api/v1/sessions');
    assert.ok(doc.paths['/api/v1/sessions'].get, 'GET /api/v1/sessions');
    assert.ok(doc.paths['/api/v1/sessions/{id}/messages'].post.requestBody, 'the message body is documented');
    assert.deepEqual(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer' });
  });
});

describe('/metrics', () => {
  const TOKEN = 'metrics-token-0123456789';
  let open: Service;
  let guarded: Service;

  before(async () => {
    [open, guarded] = await Promise.all([startService(), startService({ metricsToken: TOKEN })]);
  });
  after(async () => {
    await Promise.all([open.close(), guarded.close()]);
  });

  const scrape = async (service: Service, authorization?: string) => {
    const res = await fetch(`${service.url}/metrics`, authorization ? { headers: { authorization } } : {});
    return { status: res.status, type: res.headers.get('content-type') ?? '', challenge: res.headers.get('www-authenticate'), text: await res.text() };
  };

  it('serves Prometheus text to anyone when no METRICS_TOKEN is set', async () => {
    const r = await scrape(open);
    assert.equal(r.status, 200);
    assert.match(r.type, /^text\/plain/);
    assert.match(r.text, /^# HELP /m);
  });

  it('shows the WebSocket connections the instance holds and the set-ups waiting their turn', async () => {
    const gauge = async (name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec((await scrape(open)).text)?.[1]);
    const before = await gauge('im_ws_connections');
    assert.ok(Number.isInteger(before), 'the gauge is exported');
    const site = await createSite(open);
    const peers = await Promise.all([1, 2].map(async () => authedPeer(open.wsUrl, (await createVisitor(open, site)).token)));
    assert.equal(await gauge('im_ws_connections'), before + 2);
    assert.equal(await gauge('im_ws_setups_waiting'), 0, 'no backlog once they are ready');
    for (const peer of peers) {
      peer.close();
      await peer.closed;
    }
  });

  it('with METRICS_TOKEN, only a scraper presenting it gets the figures; others get 401 in the error shape and learn nothing', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-0123456789', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`]) {
      const r = await scrape(guarded, authorization);
      assert.equal(r.status, 401, String(authorization));
      assert.equal(r.challenge, 'Bearer');
      assert.equal(JSON.parse(r.text).error.code, 'unauthorized');
      assert.doesNotMatch(r.text, /# HELP/);
    }
    const ok = await scrape(guarded, `Bearer ${TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /^# HELP /m);
  });
});

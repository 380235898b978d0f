import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { identityHash } from '../../src/domain/secrets.js';
import { ADMIN_TOKEN, type Service, startService } from '../helpers/service.js';
import { api, createAgent, createSite, createVisitor, type SiteFixture } from '../helpers/api.js';
import { sdkClient } from '../helpers/sdk.js';
import { waitFor } from '../helpers/wait-for.js';

const policy = (res: Response) => res.headers.get('content-security-policy') ?? '';
const frameAncestors = (res: Response) => /frame-ancestors ([^;]+)/.exec(policy(res))?.[1];

describe('the browser UI routes and what the widget asks of the API', () => {
  let service: Service;
  let site: SiteFixture;

  before(async () => {
    service = await startService();
    site = await createSite(service);
  });
  after(() => service.close());

  const get = (path: string) => fetch(`${service.url}${path}`);

  it('serves the loader as JavaScript any host page may load, cached only briefly', async () => {
    const res = await get('/widget.js');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.match(res.headers.get('cache-control') ?? '', /max-age=300/);
    assert.ok((await res.text()).length > 0);
  });

  it("lets any origin frame the chat of a site without allowedOrigins, only the listed ones otherwise, and none for an unknown key", async () => {
    const open = await get(`/widget/frame.html?siteKey=${site.siteKey}`);
    assert.equal(open.status, 200);
    assert.match(await open.text(), /<script src="frame\.js"/);
    assert.equal(frameAncestors(open), '*');
    assert.match(policy(open), /script-src 'self'/);

    const r = await api(service, ADMIN_TOKEN).post('/sites', { name: 'Strict shop', allowedOrigins: ['https://shop.example', 'http://localhost:8080'] });
    assert.equal(r.status, 201);
    const strict = await get(`/widget/frame.html?siteKey=${r.body.siteKey}`);
    assert.equal(frameAncestors(strict), 'https://shop.example http://localhost:8080');

    assert.equal(frameAncestors(await get('/widget/frame.html?siteKey=sk_nope')), "'none'");
    assert.equal(frameAncestors(await get('/widget/frame.html')), "'none'");
  });

  it('serves the workbench, which no page may frame', async () => {
    const res = await get('/workbench/');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(frameAncestors(res), "'none'");
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const redirect = await fetch(`${service.url}/workbench`, { redirect: 'manual' });
    assert.equal(redirect.status, 302);
    assert.equal(redirect.headers.get('location'), '/workbench/');
  });

  it('puts the given site key into the demo page as text, never as markup', async () => {
    const ok = await get(`/demo?siteKey=${site.siteKey}`);
    assert.equal(ok.status, 200);
    assert.match(await ok.text(), new RegExp(`<script src="/widget\\.js" data-site-key="${site.siteKey}"`));
    const hostile = await (await get(`/demo?siteKey=${encodeURIComponent('"><script>alert(1)</script>')}`)).text();
    assert.doesNotMatch(hostile, /<script>alert/);
    assert.match(hostile, /&#34;&#62;&#60;script&#62;/);
  });

  it('says how to reach the demo when there is no demo site', async () => {
    const res = await get('/demo');
    assert.equal(res.status, 404);
    assert.match(await res.text(), /siteKey=/);
  });

  it("tells the widget the site's name and whether an agent is online", async () => {
    const path = `/widget?siteKey=${site.siteKey}`;
    assert.deepEqual((await api(service).get(path)).body, { name: 'Test site', agentsOnline: 0 });
    const agent = await createAgent(service, site);
    const online = sdkClient(service, agent.token);
    try {
      await waitFor(async () => (await api(service).get(path)).body.agentsOnline === 1, 10_000, 'the agent to count as online');
    } finally {
      online.client.close();
    }
    await waitFor(async () => (await api(service).get(path)).body.agentsOnline === 0, 10_000, 'the agent to go offline');
    assert.equal((await api(service).get('/widget?siteKey=sk_nope')).status, 404);
    assert.equal((await api(service).get('/widget')).status, 400);
  });

  it('keeps the page a visitor started from, and shows agents who the visitor is and how far they read', async () => {
    const visitor = await createVisitor(service, site, { userId: 'u-42', name: 'Ada', hash: identityHash('u-42', site.identitySecret) });
    const page = { url: 'https://shop.example/cart?step=2', title: 'Your cart' };
    const started = await api(service, visitor.token).post('/sessions', { page });
    assert.equal(started.status, 201);
    assert.deepEqual(started.body.session.page, page);
    const agent = await createAgent(service, site);
    const seen = await api(service, agent.token).get(`/sessions/${started.body.session.id}`);
    assert.equal(seen.status, 200);
    assert.deepEqual(seen.body.session.page, page);
    assert.equal(seen.body.visitor.name, 'Ada');
    assert.equal(seen.body.visitor.userId, 'u-42');
    assert.equal(seen.body.visitorReadSeq, 0);
    // the visitor reads the "started" line: agents see how far they read, even after a reload
    assert.equal((await api(service, visitor.token).post(`/sessions/${started.body.session.id}/read`, { seq: 1 })).status, 200);
    assert.equal((await api(service, agent.token).get(`/sessions/${started.body.session.id}`)).body.visitorReadSeq, 1);
  });

  it('refuses a start page that is not an http(s) URL, and starts nothing', async () => {
    const visitor = await createVisitor(service, site);
    for (const page of [{ url: 'javascript:alert(1)' }, { url: 'https://x.example', title: 'x'.repeat(301) }, { url: 'https://x.example', extra: 1 }]) {
      const r = await api(service, visitor.token).post('/sessions', { page });
      assert.equal(r.status, 400, JSON.stringify(page));
      assert.equal(r.body.error.code, 'bad_request');
    }
    assert.deepEqual((await api(service, visitor.token).get('/sessions')).body.sessions, []);
  });
});

describe('the browser UI when it was not built', () => {
  let service: Service;
  before(async () => {
    service = await startService({ uiDir: '/nonexistent/ui' });
  });
  after(() => service.close());

  it('answers 503 with what to run, and the API still works', async () => {
    for (const path of ['/widget.js', '/widget/frame.html', '/workbench/']) {
      const res = await fetch(`${service.url}${path}`);
      assert.equal(res.status, 503, path);
      assert.match((await res.json()).error.message, /npm run build:ui/);
    }
    assert.equal((await fetch(`${service.url}/health/live`)).status, 200);
  });
});

/**
 * The embeddable widget in a real browser (Debian's Chromium): a visitor on a
 * host page chats with an agent who answers through the SDK and REST, as the
 * workbench would. Covers the loader on hostile and cross-origin host pages,
 * history after reload and across devices, phone size, Chinese, text that
 * looks like HTML, and a service restart mid-conversation.
 *
 * Screenshots of the main states go to test-results/screenshots/widget-*.png.
 * Run `npm run build:ui` first (npm test does).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Frame, FrameLocator, Page } from 'playwright-core';
import { api, createAgent, createSite, type SiteFixture } from '../helpers/api.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { restHistory, sdkClient, type SdkClient } from '../helpers/sdk.js';
import { ADMIN_TOKEN, type Service, startService } from '../helpers/service.js';
import { waitFor } from '../helpers/wait-for.js';

declare global {
  interface Window {
    IMWidget: ((...args: unknown[]) => void) & { q?: unknown[] };
    __unread: number[];
    __hostMessages: string[];
    __states: string[];
  }
}

const WAIT_MS = 20_000;

/** Polls a condition that the browser or the service will make true. */
async function eventually(predicate: () => Promise<boolean> | boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Runs before any page script: the usual queue stub (so calls before the
 * loader are replayed), an unread listener, and a record of every
 * postMessage the host page receives (to prove no chat text reaches it).
 */
function hostInit(identity?: { userId: string; name?: string; hash: string }) {
  return {
    content: `
      window.__unread = [];
      window.__hostMessages = [];
      window.addEventListener('message', function (e) { window.__hostMessages.push(JSON.stringify(e.data)); });
      window.IMWidget = window.IMWidget || function () { (window.IMWidget.q = window.IMWidget.q || []).push(arguments); };
      window.IMWidget('on', 'unread', function (n) { window.__unread.push(n); });
      ${identity ? `window.IMWidget('identify', ${JSON.stringify(identity)});` : ''}
    `,
  };
}

interface Widget {
  page: Page;
  launcher: ReturnType<Page['getByTestId']>;
  badge: ReturnType<Page['getByTestId']>;
  ui: FrameLocator;
  /** the chat frame itself, for evaluating in it */
  frame(): Frame;
}

function widget(page: Page): Widget {
  return {
    page,
    launcher: page.getByTestId('im-launcher'),
    badge: page.getByTestId('im-unread'),
    ui: page.frameLocator('[data-testid="im-frame"]'),
    frame() {
      const f = page.frames().find((x) => x.url().includes('/widget/frame.html'));
      if (!f) throw new Error('no chat frame');
      return f;
    },
  };
}

interface Line {
  seq: number | null;
  from: string;
  status: string | null;
  text: string;
}

/** What the chat shows, one entry per message element, in document order. */
function lines(w: Widget): Promise<Line[]> {
  return w.ui.locator('[data-testid="im-message"]').evaluateAll((els) =>
    els.map((el) => {
      const e = el as HTMLElement;
      return {
        seq: e.dataset.seq ? Number(e.dataset.seq) : null,
        from: e.dataset.from ?? '',
        status: e.dataset.status ?? null,
        text: (e.querySelector('.text') ?? e.querySelector('span'))?.textContent ?? '',
      };
    }),
  );
}

async function openWidget(w: Widget): Promise<void> {
  await w.launcher.click({ timeout: WAIT_MS });
  await w.ui.getByTestId('im-input').waitFor();
}

/** Types and sends with Enter, then waits for the server's confirmation (`data-status="sent"` or read). */
async function say(w: Widget, text: string): Promise<void> {
  const input = w.ui.getByTestId('im-input');
  await input.fill(text);
  await input.press('Enter');
  await eventually(async () => (await lines(w)).some((l) => l.from === 'visitor' && l.text === text && l.seq !== null), `"${text}" to be confirmed`);
}

async function queuedSession(service: Service, agentToken: string, count = 1): Promise<string> {
  let sid = '';
  await eventually(async () => {
    const r = await api(service, agentToken).get<{ sessions: Array<{ id: string }> }>('/sessions?state=queued');
    if (r.body.sessions.length < count) return false;
    sid = r.body.sessions.at(-1)!.id;
    return true;
  }, 'the session in the queue');
  return sid;
}

async function createSiteWithOrigins(service: Service, name: string, allowedOrigins: string[]): Promise<SiteFixture> {
  const r = await api(service, ADMIN_TOKEN).post('/sites', { name, allowedOrigins });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return { siteId: r.body.site.id, siteKey: r.body.siteKey, adminKey: r.body.adminKey, identitySecret: r.body.identitySecret };
}

/** The seqs 1..n exactly once, ascending, and nothing still pending. */
function assertExactlyOnce(shown: Line[], stored: Array<{ seq: number }>): void {
  assert.deepEqual(
    shown.map((l) => l.seq),
    stored.map((m) => m.seq),
  );
  assert.deepEqual(
    stored.map((m) => m.seq),
    stored.map((_, i) => i + 1),
  );
}

describe('the embeddable widget in a browser', () => {
  let service: Service;
  let browser: Browser;
  let hostServer: Server;
  /** another origin than the service's: 127.0.0.1 vs localhost, other port */
  let hostOrigin: string;
  let serviceOnLocalhost: string;
  const contexts: BrowserContext[] = [];
  const diagnostics = new WeakMap<Page, string[]>();

  /** Waits for the loader to show its launcher; says what the browser reported if it never does. */
  async function launcherShown(page: Page): Promise<void> {
    try {
      await page.getByTestId('im-launcher').waitFor({ timeout: WAIT_MS });
    } catch (err) {
      throw new Error(`${(err as Error).message}\nbrowser reported:\n${(diagnostics.get(page) ?? []).join('\n')}`);
    }
  }
  const clients: SdkClient[] = [];

  const HOSTILE_CSS = `
    * { all: unset !important; }
    html { font-size: 40px !important; }
    div, button, iframe, span { box-sizing: content-box !important; padding: 13px !important; border: 7px solid red !important; transform: rotate(3deg) !important; }
    body { display: block !important; padding: 24px !important; font: 40px/3 serif !important; }
    head, style, script { display: none !important; }
    .sticky { position: fixed !important; bottom: 0 !important; right: 0 !important; z-index: 2147483646 !important; background: yellow !important; }
  `;

  before(async () => {
    service = await startService();
    serviceOnLocalhost = service.url.replace('127.0.0.1', 'localhost');
    browser = await launchBrowser();
    hostServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const key = url.searchParams.get('site') ?? '';
      const embed = `<script src="${serviceOnLocalhost}/widget.js" data-site-key="${key}" async></script>`;
      let html: string;
      if (url.pathname === '/hostile') {
        html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Hostile host</title><style>${HOSTILE_CSS}</style></head>
          <body><div>A host page whose CSS tries everything.</div><span class="sticky">sticky</span>${embed}</body></html>`;
      } else if (url.pathname === '/zh') {
        html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>示例商店</title></head>
          <body style="font-family:sans-serif;padding:24px"><h1>示例商店</h1><p>右下角是在线客服。</p>${embed}</body></html>`;
      } else {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
    });
    await new Promise<void>((resolve) => hostServer.listen(0, '127.0.0.1', resolve));
    hostOrigin = `http://127.0.0.1:${(hostServer.address() as AddressInfo).port}`;
  });

  // each test leaves no page or client behind: a restart must only see its own
  afterEach(async () => {
    for (const c of clients.splice(0)) c.client.close();
    for (const c of contexts.splice(0)) await c.close();
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => hostServer?.close(resolve));
    await service?.close();
  });

  async function newPage(opts: { width?: number; height?: number; identity?: { userId: string; name?: string; hash: string } } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: opts.width ?? 1280, height: opts.height ?? 800 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('dialog', (d) => {
      throw new Error(`a dialog opened: ${d.message()}`);
    });
    // what went wrong in the browser, for the failure message of a wait that timed out
    const problems: string[] = [];
    diagnostics.set(page, problems);
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
    await page.addInitScript(hostInit(opts.identity));
    return page;
  }

  function agentClient(token: string): SdkClient {
    const c = sdkClient(service, token);
    clients.push(c);
    return c;
  }

  it('a visitor writes, an agent accepts, types and replies; read marks, system lines, the unread badge while closed, transfer and close', async () => {
    const site = await createSite(service, 'Northwind Goods');
    const alice = await createAgent(service, site, { name: 'Alice Chen' });
    const page = await newPage();
    await page.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    const w = widget(page);

    assert.equal(await w.launcher.getAttribute('aria-expanded'), 'false');
    await openWidget(w);
    assert.equal(await w.launcher.getAttribute('aria-expanded'), 'true');
    await w.ui.getByTestId('im-greeting').filter({ hasText: 'Northwind Goods' }).waitFor();
    // nobody is online yet
    await w.ui.getByTestId('im-offline').waitFor();

    await say(w, 'Hello, is my order on its way?');
    const sid = await queuedSession(service, alice.token);
    const details = await api(service, alice.token).get(`/sessions/${sid}`);
    assert.match(details.body.session.page.url, /\/demo\?siteKey=/);
    assert.equal(details.body.session.page.title, 'Northwind Goods — demo shop');

    const a = agentClient(alice.token);
    const agentEvents: Array<{ name: string }> = [];
    a.client.on('event', (e) => agentEvents.push(e));
    await waitFor(() => a.readies.length === 1, WAIT_MS, 'the agent to be ready');
    assert.equal((await api(service, alice.token).post(`/sessions/${sid}/accept`)).status, 200);
    await w.ui.locator('[data-event="accepted"]').filter({ hasText: 'Alice Chen joined the conversation' }).waitFor();
    await w.ui.getByTestId('im-title').filter({ hasText: 'Alice Chen' }).waitFor();
    await w.ui.getByTestId('im-offline').waitFor({ state: 'detached' });

    // typing, both ways
    a.client.typing(sid);
    await w.ui.getByTestId('im-typing').filter({ hasText: 'Alice Chen is typing…' }).waitFor();
    await w.ui.getByTestId('im-input').pressSequentially('Tha');
    await waitFor(() => agentEvents.some((e) => e.name === 'typing'), WAIT_MS, 'the agent to see the visitor typing');
    await w.ui.getByTestId('im-input').fill('');

    await a.client.send(sid, 'Yes! It ships today.');
    await w.ui.locator('[data-from="agent"]').filter({ hasText: 'Yes! It ships today.' }).waitFor();
    // the reply ends the typing indicator
    await w.ui.getByTestId('im-typing').filter({ hasText: 'typing' }).waitFor({ state: 'detached' });

    // read marks on own messages come from the agent's read cursor
    a.client.read(sid, a.client.lastSeq(sid));
    await w.ui.locator('[data-from="visitor"][data-status="read"]').waitFor();
    await say(w, 'Great, thank you!');
    await screenshot(page, 'widget-open-conversation');

    // closed: new messages count on the launcher, and the host hears the count
    await w.launcher.click();
    assert.equal(await w.launcher.getAttribute('aria-expanded'), 'false');
    await a.client.send(sid, 'Your tracking number is NW-1234.');
    await a.client.send(sid, 'Anything else I can help with?');
    await eventually(async () => (await w.badge.isVisible()) && (await w.badge.textContent()) === '2', 'the unread badge to show 2');
    await eventually(async () => (await page.evaluate(() => window.__unread)).includes(2), 'IMWidget("on", "unread") to report 2');
    await screenshot(page, 'widget-closed-unread');

    // opening reads them
    await w.launcher.click();
    await w.badge.waitFor({ state: 'hidden' });
    await eventually(async () => (await page.evaluate(() => window.__unread)).at(-1) === 0, 'the unread count to drop to 0');

    // transfer to another agent
    const bo = await createAgent(service, site, { name: 'Bo Wang' });
    assert.equal((await api(service, alice.token).post(`/sessions/${sid}/transfer`, { toAgentId: bo.id })).status, 200);
    await w.ui.locator('[data-event="transferred"]').filter({ hasText: 'You were transferred to Bo Wang' }).waitFor();
    await w.ui.getByTestId('im-title').filter({ hasText: 'Bo Wang' }).waitFor();

    // close, then a new conversation
    assert.equal((await api(service, bo.token).post(`/sessions/${sid}/close`)).status, 200);
    await w.ui.locator('[data-event="closed"]').waitFor();
    await w.ui.getByTestId('im-input').waitFor({ state: 'detached' });
    await screenshot(page, 'widget-closed-conversation');
    await w.ui.getByTestId('im-new').click();
    await w.ui.getByTestId('im-input').waitFor();
    assert.equal((await lines(w)).length, 0);
    await say(w, 'One more question, please');
    const second = await queuedSession(service, bo.token);
    assert.notEqual(second, sid);

    // everything shown matches the store, once each
    assertExactlyOnce(await lines(w), await restHistory(service, alice.token, second));

    // the host page only ever heard open/closed and counts
    const heard = await page.evaluate(() => window.__hostMessages);
    assert.ok(heard.length > 0);
    for (const text of ['Hello, is my order', 'ships today', 'NW-1234', 'One more question']) {
      assert.ok(!heard.some((m) => m.includes(text)), `the host page received "${text}"`);
    }
  });

  it('a reload keeps the history without duplicates, and an identified visitor sees it on another device', async () => {
    const site = await createSite(service, 'Reload shop');
    const agent = await createAgent(service, site, { name: 'Carol' });
    const page = await newPage();
    await page.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    const w = widget(page);
    await openWidget(w);
    await say(w, 'first');
    await say(w, 'second');
    const sid = await queuedSession(service, agent.token);
    await api(service, agent.token).post(`/sessions/${sid}/accept`);
    const a = agentClient(agent.token);
    await waitFor(() => a.readies.length === 1, WAIT_MS, 'the agent to be ready');
    await a.client.send(sid, 'reply one');
    await w.ui.locator('[data-from="agent"]').filter({ hasText: 'reply one' }).waitFor();
    const before = await lines(w);

    await page.reload();
    await openWidget(w);
    await eventually(async () => (await lines(w)).length === before.length, 'the history to be shown again');
    assert.deepEqual(await lines(w), before);
    // and it goes on live from there
    await w.ui.getByTestId('im-status').waitFor({ state: 'detached' });
    await a.client.send(sid, 'after the reload');
    await w.ui.locator('[data-from="agent"]').filter({ hasText: 'after the reload' }).waitFor();
    await say(w, 'third');
    assertExactlyOnce(await lines(w), await restHistory(service, agent.token, sid));

    // identified: the same user on a fresh browser profile gets the same conversation
    const userId = `user-${Date.now()}`;
    const identity = { userId, name: 'Dana Lee', hash: createHmac('sha256', site.identitySecret).update(userId).digest('hex') };
    const laptop = await newPage({ identity });
    await laptop.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    const wl = widget(laptop);
    await openWidget(wl);
    await say(wl, 'written on my laptop');
    const phone = await newPage({ identity });
    await phone.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    const wp = widget(phone);
    await openWidget(wp);
    await wp.ui.locator('[data-from="visitor"]').filter({ hasText: 'written on my laptop' }).waitFor();
    assert.deepEqual(
      (await lines(wp)).map((l) => l.seq),
      (await lines(wl)).map((l) => l.seq),
    );
  });

  it('on a host page of another origin with hostile CSS the widget looks right, works, and the host cannot read the chat', async () => {
    const site = await createSiteWithOrigins(service, 'Hostile host shop', [hostOrigin]);
    const page = await newPage();
    await page.goto(`${hostOrigin}/hostile?site=${site.siteKey}`);
    const w = widget(page);
    await launcherShown(page);
    const box = await w.launcher.boundingBox();
    assert.ok(box, 'the launcher has a box');
    assert.ok(Math.abs(box.width - 60) <= 1 && Math.abs(box.height - 60) <= 1, `launcher size ${box.width}x${box.height}`);
    assert.ok(Math.abs(box.x + box.width - (1280 - 20)) <= 1 && Math.abs(box.y + box.height - (800 - 20)) <= 1, `launcher at ${box.x},${box.y}`);
    await screenshot(page, 'widget-hostile-host-closed');

    await openWidget(w);
    const frameBox = await page.getByTestId('im-frame').boundingBox();
    assert.ok(frameBox && Math.abs(frameBox.width - 380) <= 1 && frameBox.height > 400, `chat panel ${JSON.stringify(frameBox)}`);
    await say(w, 'Secret order details: 4111');
    await screenshot(page, 'widget-hostile-host');

    // the chat is another origin's document: the host gets neither its DOM nor its text
    const contentDocument = await page.evaluate(() => {
      const host = document.querySelector('[data-im-widget]');
      const frame = host?.shadowRoot?.querySelector('iframe');
      return frame ? frame.contentDocument === null : 'no frame';
    });
    assert.equal(contentDocument, true);
    const heard = await page.evaluate(() => window.__hostMessages);
    assert.ok(heard.length > 0, 'the frame talked to the host');
    assert.ok(!heard.some((m) => m.includes('4111')), 'chat text reached the host page');

    // a site that does not list this origin gets its frame refused
    const strict = await createSiteWithOrigins(service, 'Strict shop', ['https://shop.example.com']);
    const other = await newPage();
    await other.goto(`${hostOrigin}/hostile?site=${strict.siteKey}`);
    await launcherShown(other);
    await eventually(() => other.frames().some((f) => f.url().startsWith('chrome-error://')), 'the chat frame to be refused (CSP frame-ancestors)');
    assert.ok(!other.frames().some((f) => f.url().includes('/widget/frame.html')), 'the chat frame loaded on a host it should refuse');
  });

  it('on a 360 px wide phone the open chat fills the screen', async () => {
    const site = await createSite(service, 'Phone shop');
    const page = await newPage({ width: 360, height: 740 });
    await page.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    const w = widget(page);
    await openWidget(w);
    await say(w, 'Typing this on my phone');
    const box = await page.getByTestId('im-frame').boundingBox();
    assert.deepEqual(box && { x: Math.round(box.x), y: Math.round(box.y), width: Math.round(box.width), height: Math.round(box.height) }, { x: 0, y: 0, width: 360, height: 740 });
    const send = await w.ui.getByTestId('im-send').boundingBox();
    assert.ok(send && send.x + send.width <= 360 && send.y + send.height <= 740, `send button off screen: ${JSON.stringify(send)}`);
    await screenshot(page, 'widget-phone');
    // the panel's own minimize button closes it again
    await w.ui.getByRole('button', { name: 'Minimize chat' }).click();
    await eventually(async () => (await w.launcher.getAttribute('aria-expanded')) === 'false', 'the chat to close');
    await w.launcher.waitFor();
  });

  it('a Chinese host page gets the chat in Chinese', async () => {
    const site = await createSiteWithOrigins(service, '示例商店', [hostOrigin]);
    const agent = await createAgent(service, site, { name: '王小明' });
    const page = await newPage();
    await page.goto(`${hostOrigin}/zh?site=${site.siteKey}`);
    const w = widget(page);
    assert.equal(await w.launcher.getAttribute('aria-label'), '打开聊天');
    await openWidget(w);
    await w.ui.getByTestId('im-greeting').filter({ hasText: '您好' }).waitFor();
    assert.equal(await w.ui.getByTestId('im-input').getAttribute('placeholder'), '输入消息…');
    await say(w, '你好，请问什么时候发货？');
    const sid = await queuedSession(service, agent.token);
    await api(service, agent.token).post(`/sessions/${sid}/accept`);
    await w.ui.locator('[data-event="accepted"]').filter({ hasText: '王小明 已加入对话' }).waitFor();
    await screenshot(page, 'widget-chinese');
  });

  it('text that looks like HTML is shown as text, never run', async () => {
    const site = await createSite(service, 'Escaping shop');
    const agent = await createAgent(service, site);
    const page = await newPage();
    await page.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    const w = widget(page);
    // keyboard only: the launcher opens with Enter and puts the focus in the message box
    await w.launcher.focus();
    await page.keyboard.press('Enter');
    const input = w.ui.getByTestId('im-input');
    await eventually(() => input.evaluate((el) => document.hasFocus() && document.activeElement === el), 'the message box to have the focus');
    const evil = '<img src=x onerror=alert(1)>';
    await page.keyboard.type(evil);
    await page.keyboard.press('Enter');
    await eventually(async () => (await lines(w)).some((l) => l.from === 'visitor' && l.text === evil && l.seq !== null), 'the message to be confirmed');
    const sid = await queuedSession(service, agent.token);
    await api(service, agent.token).post(`/sessions/${sid}/accept`);
    const reply = '<b>bold</b><script>alert(2)</script>';
    assert.equal((await api(service, agent.token).post(`/sessions/${sid}/messages`, { cid: 'html-1', text: reply })).status, 201);
    await eventually(async () => (await lines(w)).some((l) => l.from === 'agent' && l.text === reply), 'the reply, as text');
    assert.ok((await lines(w)).some((l) => l.from === 'visitor' && l.text === evil));
    assert.equal(await w.ui.locator('.items img, .items b, .items script').count(), 0);

    // Escape closes the chat and gives the focus back to the launcher
    await page.keyboard.press('Escape');
    await eventually(async () => (await w.launcher.getAttribute('aria-expanded')) === 'false', 'Escape to close the chat');
    await eventually(
      () => page.evaluate(() => document.activeElement?.shadowRoot?.activeElement?.getAttribute('data-testid') === 'im-launcher'),
      'the focus to return to the launcher',
    );
  });

  it('when the service restarts mid-conversation the widget shows it is reconnecting, then every message appears exactly once, in order', async () => {
    const site = await createSite(service, 'Restart shop');
    const agent = await createAgent(service, site, { name: 'Erin' });
    const page = await newPage();
    await page.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    const w = widget(page);
    await openWidget(w);
    await say(w, 'before the restart');
    const sid = await queuedSession(service, agent.token);
    await api(service, agent.token).post(`/sessions/${sid}/accept`);
    const a = agentClient(agent.token);
    await waitFor(() => a.readies.length === 1, WAIT_MS, 'the agent to be ready');
    await a.client.send(sid, 'agent before the restart');
    await w.ui.locator('[data-from="agent"]').filter({ hasText: 'agent before the restart' }).waitFor();

    // record every connection state the widget shows, however briefly
    // (a string: tsx would wrap a named function in a helper the page does not have)
    await w.frame().evaluate(`
      window.__states = [];
      const note = () => {
        const s = document.querySelector('[data-testid="im-status"]');
        const state = s ? (s.getAttribute('data-state') || '') : 'none';
        if (window.__states[window.__states.length - 1] !== state) window.__states.push(state);
      };
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, attributes: true });
      note();
    `);

    const restarted = service.restart();
    await eventually(async () => (await w.frame().evaluate(() => window.__states)).includes('reconnecting'), 'the widget to show reconnecting');
    // written while the service is away: shown at once as sending, delivered after the reconnect
    const input = w.ui.getByTestId('im-input');
    await input.fill('written during the restart');
    await input.press('Enter');
    const agentSend = a.client.send(sid, 'agent during the restart');
    await restarted;
    await agentSend;
    await w.ui.getByTestId('im-status').waitFor({ state: 'detached', timeout: WAIT_MS });
    await a.client.send(sid, 'agent after the restart');
    await say(w, 'visitor after the restart');
    await w.ui.locator('[data-from="agent"]').filter({ hasText: 'agent after the restart' }).waitFor();

    const stored = await restHistory(service, agent.token, sid);
    await eventually(async () => (await lines(w)).length === stored.length, 'every stored message to be shown');
    assertExactlyOnce(await lines(w), stored);
    assert.deepEqual(
      (await lines(w)).filter((l) => l.from !== 'system').map((l) => l.text),
      stored.filter((m) => m.type === 'chat').map((m) => m.body.text),
    );
    const states = await w.frame().evaluate(() => window.__states);
    assert.equal(states.at(-1), 'none', `states seen: ${states.join(' → ')}`);
  });
});

/**
 * The agent workbench in Chromium against the real service: visitors are SDK
 * clients (as the widget is), agents are browser pages at /workbench/.
 * Screenshots of the main states go to test-results/screenshots.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { api, createAgent, createSite, type SiteFixture } from '../helpers/api.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { sdkClient, type SdkClient } from '../helpers/sdk.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor } from '../helpers/wait-for.js';

type Agent = Awaited<ReturnType<typeof createAgent>>;

const TIMEOUT = 15_000;

describe('agent workbench in Chromium', () => {
  let service: Service;
  let browser: Browser;
  const contexts: BrowserContext[] = [];
  const visitors: SdkClient[] = [];
  /** uncaught errors in any page: a test fails on them */
  const pageErrors: string[] = [];

  before(async () => {
    service = await startService();
    browser = await launchBrowser();
  });

  after(async () => {
    for (const v of visitors) v.client.close();
    await browser?.close();
    await service?.close();
  });

  async function openWorkbench(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${service.url}/workbench/`);
    return page;
  }

  async function login(page: Page, agent: Agent): Promise<void> {
    await page.getByTestId('wb-email').fill(agent.email);
    await page.getByTestId('wb-password').fill(agent.password);
    await page.getByTestId('wb-login').click();
    await connected(page);
  }

  async function workbenchFor(agent: Agent): Promise<Page> {
    const page = await openWorkbench();
    await login(page, agent);
    return page;
  }

  const connected = (page: Page) => page.locator('[data-testid="wb-status"][data-state="connected"]').waitFor({ timeout: TIMEOUT });
  const queueItem = (page: Page, sid: string) => page.locator(`[data-testid="wb-queue-item"][data-session-id="${sid}"]`);
  const sessionItem = (page: Page, sid: string) => page.locator(`[data-testid="wb-session"][data-session-id="${sid}"]`);
  const messages = (page: Page) => page.locator('[data-testid="wb-message"]');
  const messageWithText = (page: Page, text: string) => page.locator('[data-testid="wb-message"]', { has: page.locator('.msg-text', { hasText: text }) });

  async function until(what: string, predicate: () => Promise<boolean> | boolean): Promise<void> {
    await waitFor(predicate, TIMEOUT, what);
  }

  /** the seqs of the stored messages shown, in page order */
  const shownSeqs = (page: Page) => messages(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-seq')).filter((s): s is string => s !== null).map(Number));

  /** A visitor with an open session started from a shop page, connected over the SDK. */
  async function startVisitor(site: SiteFixture, who: { userId: string; name: string; email: string } | null = null) {
    const identity = who ? { ...who, hash: createHmac('sha256', site.identitySecret).update(who.userId).digest('hex') } : undefined;
    const created = await api(service).post('/visitors', { siteKey: site.siteKey, ...(identity ? { identity } : {}) });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = created.body.token as string;
    const started = await api(service, token).post('/sessions', { page: { url: 'https://shop.example.com/checkout?step=2', title: 'Checkout · Example Shop' } });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const sid = started.body.session.id as string;
    const v = sdkClient(service, token);
    visitors.push(v);
    const events: Array<Record<string, unknown>> = [];
    v.client.on('event', (e) => events.push(e));
    await waitFor(() => v.readies.length >= 1, TIMEOUT, 'the visitor to be connected');
    return { sid, v, token, events, say: (text: string) => v.client.send(sid, text) };
  }

  it('a wrong password shows an error; the right one opens the queue', async () => {
    const site = await createSite(service);
    const agent = await createAgent(service, site, { name: 'Alice Martin' });
    const page = await openWorkbench();
    await page.getByTestId('wb-email').fill(agent.email);
    await page.getByTestId('wb-password').fill('not the password');
    await page.getByTestId('wb-login').click();
    const error = page.getByTestId('wb-login-error');
    await error.waitFor({ timeout: TIMEOUT });
    assert.match(await error.innerText(), /wrong email or password/i);
    await screenshot(page, 'workbench-login-error');

    await page.getByTestId('wb-password').fill(agent.password);
    await page.getByTestId('wb-login').click();
    await connected(page);
    await page.getByTestId('wb-queue-empty').waitFor({ timeout: TIMEOUT });
    assert.equal(await page.getByTestId('wb-email').count(), 0);
    assert.deepEqual(pageErrors, []);
  });

  it('a new visitor appears live in the queue; accept shows the history; replies, typing, read marks and unread counts work', async () => {
    const site = await createSite(service);
    const agent = await createAgent(service, site, { name: 'Alice Martin' });
    const page = await workbenchFor(agent);

    const dana = await startVisitor(site, { userId: 'u-4711', name: 'Dana Scully', email: 'dana@example.com' });
    await dana.say('Hi, my order #1042 has not arrived yet');
    await queueItem(page, dana.sid).waitFor({ timeout: TIMEOUT });
    assert.match(await queueItem(page, dana.sid).innerText(), /Dana Scully/);
    const other = await startVisitor(site);
    await queueItem(page, other.sid).waitFor({ timeout: TIMEOUT });
    await screenshot(page, 'workbench-queue');

    await queueItem(page, dana.sid).getByTestId('wb-accept').click();
    await sessionItem(page, dana.sid).waitFor({ timeout: TIMEOUT });
    await until('the queue item to go', async () => (await queueItem(page, dana.sid).count()) === 0);
    // history: started (1), the visitor's message (2), accepted (3)
    await until('the history', async () => (await shownSeqs(page)).join() === '1,2,3');
    assert.equal(await messageWithText(page, 'order #1042').getAttribute('data-from'), 'visitor');
    assert.equal(await page.locator('[data-testid="wb-message"][data-seq="1"]').getAttribute('data-from'), 'system');

    // the visitor details
    assert.equal(await page.getByTestId('wb-visitor-name').innerText(), 'Dana Scully');
    assert.equal(await page.getByTestId('wb-visitor-email').innerText(), 'dana@example.com');
    assert.equal(await page.getByTestId('wb-visitor-user-id').innerText(), 'u-4711');
    const link = page.getByTestId('wb-visitor-page');
    assert.equal(await link.getAttribute('href'), 'https://shop.example.com/checkout?step=2');
    assert.match((await link.getAttribute('rel')) ?? '', /noopener/);

    // the visitor types, the agent sees it; the agent types, the visitor hears it
    dana.v.client.typing(dana.sid);
    await page.getByTestId('wb-typing').waitFor({ timeout: TIMEOUT });
    const input = page.getByTestId('wb-input');
    await input.pressSequentially('Sorry to hear that');
    await until('the visitor to hear the agent typing', () => dana.events.some((e) => e.name === 'typing'));

    // reply with Enter (Shift+Enter is a new line)
    await input.press('Shift+Enter');
    await input.pressSequentially('let me check.');
    await input.press('Enter');
    const replyText = 'Sorry to hear that\nlet me check.';
    await until('the visitor to receive the reply', () => dana.v.messages.some((m) => m.body.text === replyText));
    const reply = dana.v.messages.find((m) => m.body.text === replyText)!;
    await page.locator(`[data-testid="wb-message"][data-seq="${reply.seq}"][data-from="agent"]`).waitFor({ timeout: TIMEOUT });
    assert.equal(await input.inputValue(), '');

    // the visitor writes: shown once, with its seq
    const sent = await dana.say('Thanks! It was due on Monday.');
    const shown = page.locator(`[data-testid="wb-message"][data-seq="${sent.seq}"]`);
    await shown.waitFor({ timeout: TIMEOUT });
    assert.equal(await messageWithText(page, 'It was due on Monday').count(), 1);
    assert.equal(await shown.getAttribute('data-from'), 'visitor');
    await until('the typing indicator to clear on the message', async () => (await page.getByTestId('wb-typing').count()) === 0);

    // the visitor reads the reply: "Read" under it
    dana.v.client.read(dana.sid, sent.seq);
    await page.getByTestId('wb-read').waitFor({ timeout: TIMEOUT });

    // canned replies: "/" opens them, Enter inserts one
    await input.fill('/');
    await input.press('/');
    await page.getByTestId('wb-canned').waitFor({ timeout: TIMEOUT });
    await input.fill('/che');
    await page.getByTestId('wb-canned-item').first().waitFor();
    await input.press('Enter');
    assert.equal(await input.inputValue(), 'Let me check that for you, one moment please.');
    await input.fill('');
    await screenshot(page, 'workbench-conversation');

    // a second conversation selected: new messages of the first count as unread
    await other.say('Hello? Do you ship to Canada?');
    await queueItem(page, other.sid).getByTestId('wb-accept').click();
    await sessionItem(page, other.sid).waitFor({ timeout: TIMEOUT });
    await page.locator('[data-testid="wb-conversation"]').and(page.locator(`[data-session-id="${other.sid}"]`)).waitFor({ timeout: TIMEOUT });
    await dana.say('Are you still there?');
    await dana.say('The tracking number is ZX-99.');
    await until('two unread on the first conversation', async () => (await sessionItem(page, dana.sid).getAttribute('data-unread')) === '2');
    assert.equal(await sessionItem(page, other.sid).getAttribute('data-unread'), '0');
    await until('the tab title to count them', async () => (await page.title()) === '(2) Workbench');
    await screenshot(page, 'workbench-two-sessions-unread');

    // opening it reads them
    await sessionItem(page, dana.sid).click();
    await until('the unread to clear', async () => (await sessionItem(page, dana.sid).getAttribute('data-unread')) === '0');
    await until('the title to clear', async () => (await page.title()) === 'Workbench');
    assert.equal(await messageWithText(page, 'ZX-99').count(), 1);
    assert.deepEqual(pageErrors, []);
  });

  it('two agents: the queue updates for both, transfer to a colleague and back to the queue, then close', async () => {
    const site = await createSite(service);
    const a = await createAgent(service, site, { name: 'Alice Martin' });
    const b = await createAgent(service, site, { name: 'Bob Chen' });
    const pageA = await workbenchFor(a);
    const pageB = await workbenchFor(b);

    const visitor = await startVisitor(site);
    const first = await visitor.say('I need help with a refund');
    await queueItem(pageA, visitor.sid).waitFor({ timeout: TIMEOUT });
    await queueItem(pageB, visitor.sid).waitFor({ timeout: TIMEOUT });

    await queueItem(pageA, visitor.sid).getByTestId('wb-accept').click();
    await sessionItem(pageA, visitor.sid).waitFor({ timeout: TIMEOUT });
    await until("the item to leave B's queue", async () => (await queueItem(pageB, visitor.sid).count()) === 0);

    await pageA.getByTestId('wb-input').fill('Hi, Alice here. Passing you to our refunds expert.');
    await pageA.getByTestId('wb-send').click();
    await until('the visitor to get the reply', () => visitor.v.messages.some((m) => m.body.text?.startsWith('Hi, Alice here')));

    // A -> B (B is online: its page is connected)
    await pageA.getByTestId('wb-transfer').click();
    const toB = pageA.locator(`[data-testid="wb-transfer-target"][data-agent-id="${b.id}"]`);
    await toB.waitFor({ timeout: TIMEOUT });
    await screenshot(pageA, 'workbench-transfer');
    await toB.click();
    await until("the conversation to leave A's list", async () => (await sessionItem(pageA, visitor.sid).count()) === 0);
    await sessionItem(pageB, visitor.sid).waitFor({ timeout: TIMEOUT });
    await sessionItem(pageB, visitor.sid).click();
    await pageB.locator(`[data-testid="wb-message"][data-seq="${first.seq}"]`).waitFor({ timeout: TIMEOUT });
    assert.equal(await messageWithText(pageB, 'Hi, Alice here').count(), 1);
    assert.match(await pageB.locator('[data-testid="wb-messages"]').innerText(), /Transferred from Alice Martin to you/);
    const seqsB = await shownSeqs(pageB);
    assert.deepEqual(seqsB, [...seqsB].sort((x, y) => x - y));
    assert.equal(new Set(seqsB).size, seqsB.length);

    // B -> the queue: both see it waiting again
    await pageB.getByTestId('wb-transfer').click();
    await pageB.locator('[data-testid="wb-transfer-target"][data-agent-id="queue"]').click();
    await until("the conversation to leave B's list", async () => (await sessionItem(pageB, visitor.sid).count()) === 0);
    await queueItem(pageA, visitor.sid).waitFor({ timeout: TIMEOUT });
    await queueItem(pageB, visitor.sid).waitFor({ timeout: TIMEOUT });

    // A takes it again and closes it
    await queueItem(pageA, visitor.sid).getByTestId('wb-accept').click();
    await sessionItem(pageA, visitor.sid).waitFor({ timeout: TIMEOUT });
    await until("the item to leave B's queue again", async () => (await queueItem(pageB, visitor.sid).count()) === 0);
    await pageA.getByTestId('wb-close').click();
    await pageA.getByTestId('wb-close-confirm').click();
    await until('the visitor to get the closed line', () => visitor.v.messages.some((m) => m.type === 'system' && m.body.event === 'closed'));
    await until("the conversation to leave A's list", async () => (await sessionItem(pageA, visitor.sid).count()) === 0);
    assert.deepEqual(pageErrors, []);
  });

  it('accepting a conversation someone else just took says so and drops it from the queue', async () => {
    const site = await createSite(service);
    const agent = await createAgent(service, site);
    const rival = await createAgent(service, site);
    const page = await workbenchFor(agent);
    const visitor = await startVisitor(site);
    await queueItem(page, visitor.sid).waitFor({ timeout: TIMEOUT });
    // the rival accepts between the click and the request reaching the service
    await page.route('**/api/v1/sessions/*/accept', async (route) => {
      const taken = await api(service, rival.token).post(`/sessions/${visitor.sid}/accept`);
      assert.equal(taken.status, 200);
      await route.continue();
    });
    await queueItem(page, visitor.sid).getByTestId('wb-accept').click();
    await page.getByTestId('wb-notice').filter({ hasText: /taken by someone else/i }).waitFor({ timeout: TIMEOUT });
    await until('the item to leave the queue', async () => (await queueItem(page, visitor.sid).count()) === 0);
    assert.equal(await sessionItem(page, visitor.sid).count(), 0);
    assert.deepEqual(pageErrors, []);
  });

  it('a reload keeps the login and the conversation, with no duplicates', async () => {
    const site = await createSite(service);
    const agent = await createAgent(service, site);
    const page = await workbenchFor(agent);
    const visitor = await startVisitor(site);
    await visitor.say('First question');
    await queueItem(page, visitor.sid).getByTestId('wb-accept').click();
    await page.getByTestId('wb-input').fill('Ask away');
    await page.getByTestId('wb-input').press('Enter');
    await visitor.say('Second question');
    await messageWithText(page, 'Second question').waitFor({ timeout: TIMEOUT });
    await until('the reply to be stored', async () => (await page.locator('[data-testid="wb-message"][data-status="pending"]').count()) === 0);
    const before = await shownSeqs(page);

    await page.reload();
    await connected(page);
    assert.equal(await page.getByTestId('wb-email').count(), 0);
    await until('the conversation to be back', async () => (await shownSeqs(page)).join() === before.join());

    // and it keeps going after the reload
    const next = await visitor.say('Third question');
    await page.locator(`[data-testid="wb-message"][data-seq="${next.seq}"]`).waitFor({ timeout: TIMEOUT });
    const after = await shownSeqs(page);
    assert.deepEqual(after, [...before, next.seq]);
    assert.equal(await messageWithText(page, 'Ask away').count(), 1);

    // sign out forgets the login
    await page.getByTestId('wb-logout').click();
    await page.getByTestId('wb-email').waitFor({ timeout: TIMEOUT });
    await page.reload();
    await page.getByTestId('wb-email').waitFor({ timeout: TIMEOUT });
    assert.deepEqual(pageErrors, []);
  });

  it('a service restart mid-conversation shows the reconnecting state, then every message once and in order', async () => {
    const site = await createSite(service);
    const agent = await createAgent(service, site);
    const page = await workbenchFor(agent);
    const visitor = await startVisitor(site);
    await visitor.say('before the restart');
    await queueItem(page, visitor.sid).getByTestId('wb-accept').click();
    await messageWithText(page, 'before the restart').waitFor({ timeout: TIMEOUT });

    const restarting = service.restart();
    await page.locator('[data-testid="wb-status"][data-state="reconnecting"]').waitFor({ timeout: TIMEOUT });
    // queued by the visitor's SDK and by the workbench while the service is away
    const during = [visitor.say('during 1'), visitor.say('during 2')];
    await page.getByTestId('wb-input').fill('sent while reconnecting');
    await page.getByTestId('wb-input').press('Enter');
    await restarting;
    await Promise.all(during);
    await visitor.say('after 1');
    await visitor.say('after 2');
    await connected(page);

    const texts = ['before the restart', 'during 1', 'during 2', 'after 1', 'after 2'];
    for (const t of texts) await messageWithText(page, t).waitFor({ timeout: TIMEOUT });
    for (const t of texts) assert.equal(await messageWithText(page, t).count(), 1, t);
    const seqs = await shownSeqs(page);
    assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => i + 1), 'contiguous, ascending, each once');
    const order = await page.locator('[data-testid="wb-message"][data-from="visitor"] .msg-text').allInnerTexts();
    assert.deepEqual(order, texts);

    // what the agent sent while disconnected reached the visitor once, and shows once with its seq
    await until('the visitor to get the reply sent while reconnecting', () => visitor.v.messages.some((m) => m.body.text === 'sent while reconnecting'));
    const offlineReply = visitor.v.messages.filter((m) => m.body.text === 'sent while reconnecting');
    assert.equal(offlineReply.length, 1);
    await page.locator(`[data-testid="wb-message"][data-seq="${offlineReply[0]!.seq}"]`).waitFor({ timeout: TIMEOUT });
    assert.equal(await messageWithText(page, 'sent while reconnecting').count(), 1);

    // and replies after it go through too
    await page.getByTestId('wb-input').fill('All good on my side');
    await page.getByTestId('wb-input').press('Enter');
    await until('the visitor to get the reply after the restart', () => visitor.v.messages.some((m) => m.body.text === 'All good on my side'));
    assert.deepEqual(pageErrors, []);
  });

  it('a message with HTML in it is shown as text', async () => {
    const site = await createSite(service);
    const agent = await createAgent(service, site);
    const page = await workbenchFor(agent);
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    const visitor = await startVisitor(site);
    const hostile = '<img src=x onerror=alert(1)>';
    await visitor.say(hostile);
    await queueItem(page, visitor.sid).getByTestId('wb-accept').click();
    const shown: Locator = page.locator('[data-testid="wb-message"][data-seq="2"] .msg-text');
    await shown.waitFor({ timeout: TIMEOUT });
    assert.equal(await shown.innerText(), hostile);
    assert.equal(await page.locator('[data-testid="wb-messages"] img').count(), 0);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(pageErrors, []);
  });
});

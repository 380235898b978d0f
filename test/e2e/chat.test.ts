/**
 * The whole product as people use it: a visitor on the demo shop page with
 * the widget, agents in the workbench, all in one real Chromium against a
 * real service. Each step asserts what the person on that side would see.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, FrameLocator, Locator, Page } from 'playwright-core';
import { createAgent, createSite, type SiteFixture } from '../helpers/api.js';
import { launchBrowser, screenshot } from '../helpers/browser.js';
import { type Service, startService } from '../helpers/service.js';
import { waitFor } from '../helpers/wait-for.js';

const UI_TIMEOUT = 15_000;

/** The seqs of the messages a side shows, in the order it shows them, and their texts. */
async function shown(messages: Locator): Promise<Array<{ seq: number; from: string; text: string }>> {
  return messages.evaluateAll((els) =>
    els.map((el) => ({ seq: Number(el.getAttribute('data-seq')), from: el.getAttribute('data-from') ?? '', text: (el.textContent ?? '').trim() })),
  );
}

/** Every seq once, ascending: nothing lost in between, nothing doubled, nothing reordered. */
function assertContiguous(seqs: number[], what: string) {
  assert.ok(seqs.length > 0, `${what}: no messages`);
  assert.deepEqual(seqs, Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i), `${what}: seqs ${seqs.join(',')}`);
}

async function until(what: string, check: () => Promise<boolean>) {
  await waitFor(check, UI_TIMEOUT, what);
}

describe('a visitor on the demo shop and agents in the workbench', () => {
  let service: Service;
  let site: SiteFixture;
  let browser: Browser;
  let visitorContext: BrowserContext;
  let agentContexts: BrowserContext[] = [];
  let shop: Page;
  let chat: FrameLocator;
  let alice: { id: string; email: string; password: string; page: Page };
  let bob: { id: string; email: string; password: string; page: Page };

  before(async () => {
    service = await startService();
    site = await createSite(service, 'Demo shop');
    browser = await launchBrowser();
    visitorContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    shop = await visitorContext.newPage();
    chat = shop.frameLocator('[data-testid="im-frame"]');
  });
  after(async () => {
    await browser?.close();
    await service?.close();
  });

  async function workbench(name: string) {
    return logIn(await createAgent(service, site, { name }));
  }
  async function logIn(agent: Awaited<ReturnType<typeof createAgent>>) {
    const context = await browser.newContext({ viewport: { width: 1400, height: 860 } });
    agentContexts.push(context);
    const page = await context.newPage();
    await page.goto(`${service.url}/workbench/`);
    await page.getByTestId('wb-email').fill(agent.email);
    await page.getByTestId('wb-password').fill(agent.password);
    await page.getByTestId('wb-login').click();
    await page.getByTestId('wb-login').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    return { ...agent, page };
  }

  const visitorMessages = () => chat.getByTestId('im-message');
  const agentMessages = (page: Page) => page.getByTestId('wb-message');

  async function visitorSays(text: string) {
    await chat.getByTestId('im-input').fill(text);
    await chat.getByTestId('im-input').press('Enter');
  }
  async function agentSays(page: Page, text: string) {
    await page.getByTestId('wb-input').fill(text);
    await page.getByTestId('wb-send').click();
  }
  const showsText = (messages: Locator, text: string) => messages.filter({ hasText: text }).first().waitFor({ timeout: UI_TIMEOUT });

  it('the visitor writes from the widget and the agent sees it in the queue, accepts and replies', async () => {
    alice = await workbench('Alice');
    await shop.goto(`${service.url}/demo?siteKey=${site.siteKey}`);
    await shop.getByTestId('im-launcher').click();
    await visitorSays('Hello, where is my order?');
    await showsText(visitorMessages(), 'where is my order');

    const item = alice.page.getByTestId('wb-queue-item');
    await item.first().waitFor({ timeout: UI_TIMEOUT });
    await screenshot(alice.page, 'chat-01-queue');
    await alice.page.getByTestId('wb-accept').first().click();
    await showsText(agentMessages(alice.page), 'where is my order');
    await agentSays(alice.page, 'Hi! Let me check that for you.');

    await showsText(visitorMessages(), 'Let me check');
    const fromAgent = visitorMessages().filter({ hasText: 'Let me check' });
    assert.equal(await fromAgent.count(), 1);
    await screenshot(shop, 'chat-02-visitor-conversation');
    await screenshot(alice.page, 'chat-03-agent-conversation');
  });

  it('a reply that comes while the widget is closed shows as an unread badge on the launcher', async () => {
    await shop.getByTestId('im-launcher').click(); // close
    await chat.getByTestId('im-input').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });
    await agentSays(alice.page, 'Your parcel left the warehouse today.');
    await until('the unread badge to say 1', async () => ((await shop.getByTestId('im-unread').textContent()) ?? '').trim() === '1');
    await screenshot(shop, 'chat-04-unread-badge');
    await shop.getByTestId('im-launcher').click(); // open again
    await showsText(visitorMessages(), 'left the warehouse');
    await until('the badge to clear', async () => !(await shop.getByTestId('im-unread').isVisible()));
  });

  it('a transfer to a second agent is seen on all three screens', async () => {
    // Alice opens the dialog while Bob is still logged out: he is listed as offline, and
    // becomes a transfer target once he logs in, without the dialog being reopened.
    const bobAccount = await createAgent(service, site, { name: 'Bob' });
    await alice.page.getByTestId('wb-transfer').click();
    const dialog = alice.page.getByTestId('wb-transfer-dialog');
    await dialog.getByText(/Offline: .*Bob/).waitFor({ timeout: UI_TIMEOUT });
    const bobTarget = alice.page.locator(`[data-testid="wb-transfer-target"][data-agent-id="${bobAccount.id}"]`);
    assert.equal(await bobTarget.count(), 0, 'Bob is offline: not a transfer target yet');
    bob = await logIn(bobAccount);
    await bobTarget.click({ timeout: UI_TIMEOUT });
    await bob.page.getByTestId('wb-session').first().waitFor({ timeout: UI_TIMEOUT });
    await bob.page.getByTestId('wb-session').first().click();
    await showsText(agentMessages(bob.page), 'left the warehouse');
    await until('the session to leave Alice', async () => (await alice.page.getByTestId('wb-session').count()) === 0);
    await until('the visitor to see the transfer', async () => (await visitorMessages().filter({ hasText: /Bob/ }).count()) > 0);
    await agentSays(bob.page, 'Bob here, I have your case now.');
    await showsText(visitorMessages(), 'Bob here');
  });

  it('the service restarts mid-conversation: both sides recover, nothing lost or doubled', async () => {
    await service.stop();
    await chat.getByTestId('im-status').waitFor({ state: 'visible', timeout: UI_TIMEOUT });
    await bob.page.locator('[data-testid="wb-status"]:not([data-state="connected"])').waitFor({ timeout: UI_TIMEOUT });
    await screenshot(shop, 'chat-05-visitor-reconnecting');
    await visitorSays('Are you still there?');
    await service.start();
    await bob.page.locator('[data-testid="wb-status"][data-state="connected"]').waitFor({ timeout: UI_TIMEOUT });
    await showsText(visitorMessages(), 'still there');
    await showsText(agentMessages(bob.page), 'still there');
    await agentSays(bob.page, 'Yes, all good.');
    await showsText(visitorMessages(), 'all good');
    await chat.getByTestId('im-status').waitFor({ state: 'hidden', timeout: UI_TIMEOUT });

    await until('both sides to show the same messages', async () => {
      const v = (await shown(visitorMessages())).map((m) => m.seq);
      const a = (await shown(agentMessages(bob.page))).map((m) => m.seq);
      return v.length > 0 && v.at(-1) === a.at(-1);
    });
    const visitorSide = await shown(visitorMessages());
    const agentSide = await shown(agentMessages(bob.page));
    assertContiguous(visitorSide.map((m) => m.seq), 'visitor');
    assertContiguous(agentSide.map((m) => m.seq), 'agent');
    for (const text of ['where is my order', 'Let me check', 'left the warehouse', 'Bob here', 'still there', 'all good']) {
      assert.equal(visitorSide.filter((m) => m.text.includes(text)).length, 1, `visitor sees "${text}" once`);
      assert.equal(agentSide.filter((m) => m.text.includes(text)).length, 1, `agent sees "${text}" once`);
    }
  });

  it('the agent closes: the visitor sees it and can start a new conversation', async () => {
    await bob.page.getByTestId('wb-close').click();
    await bob.page.getByTestId('wb-close-confirm').click();
    await until('the session to leave Bob', async () => (await bob.page.getByTestId('wb-session').count()) === 0);
    await until('the visitor to see the close', async () => (await visitorMessages().filter({ hasText: /closed|ended/i }).count()) > 0);
    await screenshot(shop, 'chat-06-visitor-closed');

    // a new conversation reaches the queue again, with none of the old messages in it
    await chat.getByTestId('im-new').click();
    await visitorSays('One more question: do you gift-wrap?');
    await alice.page.getByTestId('wb-queue-item').first().waitFor({ timeout: UI_TIMEOUT });
    await alice.page.getByTestId('wb-accept').first().click();
    await showsText(agentMessages(alice.page), 'gift-wrap');
    assert.equal(await agentMessages(alice.page).filter({ hasText: 'where is my order' }).count(), 0);
    await until('the visitor to see only the new conversation', async () => (await visitorMessages().filter({ hasText: 'where is my order' }).count()) === 0);
  });
});

// What the widget tests share: a browser per test file with its cleanups, a
// server of each test's own, and the steps a customer takes in the widget.

import { after, before } from 'node:test';

import { agent, launchBrowser, startServer } from './harness.mjs';

/** @typedef {import('playwright-core').Page} Page */

/** @param {Page} page */
export const launcher = (page) => page.locator('#switchboard-widget button.launcher');

/** The transcript's texts, in order. @param {Page} page */
export const bubbles = (page) => page.locator('#sb-panel .log .bubble').allTextContents();

/**
 * Fill the pre-chat form and send it.
 * @param {Page} page
 * @param {string} text
 * @param {{topic?: string, uid?: string, txid?: string}} [fields]
 */
export async function startChat(page, text, { topic = 'deposit_withdrawal', uid, txid } = {}) {
  await page.locator('#sb-topic').selectOption(topic);
  if (uid) await page.locator('#sb-uid').fill(uid);
  if (txid) await page.locator('#sb-txid').fill(txid);
  await page.locator('#sb-message').fill(text);
  await page.locator('form.form button[type=submit]').click();
}

/** @param {Page} page @param {string} text */
export async function sendFromComposer(page, text) {
  await page.locator('#sb-composer').fill(text);
  await page.locator('#sb-composer').press('Enter');
}

/**
 * Registers, for the calling test file, one browser and the cleanups of every
 * test; what it hands out is cleaned up after the file's tests.
 * @param {string} config the servers' TOML
 */
export function widgetSuite(config) {
  /** @type {Array<() => Promise<unknown>>} */
  const cleanups = [];
  /** @type {import('playwright-core').Browser | undefined} */
  let browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await browser?.close();
  });
  return {
    /** @param {() => Promise<unknown>} cleanup */
    defer(cleanup) {
      cleanups.push(cleanup);
    },
    /** A server of the test's own, so no test inherits another's chats. */
    async server(/** @type {Parameters<typeof startServer>[0]} */ options = {}) {
      const server = await startServer({ config, ...options });
      cleanups.push(() => server.stop());
      return server;
    },
    /** @param {{wsUrl: string}} server @param {string} [token] @param {object} [extra] */
    async agent(server, token = 'test-token-ana', extra = {}) {
      const client = await agent(server.wsUrl, token, extra);
      cleanups.push(() => client.close());
      return client;
    },
    /** A browser context of its own (motion reduced, so screenshots are settled). */
    async context(/** @type {import('playwright-core').BrowserContextOptions} */ options = {}) {
      if (!browser) throw new Error('widgetSuite: no browser yet (call from a test)');
      const context = await browser.newContext({ reducedMotion: 'reduce', ...options });
      cleanups.push(() => context.close());
      return context;
    },
    /** A page in a context of its own. */
    async page(/** @type {import('playwright-core').BrowserContextOptions} */ options = {}) {
      return (await this.context(options)).newPage();
    },
  };
}

// What an agent does in the console (`/agent`), in Debian's chromium against
// the real binary, with real customers in the widget or on plain sockets.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { agentsToml, axeSerious, customerSocket, screenshot, startRedis, until } from './harness.mjs';
import { launcher, startChat, widgetSuite } from './widget-page.mjs';

const roster = agentsToml([
  { id: 'ana', name: 'Ana', token: 'test-token-ana', skills: ['deposit_withdrawal', 'general'], languages: ['en'], capacity: 3 },
  { id: 'ben', name: 'Ben', token: 'test-token-ben', skills: ['verification'], languages: ['en'], capacity: 3 },
  { id: 'lead', name: 'Lead', token: 'test-token-lead', skills: ['general'], languages: ['en'], capacity: 1, role: 'supervisor' },
]);
const canned = `
[[canned]]
shortcut = "txid"
title = "Ask for the TxID"
text = { en = "Hello {customer_name}, could you send the TxID of the transaction? I am {agent_name}." }

[[canned]]
shortcut = "kyc-wait"
title = "Verification takes a day"
text = { en = "Verification usually takes up to 24 hours." }
topics = ["verification"]
`;
const config = `${roster}\n${canned}\n[routing]\nposition_update_ms = 200\n`;

/** @typedef {import('playwright-core').Page} Page */

/**
 * Count the alerts' side effects: notifications shown and tones played.
 * @param {Page} page
 */
async function spyOnAlerts(page) {
  await page.addInitScript(() => {
    const w = /** @type {any} */ (window);
    w.__notifications = [];
    const Real = w.Notification;
    if (Real) {
      w.Notification = class extends Real {
        /** @param {string} title @param {NotificationOptions} options */
        constructor(title, options) {
          super(title, options);
          w.__notifications.push(options?.body ?? title);
        }
        static get permission() {
          return Real.permission;
        }
        static requestPermission() {
          return Real.requestPermission();
        }
      };
    }
    w.__tones = 0;
    const create = AudioContext.prototype.createOscillator;
    AudioContext.prototype.createOscillator = function () {
      w.__tones += 1;
      return create.call(this);
    };
  });
}

/** @param {Page} page @param {string} token */
async function signIn(page, token) {
  await page.locator('#token').fill(token);
  await page.locator('form.signin button[type=submit]').click();
  await page.locator('.who').filter({ hasNotText: /^$/ }).waitFor();
}

/** @param {Page} page */
const consoleBubbles = (page) => page.locator('.chat .log .bubble').allTextContents();

describe('agent console', () => {
  const suite = widgetSuite(config);

  it("agent's day: a chat arrives with an alert, a canned reply, typing, a transfer to a colleague, the customer rates", async () => {
    const server = await suite.server();
    const ben = await suite.agent(server, 'test-token-ben');
    const console_ = await suite.page({ viewport: { width: 1280, height: 800 }, permissions: ['notifications'] });
    await spyOnAlerts(console_);
    await console_.goto(`${server.httpUrl}/agent`);
    await screenshot(console_, 'console-signin');
    assert.deepEqual(await axeSerious(console_), [], 'sign-in');
    await signIn(console_, 'test-token-ana');

    const customer = await suite.page();
    await customer.goto(`${server.httpUrl}/demo`);
    await launcher(customer).click();
    await startChat(customer, 'My deposit is missing', { txid: '0xfeed' });

    await console_.locator('.chat-item', { hasText: 'v:' }).waitFor();
    await until(async () => (await console_.title()).startsWith('(1) '), { message: 'the title counts the new chat' });
    await until(() => console_.evaluate(() => /** @type {any} */ (window).__notifications.length > 0), { message: 'a desktop notification' });
    const tones = await console_.evaluate(() => /** @type {any} */ (window).__tones);
    assert.ok(tones > 0, 'a sound was played');
    await console_.getByRole('button', { name: 'Test alert' }).click();
    assert.ok((await console_.evaluate(() => /** @type {any} */ (window).__tones)) > tones, 'the test alert sounds');
    assert.match(await console_.locator('.context').textContent() ?? '', /TxID\s*0xfeed/);

    // A canned reply: "/" and a few letters, chosen with the keyboard.
    await console_.locator('#composer').fill('/tx');
    await console_.locator('#canned [role=option]', { hasText: 'Ask for the TxID' }).waitFor();
    await console_.locator('#composer').press('Enter');
    assert.equal(await console_.locator('#composer').inputValue(), 'Hello there, could you send the TxID of the transaction? I am Ana.');
    await console_.locator('#composer').press('Enter');
    await customer.locator('.msg.agent .bubble', { hasText: 'could you send the TxID' }).waitFor();

    await customer.locator('#sb-composer').pressSequentially('0xfeed', { delay: 30 });
    await console_.locator('.chat .typing', { hasText: 'is typing' }).waitFor();
    await customer.locator('#sb-composer').press('Enter');
    await console_.locator('.chat .bubble', { hasText: '0xfeed' }).waitFor();
    await screenshot(console_, 'console-chat');
    assert.deepEqual(await axeSerious(console_), [], 'console with a chat');

    // Transfer to verification: Ben gets it, with the transcript.
    await console_.getByRole('button', { name: 'Transfer…' }).click();
    await console_.locator('#transfer-topic').selectOption('verification');
    await console_.locator('dialog').getByRole('button', { name: 'Transfer' }).click();
    const assigned = await ben.next('assigned');
    assert.deepEqual(
      assigned.transcript.filter((/** @type {any} */ m) => m.from !== 'system').map((/** @type {any} */ m) => m.text),
      ['My deposit is missing', 'Hello there, could you send the TxID of the transaction? I am Ana.', '0xfeed'],
    );
    await until(async () => (await console_.locator('.chat-item').count()) === 0, { message: 'the chat left Ana' });

    ben.send({ type: 'resolve', conversation_id: assigned.conversation_id });
    await customer.locator('button.star[data-score="5"]').click();
    await customer.locator('.thanks').waitFor();
  });

  it('agent escalates with a note: the customer is told, and the ticket is in the tickets view with the note', async () => {
    const server = await suite.server();
    const page = await suite.page({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.httpUrl}/agent`);
    await signIn(page, 'test-token-ana');
    const customer = await suite.page();
    await customer.goto(`${server.httpUrl}/demo`);
    await launcher(customer).click();
    await startChat(customer, 'Withdrawal blocked for a week');
    await page.locator('.chat-item').waitFor();
    await page.getByRole('button', { name: 'Escalate to a ticket…' }).click();
    await page.locator('#escalate-note').fill('Needs an on-chain trace');
    await page.locator('dialog').getByRole('button', { name: 'Escalate' }).click();
    await customer.locator('.ended-reason', { hasText: 'passed your conversation' }).waitFor();
    await page.locator('.ended-box', { hasText: 'ticket' }).waitFor();

    await page.getByRole('button', { name: 'Tickets' }).click();
    await page.locator('table.tickets tbody tr').first().waitFor();
    await screenshot(page, 'console-tickets');
    assert.deepEqual(await axeSerious(page), [], 'tickets view');
    await page.locator('table.tickets tbody tr button.link').first().click();
    await page.locator('dialog .notes', { hasText: 'Needs an on-chain trace' }).waitFor();
    await page.locator('#ticket-note').fill('Traced: funds are at the exchange');
    await page.locator('dialog').getByRole('button', { name: 'Add note' }).click();
    await page.locator('dialog .notes', { hasText: 'Traced: funds are at the exchange' }).waitFor();
    await page.locator('dialog').getByRole('button', { name: 'Take it' }).click();
    await page.locator('dialog .facts', { hasText: 'ana' }).waitFor();
    await page.locator('dialog').getByRole('button', { name: 'Close ticket' }).click();
    await page.locator('dialog .facts dd', { hasText: /^closed$/ }).waitFor();
  });

  it('agent reloads the console and the server restarts on Redis: chats, transcripts and drafts come back once', async () => {
    const redis = await startRedis();
    suite.defer(() => redis.stop());
    const server = await suite.server({ redisUrl: redis.url });
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/agent`);
    await signIn(page, 'test-token-ana');
    for (const n of [1, 2]) {
      const c = await customerSocket(server.wsUrl, `v-reload-${n}`);
      suite.defer(() => c.close());
      c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: `question ${n}` });
    }
    await until(async () => (await page.locator('.chat-item').count()) === 2);
    await page.locator('.chat-item', { hasText: 'question 1' }).click();
    await page.locator('#composer').fill('a draft I have not sent');
    await page.reload();
    await until(async () => (await page.locator('.chat-item').count()) === 2, { message: 'both chats back after a reload' });
    await page.locator('.chat-item', { hasText: 'question 1' }).click();
    assert.equal(await page.locator('#composer').inputValue(), 'a draft I have not sent');
    assert.deepEqual(await consoleBubbles(page), ['question 1']);

    await server.restart();
    // The restart closed the customers' sockets: they come back as new sessions.
    for (const n of [1, 2]) {
      const again = await customerSocket(server.wsUrl, `v-reload-${n}`);
      suite.defer(() => again.close());
      again.send({ type: 'message', client_msg_id: `after-${n}`, text: `after the restart ${n}` });
    }
    await page.locator('.chat .bubble', { hasText: 'after the restart 1' }).waitFor({ timeout: 20_000 });
    assert.deepEqual(await consoleBubbles(page), ['question 1', 'after the restart 1']);
    assert.equal(await page.locator('.chat-item').count(), 2);
    assert.equal(await page.locator('#composer').inputValue(), 'a draft I have not sent');
  });

  it('two console tabs of one agent show the same chats and every message', async () => {
    const server = await suite.server();
    const context = await suite.context();
    const one = await context.newPage();
    const two = await context.newPage();
    for (const p of [one, two]) {
      await p.goto(`${server.httpUrl}/agent`);
      await signIn(p, 'test-token-ana');
    }
    const c = await customerSocket(server.wsUrl, 'v-two-tabs');
    suite.defer(() => c.close());
    c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: 'hello both' });
    for (const p of [one, two]) await p.locator('.chat-item').waitFor();
    await one.locator('#composer').fill('from tab one');
    await one.locator('#composer').press('Enter');
    await c.next((f) => f.type === 'message' && f.text === 'from tab one');
    for (const p of [one, two]) await p.locator('.chat .bubble', { hasText: 'from tab one' }).waitFor();
    assert.deepEqual(await consoleBubbles(two), ['hello both', 'from tab one']);
  });

  it('agent uses only the keyboard: picks a chat, answers, resolves', async () => {
    const server = await suite.server();
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/agent`);
    await page.keyboard.type('test-token-ana');
    await page.keyboard.press('Enter');
    await page.locator('.who', { hasText: 'Ana' }).waitFor();
    for (const n of [1, 2]) {
      const c = await customerSocket(server.wsUrl, `v-keys-${n}`);
      suite.defer(() => c.close());
      c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: `keyboard ${n}` });
      await page.locator('.chat-item', { hasText: `keyboard ${n}` }).waitFor();
    }
    await page.locator('#composer').press('Escape');
    await page.keyboard.press('?');
    await page.locator('dialog', { hasText: 'Keyboard shortcuts' }).waitFor();
    await page.keyboard.press('Escape');
    await page.keyboard.press('j');
    const picked = await page.locator('.chat-item.active .last').textContent();
    await page.keyboard.press('c');
    await page.keyboard.type('Answered by keyboard');
    await page.keyboard.press('Enter');
    await page.locator('.chat .bubble', { hasText: 'Answered by keyboard' }).waitFor();
    await page.keyboard.press('Escape');
    await page.keyboard.press('r');
    await page.locator('dialog', { hasText: 'Resolve this chat?' }).waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.ended-box', { hasText: 'resolved' }).waitFor();
    assert.ok(picked);
  });

  it('shows hostile text from customers as text', async () => {
    const server = await suite.server();
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/agent`);
    await signIn(page, 'test-token-ana');
    const c = await customerSocket(server.wsUrl, 'v-hostile');
    suite.defer(() => c.close());
    const hostile = ['<img src=x onerror="window.__pwned=1">', '\u202Egnp.exe', 'y'.repeat(4000)];
    c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: hostile[0], metadata: { uid: '<b>1</b>' } });
    await page.locator('.chat-item').waitFor();
    c.send({ type: 'message', client_msg_id: 'h-1', text: hostile[1] });
    c.send({ type: 'message', client_msg_id: 'h-2', text: hostile[2] });
    await page.locator('.chat .bubble', { hasText: 'yyyy' }).waitFor();
    assert.deepEqual(await consoleBubbles(page), hostile);
    const report = await page.evaluate(() => ({
      pwned: /** @type {any} */ (window).__pwned ?? null,
      imgs: document.querySelectorAll('img').length,
      bold: document.querySelectorAll('.context b').length,
      overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    }));
    assert.deepEqual(report, { pwned: null, imgs: 0, bold: 0, overflow: 0 });
  });
});

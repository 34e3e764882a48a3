// What a customer does in the widget, in Debian's chromium against the real
// binary; the agent is a plain WebSocket client until the console exists.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { agentsToml, axeSerious, customerSocket, httpJson, screenshot, until } from './harness.mjs';
import { bubbles, launcher, sendFromComposer, startChat, widgetSuite } from './widget-page.mjs';

const roster = agentsToml([
  { id: 'ana', name: 'Ana', token: 'test-token-ana', skills: ['deposit_withdrawal', 'trading'], languages: ['en', 'ar'], capacity: 1 },
  { id: 'lead', name: 'Lead', token: 'test-token-lead', skills: ['general'], languages: ['en'], capacity: 1, role: 'supervisor' },
]);

/**
 * The demo page with its panel open.
 * @param {import('playwright-core').BrowserContext} context
 * @param {string} url
 */
async function openWidget(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await launcher(page).click();
  await page.locator('#sb-panel').waitFor({ state: 'visible' });
  return page;
}

describe('customer widget', () => {
  const suite = widgetSuite(`${roster}\n[routing]\nposition_update_ms = 200\n`);

  it('customer starts a chat from the form, waits in line, chats with typing both ways, and rates it', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    // Ana's one slot is taken, so the widget's customer waits in line first.
    const other = await customerSocket(server.wsUrl, 'v-ahead');
    suite.defer(() => other.close());
    other.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: 'first in line' });
    const first = await ana.next('assigned');

    const context = await suite.context({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    /** @type {string[]} */
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).waitFor();
    assert.equal(await launcher(page).getAttribute('aria-label'), 'Chat with support');
    await page.waitForTimeout(300);
    assert.deepEqual(sockets, [], 'no socket before the chat is opened');
    await screenshot(page, 'launcher-desktop');
    await page.evaluate(() => {
      const w = /** @type {any} */ (window);
      w.__events = [];
      for (const name of ['open', 'close', 'assigned', 'ended']) w.Switchboard.on(name, () => w.__events.push(name));
    });

    await launcher(page).click();
    await page.locator('#sb-topic').waitFor();
    assert.deepEqual(sockets.length, 1);
    // The first topic someone serves is preselected.
    assert.equal(await page.locator('#sb-topic').inputValue(), 'deposit_withdrawal');
    await until(async () => (await page.locator('form.form button[type=submit]').textContent()) === 'Start chat');
    // The demo page set the UID with setMetadata: the form shows it.
    assert.equal(await page.locator('#sb-uid').inputValue(), '31415926');
    await screenshot(page, 'form-desktop');
    await startChat(page, 'My BTC deposit has not arrived', { txid: '9f2c4e7a' });

    await until(async () => /number 1 in line/.test((await page.locator('.queue').textContent()) ?? ''), {
      message: 'queue position shown',
    });
    await screenshot(page, 'queue-desktop');

    // Ana frees her slot: the widget's customer is next.
    ana.send({ type: 'resolve', conversation_id: first.conversation_id });
    const assigned = await ana.next('assigned');
    assert.equal(assigned.customer.metadata.txid, '9f2c4e7a');
    assert.equal(assigned.customer.metadata.uid, '31415926');
    assert.equal(assigned.transcript[0].text, 'My BTC deposit has not arrived');
    const conversation = assigned.conversation_id;
    await page.locator('.agent-name', { hasText: 'Ana' }).waitFor();
    await page.locator('.verified').waitFor();

    // Typing both ways.
    await page.locator('#sb-composer').pressSequentially('It was 0.5', { delay: 20 });
    await ana.next((f) => f.type === 'typing' && f.from === 'customer' && f.on === true);
    await page.locator('#sb-composer').press('Enter');
    await ana.next((f) => f.type === 'message' && f.text === 'It was 0.5');
    await ana.next((f) => f.type === 'typing' && f.from === 'customer' && f.on === false);
    await page.locator('.msg.customer .state.delivered').nth(1).waitFor();

    ana.send({ type: 'typing', conversation_id: conversation, on: true });
    await page.locator('.typing', { hasText: 'Ana is typing' }).waitFor();
    ana.send({
      type: 'message',
      conversation_id: conversation,
      client_msg_id: 'a-1',
      text: 'Thanks. The status page is https://status.example.com/btc.',
    });
    await page.locator('.msg.agent .bubble', { hasText: 'status page' }).waitFor();
    assert.equal(await page.locator('.typing').textContent(), '');
    const link = page.locator('.msg.agent a');
    assert.equal(await link.getAttribute('href'), 'https://status.example.com/btc');
    assert.equal(await link.getAttribute('rel'), 'noopener noreferrer');
    await screenshot(page, 'chat-desktop');
    assert.deepEqual(await axeSerious(page), [], 'chat: no serious or critical axe violation');

    ana.send({ type: 'resolve', conversation_id: conversation });
    await page.locator('.ended-reason', { hasText: 'resolved' }).waitFor();
    await page.locator('button.star[data-score="5"]').click();
    await page.locator('.thanks').waitFor();
    assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).__events), ['open', 'assigned', 'ended']);
    const metrics = await fetch(`${server.httpUrl}/metrics`).then((r) => r.text());
    assert.match(metrics, /switchboard_csat_ratings_total\{[^}]*score="5"[^}]*\} 1/);
    await screenshot(page, 'ended-desktop');
  });

  it('customer leaves a message when nobody serves the topic, and it becomes a ticket', async () => {
    const server = await suite.server();
    const context = await suite.context();
    const page = await openWidget(context, `${server.httpUrl}/demo`);
    await page.locator('#sb-topic').selectOption('earn');
    await page.locator('#sb-availability', { hasText: 'No agent is available' }).waitFor();
    assert.equal(await page.locator('form.form button[type=submit]').textContent(), 'Leave a message');
    await screenshot(page, 'form-nobody-desktop');
    await startChat(page, 'My dual investment did not settle', { topic: 'earn' });
    await page.locator('.ended-reason', { hasText: 'passed your conversation' }).waitFor();
    const ref = (await page.locator('.ticket').textContent()) ?? '';
    const ticketId = await page.locator('.ticket').getAttribute('title');
    assert.ok(ticketId && ref.includes(ticketId.slice(-12).toUpperCase()));
    const ticket = await httpJson(`${server.httpUrl}/api/tickets/${ticketId}`, {
      headers: { authorization: 'Bearer test-token-lead' },
    });
    assert.equal(ticket.status, 200);
    assert.equal(ticket.json.topic, 'earn');
    const texts = ticket.json.conversations[0].transcript.map((/** @type {any} */ m) => m.text);
    assert.equal(texts.filter((/** @type {string} */ t) => t === 'My dual investment did not settle').length, 1);
    await screenshot(page, 'ticket-desktop');
  });

  it('customer reloads mid-chat and sees the transcript once; a second tab shows every message', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const context = await suite.context();
    const page = await openWidget(context, `${server.httpUrl}/demo`);
    await startChat(page, 'Reload test');
    const assigned = await ana.next('assigned');
    for (const n of [1, 2, 3]) {
      ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: `a-${n}`, text: `agent ${n}` });
    }
    await page.locator('.msg.agent .bubble', { hasText: 'agent 3' }).waitFor();

    await page.reload();
    // The conversation is open: the widget reconnects by itself and counts
    // unread, whether this arrives before its socket or after.
    ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: 'a-unread', text: 'while closed' });
    await page.locator('#switchboard-widget .badge', { hasText: '1' }).waitFor();
    assert.equal(await launcher(page).getAttribute('aria-label'), 'Chat with support (1 unread)');
    await launcher(page).click();
    await until(async () => !(await page.locator('#switchboard-widget .badge').isVisible()));
    await page.locator('.msg.agent .bubble', { hasText: 'agent 3' }).waitFor();
    assert.deepEqual(await bubbles(page), ['Reload test', 'agent 1', 'agent 2', 'agent 3', 'while closed']);

    const second = await openWidget(context, `${server.httpUrl}/demo`);
    await second.locator('.msg.agent .bubble', { hasText: 'agent 3' }).waitFor();
    await sendFromComposer(second, 'from the second tab');
    ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: 'a-4', text: 'agent 4' });
    for (const p of [page, second]) {
      await p.locator('.msg.agent .bubble', { hasText: 'agent 4' }).waitFor();
      await p.locator('.msg.customer .bubble', { hasText: 'from the second tab' }).waitFor();
      assert.deepEqual(await bubbles(p), ['Reload test', 'agent 1', 'agent 2', 'agent 3', 'while closed', 'from the second tab', 'agent 4']);
    }
    ana.send({ type: 'resolve', conversation_id: assigned.conversation_id });
    await page.locator('.ended-reason').waitFor();
  });

  it('customer goes offline and back: what was typed meanwhile is delivered once', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const context = await suite.context();
    const page = await openWidget(context, `${server.httpUrl}/demo`);
    await startChat(page, 'Offline test');
    const assigned = await ana.next('assigned');
    await context.setOffline(true);
    for (const text of ['typed offline 1', 'typed offline 2']) {
      await sendFromComposer(page, text);
    }
    await page.locator('.banner', { hasText: 'You are offline' }).waitFor();
    await page.locator('.msg.pending .state', { hasText: 'Waiting to send' }).nth(1).waitFor();
    await screenshot(page, 'chat-offline-desktop');
    await context.setOffline(false);
    await page.locator('.banner', { hasText: 'You are offline' }).waitFor({ state: 'hidden' });
    for (const text of ['typed offline 1', 'typed offline 2']) {
      await ana.next((f) => f.type === 'message' && f.text === text, 20_000);
    }
    await until(async () => (await page.locator('.msg.pending').count()) === 0, { timeout: 15_000 });
    await page.waitForTimeout(300);
    for (const text of ['typed offline 1', 'typed offline 2']) {
      assert.equal(ana.frames.filter((f) => f.type === 'message' && f.text === text).length, 1, text);
    }
    assert.deepEqual(await bubbles(page), ['Offline test', 'typed offline 1', 'typed offline 2']);
    ana.send({ type: 'resolve', conversation_id: assigned.conversation_id });
    await page.locator('.ended-reason').waitFor();
  });

  it('hostile text from the agent is shown as text and runs nothing', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const context = await suite.context();
    const page = await openWidget(context, `${server.httpUrl}/demo`);
    await startChat(page, '<b>bold?</b> \u202Eevil');
    const assigned = await ana.next('assigned');
    const hostile = [
      '<img src=x onerror="window.__pwned=1">',
      'click javascript:window.__pwned=2 now',
      '[x](javascript:alert(1)) <a href="javascript:alert(1)">a</a>',
      '\u202Egnp.exe\u202C and \u2066isolate\u2069',
      'x'.repeat(4000),
    ];
    hostile.forEach((text, n) =>
      ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: `h-${n}`, text }),
    );
    await page.locator('.msg.agent .bubble', { hasText: 'xxxx' }).waitFor();
    const shown = await bubbles(page);
    for (const text of hostile) assert.ok(shown.includes(text), `shown as typed: ${text.slice(0, 40)}`);
    assert.ok(shown.includes('<b>bold?</b> \u202Eevil'));
    const report = await page.evaluate(() => {
      const root = /** @type {ShadowRoot} */ (document.getElementById('switchboard-widget')?.shadowRoot);
      const panel = /** @type {HTMLElement} */ (root.getElementById('sb-panel'));
      return {
        pwned: /** @type {any} */ (window).__pwned ?? null,
        imgs: root.querySelectorAll('img').length,
        bold: root.querySelectorAll('.log b').length,
        links: [...root.querySelectorAll('.log a')].map((a) => a.getAttribute('href')),
        overflow: panel.scrollWidth - panel.clientWidth,
        logOverflow: (() => {
          const log = /** @type {HTMLElement} */ (root.querySelector('.log'));
          return log.scrollWidth - log.clientWidth;
        })(),
      };
    });
    assert.deepEqual(report, { pwned: null, imgs: 0, bold: 0, links: [], overflow: 0, logOverflow: 0 });
    // The customer ends the chat, after a confirmation.
    await page.locator('button.end').click();
    await page.locator('.confirm', { hasText: 'End this chat?' }).waitFor();
    await page.locator('.confirm button', { hasText: 'Keep chatting' }).click();
    assert.equal(await page.locator('.confirm').isVisible(), false);
    await page.locator('button.end').click();
    await page.locator('.confirm button', { hasText: 'Yes, end it' }).click();
    await page.locator('.ended-reason', { hasText: 'You ended the chat' }).waitFor();
    const ended = await ana.next('ended');
    assert.equal(ended.reason, 'closed');
  });
});

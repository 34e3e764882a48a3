// The widget's less travelled paths: a logged-in (vip) customer, the surge
// offer to leave a message, the `offline` answer to a form that thought
// someone was there, failover between `data-server` URLs, and a Redis that
// comes back empty (`resync`).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { describe, it } from 'node:test';

import { agentsToml, customerSocket, freePort, httpJson, identityToken, screenshot, startRedis, until } from './harness.mjs';
import { bubbles, launcher, startChat, widgetSuite } from './widget-page.mjs';

const SECRET = 'widget-test-identity-secret';
const roster = agentsToml([
  { id: 'ana', name: 'Ana', token: 'test-token-ana', skills: ['deposit_withdrawal'], languages: ['en'], capacity: 1 },
  { id: 'lead', name: 'Lead', token: 'test-token-lead', skills: ['general'], languages: ['en'], capacity: 1, role: 'supervisor' },
]);
const config = `identity_secret = "${SECRET}"\n${roster}\n[routing]\nposition_update_ms = 200\n`;



describe('widget flows', () => {
  const suite = widgetSuite(config);

  it('a logged-in customer identified by the page is a verified vip to the agent', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).waitFor();
    const token = identityToken(SECRET, { sub: '31415926', tier: 'vip', name: 'Satoshi N.' });
    await page.evaluate((t) => /** @type {any} */ (window).Switchboard.identify(t), token);
    await launcher(page).click();
    await startChat(page, 'I am a vip');
    const assigned = await ana.next('assigned');
    assert.equal(assigned.customer.key, 'u:31415926');
    assert.equal(assigned.customer.verified, true);
    assert.equal(assigned.customer.name, 'Satoshi N.');
    assert.equal(assigned.priority, 'vip');
    // A token the server refuses is not downgraded to the visitor, and not retried in a loop.
    const other = await suite.page();
    /** @type {string[]} */
    const sockets = [];
    other.on('websocket', (ws) => sockets.push(ws.url()));
    await other.goto(`${server.httpUrl}/demo`);
    await launcher(other).waitFor();
    await other.evaluate(() => /** @type {any} */ (window).Switchboard.identify('not.a.token'));
    await launcher(other).click();
    await other.locator('.banner', { hasText: 'could not confirm your login' }).waitFor();
    await other.waitForTimeout(1500);
    assert.equal(sockets.length, 1);
  });

  it('customer in a surge takes the offer to leave a message instead of waiting', async () => {
    const server = await suite.server({ config: `${config}\n[tickets]\noverflow_eta_secs = 1\n` });
    const ana = await suite.agent(server);
    // Three quick assignments give the topic an assignment rate, hence an ETA.
    for (const n of [1, 2, 3]) {
      const c = await customerSocket(server.wsUrl, `v-rate-${n}`);
      suite.defer(() => c.close());
      c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: `warm-up ${n}` });
      const a = await ana.next('assigned');
      if (n < 3) ana.send({ type: 'resolve', conversation_id: a.conversation_id });
    }
    // Ana is busy with the third; three more wait ahead of the widget.
    for (const n of [1, 2, 3]) {
      const c = await customerSocket(server.wsUrl, `v-ahead-${n}`);
      suite.defer(() => c.close());
      c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: `ahead ${n}` });
      await c.next('queued');
    }
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).click();
    await startChat(page, 'Stuck withdrawal');
    await page.locator('.overflow', { hasText: 'busy' }).waitFor();
    assert.match((await page.locator('.queue').textContent()) ?? '', /number 4 in line/);
    await screenshot(page, 'overflow-desktop');
    await page.locator('.overflow button').click();
    await page.locator('#sb-leave').fill('Please answer by email');
    await page.locator('.footer form button[type=submit]').click();
    await page.locator('.ended-reason', { hasText: 'passed your conversation' }).waitFor();
    const ticketId = await page.locator('.ticket').getAttribute('title');
    const ticket = await httpJson(`${server.httpUrl}/api/tickets/${ticketId}`, { headers: { authorization: 'Bearer test-token-lead' } });
    assert.equal(ticket.json.reason, 'overflow');
    assert.deepEqual(
      ticket.json.conversations[0].transcript.filter((/** @type {any} */ m) => m.from === 'customer').map((/** @type {any} */ m) => m.text),
      ['Stuck withdrawal', 'Please answer by email'],
    );
  });

  it('customer whose agent left before the form was sent gets the leave-a-message form', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).click();
    await until(async () => (await page.locator('form.form button[type=submit]').textContent()) === 'Start chat');
    ana.send({ type: 'status', status: 'away' });
    await ana.next((f) => f.type === 'status' && f.status === 'away');
    await startChat(page, 'Is anyone there?');
    await page.locator('#sb-leave').waitFor();
    assert.match((await page.locator('#sb-panel').textContent()) ?? '', /Nobody can answer live right now/);
    await page.locator('#sb-leave').fill('Then by email, please');
    await page.locator('form.leave button[type=submit]').click();
    await page.locator('.ended-reason', { hasText: 'passed your conversation' }).waitFor();
    const ticketId = await page.locator('.ticket').getAttribute('title');
    const ticket = await httpJson(`${server.httpUrl}/api/tickets/${ticketId}`, { headers: { authorization: 'Bearer test-token-lead' } });
    assert.equal(ticket.json.reason, 'no_agent');
    assert.deepEqual(
      ticket.json.conversations[0].transcript.filter((/** @type {any} */ m) => m.from === 'customer').map((/** @type {any} */ m) => m.text),
      ['Is anyone there?', 'Then by email, please'],
    );
    assert.deepEqual(await bubbles(page), [
      'Is anyone there?',
      'Then by email, please',
      ticket.json.conversations[0].transcript.at(-1).text,
    ]);
  });

  it('a first open while offline does nothing, and the next one, online, opens the panel', async () => {
    const server = await suite.server();
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).waitFor();
    await page.context().setOffline(true);
    await launcher(page).click();
    await page.waitForTimeout(500);
    assert.equal(await page.locator('#sb-panel').count(), 0);
    await page.context().setOffline(false);
    await launcher(page).click();
    await page.locator('#sb-topic').waitFor();
  });

  it('fails over from a dead data-server URL to the next one', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const dead = `ws://127.0.0.1:${await freePort()}`;
    const host = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><html lang="en"><head><title>Two servers</title><script src="${server.httpUrl}/widget.js" data-server="${dead}, ${server.wsUrl}" data-open async></script></head><body><p>Exchange</p></body></html>`,
      );
    });
    await new Promise((resolve) => host.listen(0, '127.0.0.1', () => resolve(undefined)));
    suite.defer(() => new Promise((resolve) => host.close(resolve)));
    const page = await suite.page();
    /** @type {string[]} */
    const sockets = [];
    page.on('websocket', (ws) => sockets.push(ws.url()));
    await page.goto(`http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (host.address()).port}/`);
    await page.locator('#sb-topic').waitFor(); // data-open
    await startChat(page, 'Through the second server');
    await ana.next('assigned');
    assert.equal(sockets[0], `${dead}/ws/customer`);
    assert.ok(sockets.includes(`${server.wsUrl}/ws/customer`));
  });

  it('customer sees the transcript once when Redis came back empty mid-chat (resync)', async () => {
    const redis = await startRedis();
    suite.defer(() => redis.stop());
    const server = await suite.server({ redisUrl: redis.url });
    const ana = await suite.agent(server);
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).click();
    await startChat(page, 'Before the flush');
    const assigned = await ana.next('assigned');
    ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: 'a-1', text: 'agent before' });
    await page.locator('.msg.agent').waitFor();
    const epochBefore = await page.evaluate(() => JSON.parse(localStorage.getItem('switchboard:v1') ?? '{}').open?.epoch);

    execFileSync('redis-cli', ['-p', String(redis.port), 'FLUSHALL']);
    ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: 'a-2', text: 'agent after' });
    await ana.next((f) => f.type === 'resync' && f.reason === 'store_reset', 15_000);
    await page.locator('.msg.agent .bubble', { hasText: 'agent after' }).waitFor();
    await page.waitForTimeout(300);
    assert.deepEqual(await bubbles(page), ['Before the flush', 'agent before', 'agent after']);
    const epochAfter = await until(() =>
      page.evaluate(() => JSON.parse(localStorage.getItem('switchboard:v1') ?? '{}').open?.epoch),
    );
    assert.ok(epochAfter > epochBefore, `epoch ${epochBefore} -> ${epochAfter}`);
  });
});

// The console under a full load, measured (the README reports the figures;
// nothing here asserts a time): switching between 3 chats of 500 messages,
// a ticket list of 10,000 paged by cursor, and how soon an alert follows an
// assignment.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';

import { agentsToml, customerSocket, identityToken, screenshot, until, writeFigures } from './harness.mjs';
import { widgetSuite } from './widget-page.mjs';

const roster = agentsToml([
  { id: 'ana', name: 'Ana', token: 'test-token-ana', skills: ['deposit_withdrawal', 'general'], languages: ['en'], capacity: 30 },
]);
// Customers who type faster than people (500 messages each).
const SECRET = 'console-perf-identity-secret';
const config = `identity_secret = "${SECRET}"\n${roster}\n[limits]\ncustomer_frames_per_sec = 2000\ncustomer_frame_burst = 2000\n`;


/** @param {number[]} xs @param {number} q */
function quantile(xs, q) {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const figures = /** @type {Record<string, unknown>} */ ({});

describe('console under load', () => {
  const suite = widgetSuite(config);
  after(() => writeFigures('console-perf', figures));

  it('switches between 3 chats of 500 messages, and lists 10,000 tickets by page', { timeout: 240_000 }, async () => {
    const server = await suite.server();
    // 10,000 tickets, filed before any agent is online: each customer leaves a message.
    const total = Number(process.env.CONSOLE_PERF_TICKETS ?? 10_000);
    const parallel = 40;
    let next = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: parallel }, async () => {
        for (;;) {
          const n = next++;
          if (n >= total) return;
          const c = await customerSocket(server.wsUrl, `v-ticket-${n}`);
          c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en' });
          await c.next('offline');
          c.send({ type: 'leave_message', client_msg_id: 'm-1', text: `ticket ${n}` });
          await c.next('ended');
          await c.close();
        }
      }),
    );
    figures.tickets_filed_secs = (Date.now() - t0) / 1000;
    figures.tickets = total;
    const page = await suite.page({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${server.httpUrl}/agent`);
    await page.locator('#token').fill('test-token-ana');
    await page.locator('form.signin button[type=submit]').click();
    await page.locator('.who', { hasText: 'Ana' }).waitFor();

    // A busy moment: an urgent chat, a vip's, and an anonymous one.
    const first = ['My withdrawal is blocked withdrawal since this morning', 'Where is my USDT deposit?', 'How do I reset 2FA?'];
    for (const n of [1, 2, 3]) {
      const extra = n === 2 ? { identity: identityToken(SECRET, { sub: 'u-2', tier: 'vip', name: 'Mai Tran' }) } : {};
      const c = await customerSocket(server.wsUrl, `v-load-${n}`, extra);
      suite.defer(() => c.close());
      c.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: first[n - 1] });
      await c.next('assigned');
      for (let m = 2; m <= 500; m += 1) c.send({ type: 'message', client_msg_id: `m-${m}`, text: `chat ${n} message ${m}: the customer explains a little more.` });
      await c.next((f) => f.type === 'message' && f.client_msg_id === 'm-500', 30_000);
    }
    await until(async () => (await page.locator('.chat-item').count()) === 3);
    /** @type {number[]} */
    const switches = [];
    for (let round = 0; round < 30; round += 1) {
      const ms = await page.evaluate(async (i) => {
        const items = [...document.querySelectorAll('.chat-item')];
        const t0 = performance.now();
        /** @type {HTMLElement} */ (items[i % items.length]).click();
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
        return performance.now() - t0;
      }, round);
      switches.push(ms);
    }
    assert.equal(await page.locator('.chat .log .msg').count(), 500);
    await screenshot(page, 'console-busy');

    const firstPage = await page.evaluate(async () => {
      const t = performance.now();
      /** @type {HTMLElement} */ ([...document.querySelectorAll('.top button')].find((b) => b.textContent === 'Tickets')).click();
      const rows = () => document.querySelectorAll('table.tickets tbody tr').length;
      while (rows() < 50) {
        if (performance.now() - t > 20_000) throw new Error(`${rows()} ticket rows after 20 s`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return performance.now() - t;
    });
    /** @type {number[]} */
    const pages = [];
    for (let k = 0; k < 10; k += 1) {
      pages.push(
        await page.evaluate(async () => {
          const before = document.querySelectorAll('table.tickets tbody tr').length;
          const t = performance.now();
          /** @type {HTMLElement} */ ([...document.querySelectorAll('.tickets-view button')].find((b) => b.textContent === 'Load more')).click();
          while (document.querySelectorAll('table.tickets tbody tr').length < before + 50) {
            if (performance.now() - t > 20_000) throw new Error('no next page after 20 s');
            await new Promise((r) => setTimeout(r, 5));
          }
          return performance.now() - t;
        }),
      );
    }
    const ids = await page.locator('table.tickets tbody tr td:first-child').allTextContents();
    assert.equal(ids.length, Math.min(550, total));
    assert.equal(new Set(ids).size, ids.length, 'no ticket twice');
    Object.assign(figures, {
      switch_ms_p50: Math.round(quantile(switches, 0.5) * 10) / 10,
      switch_ms_p95: Math.round(quantile(switches, 0.95) * 10) / 10,
      switch_ms_max: Math.round(Math.max(...switches) * 10) / 10,
      tickets_first_page_ms: Math.round(firstPage),
      tickets_next_page_ms_p50: Math.round(quantile(pages, 0.5)),
      tickets_next_page_ms_p95: Math.round(quantile(pages, 0.95)),
    });
  });

  it('alerts within a second of the assignment', { timeout: 120_000 }, async () => {
    const server = await suite.server();
    const page = await suite.page({ permissions: ['notifications'] });
    await page.goto(`${server.httpUrl}/agent`);
    await page.locator('#token').fill('test-token-ana');
    await page.locator('form.signin button[type=submit]').click();
    await page.locator('.who', { hasText: 'Ana' }).waitFor();
    /** @type {number[]} */
    const latencies = [];
    for (let n = 0; n < 20; n += 1) {
      const c = await customerSocket(server.wsUrl, `v-alert-${n}`);
      suite.defer(() => c.close());
      const before = await page.evaluate(() => performance.getEntriesByName('switchboard:alert').length);
      const sent = Date.now();
      c.send({ type: 'start', topic: 'general', language: 'en', text: `alert ${n}` });
      const at = await page.waitForFunction(
        (count) => {
          const marks = performance.getEntriesByName('switchboard:alert');
          return marks.length > count && document.title.startsWith('(') ? /** @type {any} */ (marks.at(-1)).detail.epochMs : null;
        },
        before,
      );
      latencies.push((await at.jsonValue()) - sent);
    }
    Object.assign(figures, {
      alert_after_start_ms_p50: Math.round(quantile(latencies, 0.5)),
      alert_after_start_ms_p95: Math.round(quantile(latencies, 0.95)),
      alert_after_start_ms_max: Math.round(Math.max(...latencies)),
    });
    assert.equal(latencies.length, 20);
  });
});

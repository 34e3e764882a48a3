// The widget on other people's pages and devices: a server restart on Redis
// mid-chat, a hostile host page under a strict CSP with Trusted Types, the
// keyboard alone, axe-core in every state, Arabic, a 360 px phone, the byte
// budgets, and the performance figures the README reports.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';

import { agent, agentsToml, axeSerious, customerSocket, screenshot, startRedis, until, writeFigures } from './harness.mjs';
import { bubbles, launcher, sendFromComposer, startChat, widgetSuite } from './widget-page.mjs';

const roster = agentsToml([
  { id: 'ana', name: 'Ana', token: 'test-token-ana', skills: ['deposit_withdrawal', 'trading'], languages: ['en', 'ar'], capacity: 1 },
]);
const config = `${roster}\n[routing]\nposition_update_ms = 200\n`;

/**
 * Bytes of `url` as served gzipped (what crosses the network).
 * @param {string} url
 * @returns {Promise<number>}
 */
function gzippedSize(url) {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
        let n = 0;
        res.on('data', (chunk) => (n += chunk.length));
        res.on('end', () => (res.headers['content-encoding'] === 'gzip' ? resolve(n) : reject(new Error(`${url} not gzipped`))));
      })
      .on('error', reject);
  });
}

/** Figures for the README, written to test-output/perf.json and printed. */
const figures = /** @type {Record<string, unknown>} */ ({});

describe('widget on host pages', () => {
  const suite = widgetSuite(config);
  after(() => writeFigures('perf', figures));

  it('customer keeps chatting through a server restart on Redis: each message typed meanwhile delivered once', async () => {
    const redis = await startRedis();
    suite.defer(() => redis.stop());
    const server = await suite.server({ redisUrl: redis.url });
    let ana = await agent(server.wsUrl, 'test-token-ana');
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).click();
    await startChat(page, 'Restart test');
    const assigned = await ana.next('assigned');
    await sendFromComposer(page, 'before');
    const before = await ana.next((f) => f.type === 'message' && f.text === 'before');

    await server.stop();
    await page.locator('.banner', { hasText: 'Reconnecting' }).waitFor();
    await sendFromComposer(page, 'during 1');
    await sendFromComposer(page, 'during 2');
    await page.locator('.msg.pending').nth(1).waitFor();
    await screenshot(page, 'chat-reconnecting-desktop');
    await server.restart();
    ana = await agent(server.wsUrl, 'test-token-ana', {
      resume: [{ conversation_id: assigned.conversation_id, last_seq: before.seq }],
    });
    suite.defer(() => ana.close());
    for (const text of ['during 1', 'during 2']) await ana.next((f) => f.type === 'message' && f.text === text, 20_000);
    await until(async () => (await page.locator('.msg.pending').count()) === 0, { timeout: 15_000 });
    await page.waitForTimeout(300);
    for (const text of ['during 1', 'during 2']) {
      assert.equal(ana.frames.filter((f) => f.type === 'message' && f.text === text).length, 1, text);
    }
    assert.deepEqual(await bubbles(page), ['Restart test', 'before', 'during 1', 'during 2']);
    assert.equal(await page.locator('.banner').isVisible(), false);
  });

  it('works on a host page that unsets every style, under a strict CSP with Trusted Types enforced', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const page = await suite.page();
    // The exchange's page, on an origin of its own: the widget comes from switchboard's.
    const csp = [
      "default-src 'self'",
      `script-src 'self' ${server.httpUrl}`,
      "style-src 'self'",
      `connect-src 'self' ${server.httpUrl} ${server.wsUrl}`,
      "img-src 'self'",
      "object-src 'none'",
      "base-uri 'none'",
      "require-trusted-types-for 'script'",
      "trusted-types 'none'",
    ].join('; ');
    const host = http.createServer((req, res) => {
      if (req.url === '/hostile.css') {
        res.writeHead(200, { 'content-type': 'text/css' });
        res.end('* { all: unset !important; } div { display: none !important; }');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp });
      res.end(
        `<!doctype html><html lang="en"><head><title>Hostile host</title><link rel="stylesheet" href="/hostile.css"><script src="${server.httpUrl}/widget.js" async></script></head><body><main><h1>Hostile host</h1><p>Every style is unset.</p></main></body></html>`,
      );
    });
    await new Promise((resolve) => host.listen(0, '127.0.0.1', () => resolve(undefined)));
    suite.defer(() => new Promise((resolve) => host.close(resolve)));
    const hostUrl = `http://127.0.0.1:${/** @type {import('node:net').AddressInfo} */ (host.address()).port}`;
    await page.addInitScript(() => {
      const w = /** @type {any} */ (window);
      w.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    /** @type {string[]} */
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${hostUrl}/hostile`);
    await launcher(page).waitFor();
    const box = await launcher(page).boundingBox();
    const viewport = page.viewportSize();
    assert.ok(box && viewport && box.width === 60 && box.x + box.width > viewport.width - 40, `launcher at the corner: ${JSON.stringify(box)}`);
    await launcher(page).click();
    await startChat(page, 'From a hostile page');
    const assigned = await ana.next('assigned');
    ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: 'a-1', text: 'Hello from Ana' });
    await page.locator('.msg.agent .bubble', { hasText: 'Hello from Ana' }).waitFor();
    const panel = await page.locator('#sb-panel').boundingBox();
    assert.ok(panel && panel.width >= 300 && panel.height >= 300, `panel laid out: ${JSON.stringify(panel)}`);
    await screenshot(page, 'hostile-host-desktop');
    assert.deepEqual(await page.evaluate(() => /** @type {any} */ (window).__violations), []);
    assert.deepEqual(errors, []);
  });

  it('customer uses only the keyboard: launcher, form, chat, and Escape back to the launcher', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const page = await suite.page();
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).waitFor();
    const focused = () =>
      page.evaluate(() => {
        const host = document.getElementById('switchboard-widget');
        if (document.activeElement !== host) return document.activeElement?.tagName ?? '';
        const inner = host?.shadowRoot?.activeElement;
        return inner ? `${inner.tagName}#${inner.id}.${inner.className}` : '';
      });
    let presses = 0;
    while (!(await focused()).includes('launcher')) {
      await page.keyboard.press('Tab');
      presses += 1;
      assert.ok(presses < 40, 'the launcher is reachable with Tab');
    }
    await page.keyboard.press('Enter');
    await until(async () => (await focused()).startsWith('SELECT#sb-topic'), { message: 'focus moves into the panel' });
    await page.keyboard.press('Tab'); // UID
    await page.keyboard.press('Tab'); // TxID
    await page.keyboard.type('0xabc');
    await page.keyboard.press('Tab'); // message
    await page.keyboard.type('Typed with the keyboard');
    await page.keyboard.press('Tab');
    assert.match(await focused(), /^BUTTON/);
    await page.keyboard.press('Enter');
    const assigned = await ana.next('assigned');
    assert.equal(assigned.customer.metadata.txid, '0xabc');
    await until(async () => (await focused()).startsWith('TEXTAREA#sb-composer'), { message: 'focus in the composer' });
    await page.keyboard.type('And answered with Enter');
    await page.keyboard.press('Enter');
    await ana.next((f) => f.type === 'message' && f.text === 'And answered with Enter');
    await page.keyboard.press('Escape');
    await page.locator('#sb-panel').waitFor({ state: 'hidden' });
    assert.match(await focused(), /launcher/);
    // And back: the chat is where it was.
    await page.keyboard.press('Enter');
    await until(async () => (await focused()).startsWith('TEXTAREA#sb-composer'));
  });

  it('passes axe-core in the launcher, the form, the queue and the chat, in English and in Arabic laid out right to left', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const ahead = await customerSocket(server.wsUrl, 'v-ahead');
    suite.defer(() => ahead.close());
    ahead.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: 'ahead' });
    // Ana's one slot is always held by someone else when the widget starts, so it queues.
    let blocking = (await ana.next('assigned')).conversation_id;
    for (const lang of ['en', 'ar']) {
      const page = await suite.page();
      await page.goto(`${server.httpUrl}/demo?lang=${lang}`);
      await launcher(page).waitFor();
      assert.deepEqual(await axeSerious(page, '#switchboard-widget'), [], `${lang} launcher`);
      await launcher(page).click();
      await page.locator('#sb-topic').waitFor();
      assert.equal(await page.locator('#sb-panel').getAttribute('dir'), lang === 'ar' ? 'rtl' : 'ltr');
      assert.deepEqual(await axeSerious(page, '#switchboard-widget'), [], `${lang} form`);
      if (lang === 'ar') {
        assert.equal(await page.locator('#sb-topic option[value=deposit_withdrawal]').textContent(), 'الإيداع والسحب');
        await screenshot(page, 'form-arabic-desktop');
      }
      await startChat(page, lang === 'ar' ? 'لم يصل إيداع البيتكوين' : 'Queued');
      await page.locator('.queue').waitFor();
      assert.deepEqual(await axeSerious(page, '#switchboard-widget'), [], `${lang} queue`);
      ana.send({ type: 'resolve', conversation_id: blocking });
      const mine = await ana.next('assigned');
      ana.send({ type: 'message', conversation_id: mine.conversation_id, client_msg_id: 'a-1', text: lang === 'ar' ? 'مرحبًا، كيف أساعدك؟' : 'Hello' });
      await page.locator('.msg.agent').waitFor();
      assert.deepEqual(await axeSerious(page, '#switchboard-widget'), [], `${lang} chat`);
      if (lang === 'ar') await screenshot(page, 'chat-arabic-desktop');
      const blocker = await customerSocket(server.wsUrl, `v-block-${lang}`);
      suite.defer(() => blocker.close());
      blocker.send({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text: 'blocker' });
      await blocker.next('queued');
      ana.send({ type: 'resolve', conversation_id: mine.conversation_id });
      blocking = (await ana.next('assigned')).conversation_id;
      await page.context().close();
    }
  });

  it('fills a 360 px phone screen, with inputs that do not zoom', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server);
    const page = await suite.page({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).waitFor();
    await screenshot(page, 'launcher-phone');
    await launcher(page).tap();
    await page.locator('#sb-topic').waitFor();
    const panel = await page.locator('#sb-panel').boundingBox();
    assert.deepEqual(panel, { x: 0, y: 0, width: 360, height: 740 });
    const sizes = await page.evaluate(() => {
      const root = /** @type {ShadowRoot} */ (document.getElementById('switchboard-widget')?.shadowRoot);
      return [...root.querySelectorAll('input, select, textarea')].map((e) => getComputedStyle(e).fontSize);
    });
    assert.ok(sizes.length >= 4 && sizes.every((s) => s === '16px'), `16px inputs: ${sizes}`);
    await screenshot(page, 'form-phone');
    await startChat(page, 'From my phone');
    const assigned = await ana.next('assigned');
    ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: 'a-1', text: 'Hi! Could you send the TxID?' });
    await page.locator('.msg.agent').waitFor();
    await sendFromComposer(page, '9f2c4e7a1b0d');
    await page.locator('.msg.customer .state.delivered').nth(1).waitFor();
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(scroll <= 360, `no sideways scroll: ${scroll}`);
    await screenshot(page, 'chat-phone');
  });

  it('stays within its byte budgets, and reports its paint time, long tasks and heap with 200 messages', async () => {
    // An agent who types faster than any person: lift the agent frame budget.
    const server = await suite.server({ config: `${config}\n[limits]\nagent_frames_per_sec = 1000\nagent_frame_burst = 1000\n` });
    const ana = await suite.agent(server);
    const page = await suite.page();
    await page.addInitScript(() => {
      const w = /** @type {any} */ (window);
      w.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.__longTasks.push(Math.round(e.duration));
      }).observe({ type: 'longtask', buffered: true });
    });
    /** @type {Set<string>} */
    const loaded = new Set();
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname === '/widget.js' || u.pathname.startsWith('/widget/')) loaded.add(r.url());
    });
    await page.goto(`${server.httpUrl}/demo`);
    await launcher(page).waitFor();
    await page.waitForFunction(() => performance.getEntriesByName('switchboard:launcher-painted').length > 0);
    const paintMs = await page.evaluate(
      () =>
        performance.getEntriesByName('switchboard:launcher-painted')[0].startTime -
        performance.getEntriesByName('switchboard:script-start')[0].startTime,
    );
    const cdp = await page.context().newCDPSession(page);
    const heap = async () => {
      await cdp.send('HeapProfiler.collectGarbage');
      return (await cdp.send('Runtime.getHeapUsage')).usedSize;
    };
    const heapLoaderOnly = await heap();

    // A whole chat: form, queue-less assignment, 200 messages, the end, a rating.
    await launcher(page).click();
    await startChat(page, 'Budget test');
    const assigned = await ana.next('assigned');
    for (let n = 1; n <= 199; n += 1) {
      ana.send({ type: 'message', conversation_id: assigned.conversation_id, client_msg_id: `a-${n}`, text: `Message number ${n} from the agent, about the size of a real answer.` });
    }
    await page.locator('.msg.agent .bubble', { hasText: 'Message number 199 ' }).waitFor({ timeout: 20_000 });
    assert.equal(await page.locator('#sb-panel .log .msg').count(), 200);
    const heapChat = await heap();
    ana.send({ type: 'resolve', conversation_id: assigned.conversation_id });
    await page.locator('button.star[data-score="4"]').click();
    await page.locator('.thanks').waitFor();
    const longTasks = await page.evaluate(() => /** @type {any} */ (window).__longTasks);

    const sizes = /** @type {Record<string, number>} */ ({});
    for (const url of [...loaded].sort()) sizes[new URL(url).pathname.replace(/^\/widget\/[0-9a-f]+\//, '')] = await gzippedSize(url);
    const loader = sizes['/widget.js'];
    const total = Object.values(sizes).reduce((a, b) => a + b, 0);
    Object.assign(figures, {
      loader_gzip_bytes: loader,
      whole_chat_gzip_bytes: total,
      files_gzip_bytes: sizes,
      launcher_paint_ms: Math.round(paintMs * 10) / 10,
      long_tasks_ms: longTasks,
      heap_loader_only_bytes: heapLoaderOnly,
      heap_200_messages_bytes: heapChat,
      heap_widget_chat_delta_bytes: heapChat - heapLoaderOnly,
    });
    assert.ok(loader <= 6 * 1024, `widget.js is ${loader} B gzipped; the budget is 6 KB`);
    assert.ok(total <= 25 * 1024, `a whole chat loads ${total} B gzipped; the budget is 25 KB`);
    assert.ok(Object.keys(sizes).length >= 6, `the panel's files were counted: ${Object.keys(sizes)}`);
  });
});

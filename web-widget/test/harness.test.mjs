// The harness itself, on the real binary, a real Redis and Debian's chromium.

import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { after, describe, it } from 'node:test';

import {
  BIN,
  agent,
  agentsToml,
  axeSerious,
  customerSocket,
  httpJson,
  launchBrowser,
  screenshot,
  startRedis,
  startServer,
  until,
} from './harness.mjs';

// One agent who takes one chat at a time: a second customer waits in the queue.
const config = agentsToml([
  {
    id: 'ana',
    name: 'Ana',
    token: 'test-token-ana',
    skills: ['deposit_withdrawal', 'general'],
    languages: ['en'],
    capacity: 1,
  },
]);

/** @param {string} text */
const start = (text) => ({ type: 'start', topic: 'deposit_withdrawal', language: 'en', text, client_msg_id: 's-1' });

describe('harness', () => {
  /** @type {Array<() => Promise<unknown>>} */
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it('finds the binary', () => {
    assert.ok(existsSync(BIN), `${BIN} is missing: cargo build --locked --bin switchboard`);
  });

  it('starts a server that answers /healthz, an agent, and a customer whose start is assigned', async () => {
    const server = await startServer({ config });
    cleanups.push(() => server.stop());
    assert.ok(server.port > 0);
    assert.equal(server.httpUrl, `http://127.0.0.1:${server.port}`);
    assert.equal(server.wsUrl, `ws://127.0.0.1:${server.port}`);
    assert.ok(server.logs.some((l) => l.includes(`listening on 127.0.0.1:${server.port}`)));

    const health = await httpJson(`${server.httpUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(health.json.role, 'single');

    const ana = await agent(server.wsUrl, 'test-token-ana');
    cleanups.push(() => ana.close());
    assert.equal(ana.welcome.agent.id, 'ana');
    assert.equal(ana.frames[0].type, 'welcome');

    const customer = await customerSocket(server.wsUrl, 'v-harness-1');
    cleanups.push(() => customer.close());
    assert.equal(customer.welcome.conversation, null);
    customer.send(start('My BTC deposit has not arrived'));

    const assigned = await ana.next('assigned');
    assert.equal(assigned.transcript[0].text, 'My BTC deposit has not arrived');
    const mine = await customer.next((f) => f.type === 'assigned');
    assert.equal(mine.conversation_id, assigned.conversation_id);
    assert.equal(mine.agent.id, 'ana');
    // Frames that came before a next() are found too: the customer's own first
    // message arrived before its `assigned`.
    const echo = await customer.next((f) => f.type === 'message' && f.seq === 1);
    assert.equal(echo.text, 'My BTC deposit has not arrived');
    // A frame is taken once.
    await assert.rejects(customer.next('assigned', 300), /no "assigned" frame within 300 ms/);

    await ana.close();
    await customer.close();
    await server.stop();
    assert.notEqual(server.process.exitCode ?? server.process.signalCode, null);
  });

  it('restarts a Redis-backed server on the same port, keeping a queued conversation', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+\/$/);

    const server = await startServer({ config, redisUrl: redis.url });
    cleanups.push(() => server.stop());
    await until(async () => (await httpJson(`${server.httpUrl}/healthz`)).status === 200, {
      message: 'the Redis-backed node never answered /healthz with 200',
    });

    const ana = await agent(server.wsUrl, 'test-token-ana');
    cleanups.push(() => ana.close());
    const first = await customerSocket(server.wsUrl, 'v-harness-first');
    cleanups.push(() => first.close());
    first.send(start('first in line'));
    await first.next('assigned');

    // Ana is at capacity: the second chat waits.
    const second = await customerSocket(server.wsUrl, 'v-harness-second');
    second.send(start('second in line'));
    const queued = await second.next('queued');
    assert.ok(queued.conversation_id);
    await second.close();

    const port = server.port;
    await server.restart();
    assert.equal(server.port, port);
    assert.ok(server.logs.includes('--- restart ---'));
    await until(async () => (await httpJson(`${server.httpUrl}/healthz`)).status === 200, {
      message: 'the restarted node never answered /healthz with 200',
    });

    const back = await customerSocket(server.wsUrl, 'v-harness-second');
    cleanups.push(() => back.close());
    assert.notEqual(back.welcome.conversation, null, JSON.stringify(back.welcome));
    assert.equal(back.welcome.conversation.id, queued.conversation_id);
    assert.equal(back.welcome.conversation.state, 'queued');
  });

  it('drives Debian chromium: JSON from the server, axe inside a shadow root under a strict CSP, a screenshot', async () => {
    const server = await startServer({ config });
    cleanups.push(() => server.stop());
    const browser = await launchBrowser();
    cleanups.push(() => browser.close());
    const page = await browser.newPage();

    const response = await page.goto(`${server.httpUrl}/healthz`);
    assert.ok(response);
    assert.equal(response.status(), 200);
    const body = await response.json();
    assert.equal(body.role, 'single');
    const fetched = await page.evaluate(() => fetch('/healthz').then((r) => r.json()));
    assert.equal(fetched.role, 'single');

    // A page served with a CSP that forbids every script (as the real pages have
    // a strict one): axe still runs, and looks into the open shadow root, where a
    // button has no accessible name.
    await page.route('http://harness.invalid/**', (route) =>
      route.fulfill({
        status: 200,
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
        },
        body: `<!doctype html>
          <html lang="en"><head><meta charset="utf-8"><title>harness</title></head>
          <body><main><h1>Harness</h1>
          <p lang="zh">您好，有什么可以帮您？</p><p lang="ar" dir="rtl">مرحبا، كيف يمكننا مساعدتك؟</p>
          <div id="host"></div>
          <script>window.inlineRan = true;</script></main></body></html>`,
      }),
    );
    await page.goto('http://harness.invalid/');
    assert.equal(await page.evaluate(() => /** @type {any} */ (window).inlineRan), undefined, 'the CSP let an inline script run');
    await page.evaluate(() => {
      const host = document.getElementById('host');
      if (!host) throw new Error('no #host');
      host.attachShadow({ mode: 'open' }).innerHTML = '<button type="button"></button>';
    });
    const violations = await axeSerious(page);
    const buttonName = violations.find((v) => v.id === 'button-name');
    assert.ok(buttonName, JSON.stringify(violations));
    // A target through a shadow root is a list of selectors, host first.
    assert.deepEqual(buttonName.nodes, [[['#host', 'button']]]);
    // Limited to an element without the problem: nothing serious.
    assert.deepEqual(await axeSerious(page, 'h1'), []);

    const file = await screenshot(page, 'harness-shadow-and-scripts');
    assert.ok(statSync(file).size > 1000);
  });
});

// The protocol client on its own (no DOM): its backoff and failover with a
// stand-in socket, then against the real binary with the `ws` package:
// failover past a dead URL, resend after a Redis-backed restart, and frames
// refused with `rate_limited` sent again until each is stored once.

import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { after, describe, it } from 'node:test';

import WebSocket from 'ws';

import { ProtocolClient, randomId } from '../src/protocol-client.js';
import { agent, agentsToml, freePort, startRedis, startServer, until } from './harness.mjs';

globalThis.crypto ??= /** @type {any} */ (webcrypto);

const roster = agentsToml([
  { id: 'ana', name: 'Ana', token: 'test-token-ana', skills: ['deposit_withdrawal'], languages: ['en'], capacity: 3 },
]);

/** A socket that never connects: closes on the next tick with `code`. */
function deadSocketFactory(/** @type {string[]} */ urls, codes = [1006]) {
  let n = 0;
  return class {
    /** @param {string} url */
    constructor(url) {
      urls.push(url);
      const code = codes[Math.min(n, codes.length - 1)];
      n += 1;
      /** @type {any} */
      this.onclose = null;
      setTimeout(() => this.onclose?.({ code, reason: '' }), 0);
    }
    send() {}
    close() {}
  };
}

/**
 * A customer client on `urls`, recording every frame and delivery state.
 * @param {string[]} urls
 * @param {string} visitorId
 * @param {object} [timing]
 */
function customerClient(urls, visitorId, timing = {}) {
  /** @type {any[]} */
  const frames = [];
  /** @type {Array<[string, string]>} */
  const deliveries = [];
  let lastSeq = 0;
  /** @type {string | null} */
  let conversationId = null;
  const client = new ProtocolClient({
    urls,
    WebSocket: /** @type {any} */ (WebSocket),
    timing: { baseMs: 50, maxMs: 400, restartMs: 50, ...timing },
    hello: () => ({
      type: 'hello',
      visitor_id: visitorId,
      ...(conversationId ? { resume: { conversation_id: conversationId, last_seq: lastSeq } } : {}),
    }),
    onFrame: (frame) => {
      frames.push(frame);
      if (frame.type === 'message') {
        conversationId = frame.conversation_id;
        lastSeq = Math.max(lastSeq, frame.seq);
      }
    },
    onDelivery: (key, state) => deliveries.push([key, state]),
  });
  /** @param {string} text */
  const message = (text) => {
    const key = randomId('c-');
    client.sendReliably(key, { type: 'message', client_msg_id: key, text }, (f) => f.type === 'message' && f.client_msg_id === key);
    return key;
  };
  return { client, frames, deliveries, message };
}

describe('protocol client', () => {
  /** @type {Array<() => Promise<unknown>>} */
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it('backs off exponentially with jitter, over every URL in turn', async () => {
    /** @type {string[]} */
    const urls = [];
    /** @type {number[]} */
    const delays = [];
    const client = new ProtocolClient({
      urls: ['ws://a.invalid/ws/customer', 'ws://b.invalid/ws/customer'],
      WebSocket: /** @type {any} */ (deadSocketFactory(urls)),
      timing: { baseMs: 4, maxMs: 40 },
      random: () => 0.999,
      hello: () => ({ type: 'hello', visitor_id: 'v-1' }),
      onFrame: () => {},
      onStatus: (s) => {
        if (s.phase === 'waiting') delays.push(s.retryInMs);
      },
    });
    client.start();
    await until(() => delays.length >= 6, { message: 'six reconnect attempts' });
    client.stop();
    // Ceilings 4, 8, 16, 32, 40, 40; with random ≈ 1 the delay is the ceiling.
    assert.deepEqual(delays.slice(0, 6), [4, 8, 16, 32, 40, 40]);
    assert.deepEqual(urls.slice(0, 4), [
      'ws://a.invalid/ws/customer',
      'ws://b.invalid/ws/customer',
      'ws://a.invalid/ws/customer',
      'ws://b.invalid/ws/customer',
    ]);
  });

  it('never waits less than half the ceiling, and comes back fast after a 1012', async () => {
    /** @type {number[]} */
    const delays = [];
    const client = new ProtocolClient({
      urls: ['ws://a.invalid/'],
      WebSocket: /** @type {any} */ (deadSocketFactory([], [1012, 1006])),
      timing: { baseMs: 100, maxMs: 1000, restartMs: 20 },
      random: () => 0,
      hello: () => ({ type: 'hello', visitor_id: 'v-1' }),
      onFrame: () => {},
      onStatus: (s) => {
        if (s.phase === 'waiting') delays.push(s.retryInMs);
      },
    });
    client.start();
    await until(() => delays.length >= 3);
    client.stop();
    assert.deepEqual(delays.slice(0, 3), [10, 100, 200]);
  });

  it('fails over past a dead URL and delivers every message once', async () => {
    const server = await startServer({ config: roster });
    cleanups.push(() => server.stop());
    const ana = await agent(server.wsUrl, 'test-token-ana');
    cleanups.push(() => ana.close());
    const dead = `ws://127.0.0.1:${await freePort()}/ws/customer`;
    const c = customerClient([dead, `${server.wsUrl}/ws/customer`], 'v-failover');
    cleanups.push(async () => c.client.stop());
    c.client.start();
    c.client.sendReliably('start', { type: 'start', topic: 'deposit_withdrawal', language: 'en' }, (f) =>
      ['queued', 'assigned'].includes(f.type),
    );
    const assigned = await ana.next('assigned');
    const keys = ['one', 'two', 'three'].map((t) => c.message(t));
    for (const text of ['one', 'two', 'three']) {
      await ana.next((f) => f.type === 'message' && f.text === text);
    }
    await until(() => c.client.pending().length === 0, { message: 'every message acknowledged' });
    assert.equal(ana.frames.filter((f) => f.type === 'message' && f.conversation_id === assigned.conversation_id).length, 3);
    assert.ok(keys.every((k) => c.deliveries.some(([key, state]) => key === k && state === 'delivered')));
    assert.ok(c.client.status.url.endsWith(`:${server.port}/ws/customer`));
  });

  it('sends what was typed while the server restarted (Redis), each message stored once', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const server = await startServer({ config: roster, redisUrl: redis.url });
    cleanups.push(() => server.stop());
    let ana = await agent(server.wsUrl, 'test-token-ana');
    const c = customerClient([`${server.wsUrl}/ws/customer`], 'v-restart');
    cleanups.push(async () => c.client.stop());
    c.client.start();
    c.client.sendReliably('start', { type: 'start', topic: 'deposit_withdrawal', language: 'en' }, (f) =>
      ['queued', 'assigned'].includes(f.type),
    );
    const assigned = await ana.next('assigned');
    const conversation = assigned.conversation_id;
    c.message('before the restart');
    const before = await ana.next((f) => f.type === 'message' && f.text === 'before the restart');

    await server.stop();
    await until(() => !c.client.isOpen, { message: 'the client saw the close' });
    const typed = ['while down 1', 'while down 2', 'while down 3'].map((t) => [t, c.message(t)]);
    assert.equal(c.client.pending().length, 3);
    await server.restart();
    // The agent's console resumes too (a plain socket here).
    ana = await agent(server.wsUrl, 'test-token-ana', { resume: [{ conversation_id: conversation, last_seq: before.seq }] });
    cleanups.push(() => ana.close());
    await until(() => c.client.pending().length === 0, { timeout: 20_000, message: 'all three acknowledged' });
    for (const [text] of typed) await ana.next((f) => f.type === 'message' && f.text === text);
    // Once each on the agent's side and in the customer's echoes.
    await new Promise((r) => setTimeout(r, 300));
    for (const [text] of typed) {
      assert.equal(ana.frames.filter((f) => f.type === 'message' && f.text === text).length, 1, text);
      const seqs = new Set(c.frames.filter((f) => f.type === 'message' && f.text === text).map((f) => f.seq));
      assert.equal(seqs.size, 1, `${text}: one seq`);
    }
  });

  it('rides through Redis not answering for a while (unavailable): each message stored once', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    // Redis frozen for less than the lease: the node stays the matcher and refuses writes meanwhile.
    const server = await startServer({ config: `[redis]\ntimeout_secs = 1\n[cluster]\nlease_secs = 10\n${roster}`, redisUrl: redis.url });
    cleanups.push(() => server.stop());
    const ana = await agent(server.wsUrl, 'test-token-ana');
    cleanups.push(() => ana.close());
    const c = customerClient([`${server.wsUrl}/ws/customer`], 'v-unavailable', { unavailableMs: 300 });
    cleanups.push(async () => c.client.stop());
    c.client.start();
    c.client.sendReliably('start', { type: 'start', topic: 'deposit_withdrawal', language: 'en' }, (f) =>
      ['queued', 'assigned'].includes(f.type),
    );
    await ana.next('assigned');
    const pid = /** @type {number} */ (redis.process.pid);
    process.kill(pid, 'SIGSTOP');
    try {
      c.message('held 1');
      await new Promise((r) => setTimeout(r, 1500)); // the node finds the store down
      c.message('refused 2');
      c.message('refused 3');
      await until(() => c.frames.some((f) => f.type === 'error' && f.code === 'unavailable'), {
        timeout: 8_000,
        message: 'refused with unavailable while Redis is frozen',
      });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await until(() => c.client.pending().length === 0, { timeout: 20_000, message: 'all three acknowledged' });
    assert.ok(c.deliveries.some(([, state]) => state === 'retrying'));
    for (const t of ['held 1', 'refused 2', 'refused 3']) await ana.next((f) => f.type === 'message' && f.text === t, 15_000);
    await new Promise((r) => setTimeout(r, 300));
    for (const t of ['held 1', 'refused 2', 'refused 3']) {
      assert.equal(ana.frames.filter((f) => f.type === 'message' && f.text === t).length, 1, t);
    }
  });

  it('sends frames refused with rate_limited again until each is stored once', async () => {
    const server = await startServer({
      config: `[limits]\ncustomer_frames_per_sec = 2\ncustomer_frame_burst = 2\n${roster}`,
    });
    cleanups.push(() => server.stop());
    const ana = await agent(server.wsUrl, 'test-token-ana');
    cleanups.push(() => ana.close());
    const c = customerClient([`${server.wsUrl}/ws/customer`], 'v-rate', { rateLimitedMs: 600 });
    cleanups.push(async () => c.client.stop());
    c.client.start();
    c.client.sendReliably('start', { type: 'start', topic: 'deposit_withdrawal', language: 'en' }, (f) =>
      ['queued', 'assigned'].includes(f.type),
    );
    await ana.next('assigned');
    const texts = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
    for (const t of texts) c.message(t);
    await until(() => c.client.pending().length === 0, { timeout: 20_000, message: 'all six acknowledged' });
    assert.ok(
      c.frames.some((f) => f.type === 'error' && f.code === 'rate_limited'),
      'the budget refused some of them',
    );
    assert.ok(c.deliveries.some(([, state]) => state === 'retrying'));
    for (const t of texts) await ana.next((f) => f.type === 'message' && f.text === t);
    for (const t of texts) {
      assert.equal(ana.frames.filter((f) => f.type === 'message' && f.text === t).length, 1, t);
    }
  });
});

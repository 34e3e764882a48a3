// The supervisor's live view (`/dashboard`) during a burst, against the real
// binary: its figures equal /metrics and /api/presence, the SLA list names
// who has waited too long, a plain agent is refused, and the lead acts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { agentsToml, axeSerious, customerSocket, httpJson, identityToken, screenshot, until } from './harness.mjs';
import { widgetSuite } from './widget-page.mjs';

const SECRET = 'dashboard-test-identity-secret';
const roster = agentsToml([
  { id: 'ana', name: 'Ana', token: 'test-token-ana', skills: ['deposit_withdrawal', 'trading'], languages: ['en'], capacity: 1 },
  { id: 'lead', name: 'Lead', token: 'test-token-lead', skills: ['general'], languages: ['en'], capacity: 1, role: 'supervisor' },
]);
const config = `identity_secret = "${SECRET}"\n${roster}\n[dashboard]\nsla_urgent_secs = 1\nsla_wait_secs = 3600\n`;


/** `switchboard_<name>{topic="…"} value` lines of /metrics, by topic. @param {string} text @param {string} name */
function byTopic(text, name) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const m of text.matchAll(new RegExp(`^switchboard_${name}\\{topic="([a-z_]+)"\\} ([0-9.e+]+)$`, 'gm'))) out[m[1]] = Number(m[2]);
  return out;
}

describe('supervisor live view', () => {
  const suite = widgetSuite(config);

  it('during a burst of 50 customers: figures equal /metrics and /api/presence, the SLA list names the urgent customer, the lead acts', async () => {
    const server = await suite.server();
    const ana = await suite.agent(server, 'test-token-ana');

    // A plain agent's token is refused.
    const refused = await suite.page();
    await refused.goto(`${server.httpUrl}/dashboard`);
    await refused.locator('#token').fill('test-token-ana');
    await refused.locator('form.signin button[type=submit]').click();
    await refused.locator('.signin .problem', { hasText: 'supervisor' }).waitFor();

    // The burst: 50 customers; Ana takes one, the rest wait. One is urgent
    // and signed in, with a name that is markup.
    const urgentName = '<b>Satoshi</b> \u202Eurgent';
    for (let n = 0; n < 50; n += 1) {
      const urgent = n === 7;
      const c = await customerSocket(server.wsUrl, `v-burst-${n}`, urgent ? { identity: identityToken(SECRET, { sub: 'u-7', name: urgentName }) } : {});
      suite.defer(() => c.close());
      c.send({
        type: 'start',
        topic: n % 3 === 0 ? 'trading' : 'deposit_withdrawal',
        language: 'en',
        text: urgent ? 'My withdrawal is blocked withdrawal please help' : `question ${n}`,
      });
    }
    await ana.next('assigned');

    const page = await suite.page({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.httpUrl}/dashboard`);
    await page.locator('#token').fill('test-token-lead');
    await page.locator('form.signin button[type=submit]').click();
    await page.locator('[data-figure="queued_total"] .value', { hasText: '49' }).waitFor();

    // The SLA list names the urgent customer once it is past 1 s, as text.
    await page.locator('.sla td', { hasText: 'Satoshi' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.sla tbody tr').first().locator('td').first().textContent(), urgentName);
    assert.equal(await page.locator('.sla b').count(), 0);

    // Settled: every queue row's depth, summed by topic, is /metrics' gauge.
    const metrics = await (await fetch(`${server.httpUrl}/metrics`)).text();
    const depth = byTopic(metrics, 'queue_depth');
    const oldest = byTopic(metrics, 'queue_oldest_wait_seconds');
    const rows = await page.locator('.card tbody tr[data-topic]').evaluateAll((trs) =>
      trs.map((tr) => ({ topic: tr.getAttribute('data-topic'), depth: Number(tr.querySelector('.depth')?.textContent) })),
    );
    /** @type {Record<string, number>} */
    const shown = {};
    for (const r of rows) shown[/** @type {string} */ (r.topic)] = (shown[/** @type {string} */ (r.topic)] ?? 0) + r.depth;
    for (const [topic, n] of Object.entries(depth)) if (n > 0) assert.equal(shown[topic], n, `depth of ${topic}`);
    assert.equal(Object.values(shown).reduce((a, b) => a + b, 0), 49);
    const api = await httpJson(`${server.httpUrl}/api/dashboard`, { headers: { authorization: 'Bearer test-token-lead' } });
    for (const [topic, secs] of Object.entries(oldest)) {
      if (!depth[topic]) continue;
      const rowsOfTopic = api.json.queue.filter((/** @type {any} */ q) => q.topic === topic);
      const apiOldest = Math.max(...rowsOfTopic.map((/** @type {any} */ q) => q.oldest_wait_secs));
      assert.ok(Math.abs(apiOldest - secs) <= 1, `oldest wait of ${topic}: ${apiOldest} vs ${secs}`);
    }
    // Agents as /api/presence has them.
    const presence = await httpJson(`${server.httpUrl}/api/presence`, { headers: { authorization: 'Bearer test-token-lead' } });
    const anaThere = presence.json.nodes.flatMap((/** @type {any} */ n) => n.agents).find((/** @type {any} */ a) => a.id === 'ana');
    const anaRow = page.locator('tr[data-agent="ana"]');
    assert.equal(await anaRow.locator('td').nth(2).textContent(), `${anaThere.load} / ${anaThere.capacity}`);
    assert.equal(await anaRow.locator('td').nth(1).textContent(), anaThere.status);
    await screenshot(page, 'dashboard');
    assert.deepEqual(await axeSerious(page), [], 'dashboard');

    // The lead sets Ana away: her console hears it from the server.
    await anaRow.getByRole('button', { name: 'Set away' }).click();
    const status = await ana.next((f) => f.type === 'status' && f.status === 'away');
    assert.equal(status.reason, 'supervisor');
    await anaRow.locator('td', { hasText: 'away' }).waitFor();

    // And re-routes the urgent chat to the trading line, as standard.
    await page.locator('.sla tbody tr').first().getByRole('button', { name: 'Re-route…' }).click();
    await page.locator('#route-topic').selectOption('trading');
    await page.locator('#route-priority').selectOption('standard');
    await page.locator('dialog').getByRole('button', { name: 'Apply' }).click();
    await until(async () => {
      const now = await httpJson(`${server.httpUrl}/api/dashboard`, { headers: { authorization: 'Bearer test-token-lead' } });
      return !now.json.queue.some((/** @type {any} */ q) => q.priority === 'urgent');
    }, { message: 'no urgent chat left in the queue' });
    await page.locator('.sla td', { hasText: 'Satoshi' }).waitFor({ state: 'detached' });
  });
});

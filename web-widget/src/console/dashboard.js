// @ts-check
/**
 * The supervisor's live view (`/dashboard`): the server pushes a snapshot
 * every second over Server-Sent Events (`GET /api/dashboard/stream`, read
 * with `fetch` so the token travels in a header); the page draws the latest
 * one and the hour of history the server keeps. A lead acts from here: set an
 * agent away or online, re-route or re-prioritise a waiting chat.
 */

import { TOKEN_KEY, button, duration, el, field, modal, select, signInForm, tabStorage, topicLabel, topics } from './dom.js';

/**
 * @typedef {object} Snapshot
 * @property {string} at
 * @property {string} node
 * @property {{topic: string, language: string, priority: string, depth: number, oldest_wait_secs: number}[]} queue
 * @property {number} queued_total
 * @property {number} longest_wait_secs
 * @property {{conversation_id: string, customer_key: string, customer_name: string | null, topic: string, language: string, priority: string, waited_secs: number, sla_secs: number}[]} waiting
 * @property {{id: string, name: string, status: string, sessions: number, load: number, capacity: number, chats: string[], nodes: string[]}[]} agents
 * @property {{node: string, queued: number, at: string}[]} nodes
 * @property {{assignments: number, first_response_p50_secs: number | null, first_response_p90_secs: number | null}} last_15_min
 * @property {{ended: Record<string, number>, tickets_filed: number, ratings: {count: number, average: number | null}}} today
 * @property {{at: string, queued_total: number, longest_wait_secs: number}[]} [history]
 */

const app = /** @type {HTMLElement} */ (document.getElementById('app'));
const session = tabStorage();

/** @type {Snapshot['history']} */
let history = [];
/** @type {AbortController | null} */
let stream = null;
let token = '';

function signIn(/** @type {string} */ problem = '') {
  stream?.abort();
  const { form, input } = signInForm(
    { title: 'Live view', intro: 'For team leads: sign in with a supervisor token. It is kept for this tab only.', label: 'Supervisor token', problem },
    (value) => start(value),
  );
  app.replaceChildren(form);
  input.focus();
}

/** @type {Record<string, HTMLElement>} */
const parts = {};

/** @param {string} t */
function start(t) {
  token = t;
  void topics();
  parts.stamp = el('p', { class: 'stamp', attrs: { role: 'status' } });
  parts.figures = el('div', { class: 'figures' });
  parts.queue = el('tbody');
  parts.sla = el('tbody');
  parts.agents = el('tbody');
  parts.nodes = el('ul');
  parts.chart = el('div');
  parts.problem = el('p', { class: 'problem banner', attrs: { role: 'alert' } });
  const table = (/** @type {string} */ caption, /** @type {string[]} */ heads, /** @type {HTMLElement} */ body, cls = '') =>
    el('table', { class: cls }, [
      el('caption', { class: 'visually-hidden', text: caption }),
      el('thead', {}, [el('tr', {}, heads.map((h) => el('th', { text: h, attrs: { scope: 'col' } })))]),
      body,
    ]);
  app.replaceChildren(
    el('header', { class: 'top' }, [
      el('span', { class: 'brand', text: 'switchboard' }),
      el('h1', { text: 'Live view' }),
      parts.stamp,
      button('Sign out', () => {
        session?.removeItem(TOKEN_KEY);
        signIn();
      }, 'ghost'),
    ]),
    parts.problem,
    el('main', { class: 'dash' }, [
      el('section', { class: 'card wide', attrs: { 'aria-labelledby': 'h-now' } }, [el('h2', { text: 'Now', attrs: { id: 'h-now' } }), parts.figures]),
      el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-sla' } }, [
        el('h2', { text: 'Waiting past their SLA', attrs: { id: 'h-sla' } }),
        table('Customers waiting past their SLA', ['Customer', 'Topic', 'Priority', 'Waited', ''], parts.sla, 'sla'),
      ]),
      el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-queue' } }, [
        el('h2', { text: 'Queue', attrs: { id: 'h-queue' } }),
        table('Queue by topic, language and priority', ['Topic', 'Language', 'Priority', 'Waiting', 'Oldest'], parts.queue),
      ]),
      el('section', { class: 'card wide', attrs: { 'aria-labelledby': 'h-chart' } }, [
        el('h2', { text: 'The last hour', attrs: { id: 'h-chart' } }),
        parts.chart,
        el('p', { class: 'legend' }, [el('span', { text: '— customers waiting' }), el('span', { text: '- - longest wait (s)' })]),
      ]),
      el('section', { class: 'card wide', attrs: { 'aria-labelledby': 'h-agents' } }, [
        el('h2', { text: 'Agents', attrs: { id: 'h-agents' } }),
        table('Agents', ['Agent', 'Status', 'Load', 'Chats', 'Node', ''], parts.agents),
      ]),
      el('section', { class: 'card', attrs: { 'aria-labelledby': 'h-nodes' } }, [el('h2', { text: 'Nodes', attrs: { id: 'h-nodes' } }), parts.nodes]),
    ]),
  );
  void follow();
}

/** Read the stream, and come back to it after a break. */
async function follow() {
  let delay = 500;
  for (;;) {
    stream = new AbortController();
    try {
      const response = await fetch('/api/dashboard/stream', {
        headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
        signal: stream.signal,
      });
      if (response.status === 401 || response.status === 403) {
        const body = await response.json().catch(() => null);
        session?.removeItem(TOKEN_KEY);
        signIn(body?.error?.message ?? 'This token may not open the live view.');
        return;
      }
      if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
      parts.problem.textContent = '';
      delay = 500;
      await readEvents(response.body, (event, data) => {
        if (event === 'snapshot') draw(JSON.parse(data));
      });
    } catch (error) {
      if (stream.signal.aborted) return;
      parts.problem.textContent = `The live view lost the server (${error}); reconnecting…`;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(10_000, delay * 2);
  }
}

/**
 * Server-Sent Events off a byte stream: `event:` and `data:` lines, a blank
 * line ending each event.
 * @param {ReadableStream<Uint8Array>} body
 * @param {(event: string, data: string) => void} onEvent
 */
export async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      const data = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith(':')) continue;
        const [name, ...rest] = line.split(':');
        const v = rest.join(':').replace(/^ /, '');
        if (name === 'event') event = v;
        else if (name === 'data') data.push(v);
      }
      if (data.length) onEvent(event, data.join('\n'));
    }
  }
}

/** @param {Snapshot} s */
function draw(s) {
  if (s.history) history = s.history;
  else history = [...(history ?? []), { at: s.at, queued_total: s.queued_total, longest_wait_secs: s.longest_wait_secs }].slice(-360);
  parts.stamp.textContent = `Updated ${s.at.slice(11, 19)} UTC from ${s.node}`;
  const p = s.last_15_min;
  const fig = (/** @type {string} */ label, /** @type {string} */ value, /** @type {string} */ key) =>
    el('div', { class: 'figure', attrs: { 'data-figure': key } }, [el('span', { class: 'value', text: value }), el('span', { class: 'label', text: label })]);
  parts.figures.replaceChildren(
    fig('waiting', String(s.queued_total), 'queued_total'),
    fig('longest wait', duration(s.longest_wait_secs), 'longest_wait'),
    fig('agents online', String(s.agents.filter((a) => a.status === 'online' && a.sessions > 0).length), 'agents_online'),
    fig('assigned, last 15 min', String(p.assignments), 'assignments'),
    fig('first response p50 / p90', p.first_response_p50_secs == null ? '—' : `${p.first_response_p50_secs} s / ${p.first_response_p90_secs} s`, 'first_response'),
    fig(
      'ended today: resolved · closed · abandoned · ticketed',
      ['resolved', 'closed', 'abandoned', 'ticketed'].map((r) => s.today.ended[r] ?? 0).join(' · '),
      'ended',
    ),
    fig('tickets filed today', String(s.today.tickets_filed), 'tickets_filed'),
    fig('ratings today', s.today.ratings.count ? `${s.today.ratings.average?.toFixed(2)} (${s.today.ratings.count})` : '—', 'ratings'),
  );
  parts.queue.replaceChildren(
    ...(s.queue.length
      ? s.queue.map((q) =>
          el('tr', { attrs: { 'data-topic': q.topic, 'data-priority': q.priority, 'data-language': q.language } }, [
            el('td', { text: topicLabel(q.topic) }),
            el('td', { text: q.language }),
            el('td', { text: q.priority }),
            el('td', { class: 'depth', text: String(q.depth) }),
            el('td', { text: duration(q.oldest_wait_secs) }),
          ]),
        )
      : [el('tr', {}, [el('td', { text: 'Nobody is waiting.', attrs: { colspan: '5' } })])]),
  );
  parts.sla.replaceChildren(
    ...(s.waiting.length
      ? s.waiting.map((w) =>
          el('tr', { attrs: { 'data-conversation': w.conversation_id } }, [
            el('td', { text: w.customer_name ?? w.customer_key }),
            el('td', { text: topicLabel(w.topic) }),
            el('td', { text: w.priority }),
            el('td', { class: 'late', text: duration(w.waited_secs) }),
            el('td', {}, [button('Re-route…', () => void reroute(w), 'link')]),
          ]),
        )
      : [el('tr', {}, [el('td', { text: 'Nobody is past their SLA.', attrs: { colspan: '5' } })])]),
  );
  parts.agents.replaceChildren(
    ...s.agents.map((a) =>
      el('tr', { attrs: { 'data-agent': a.id } }, [
        el('td', { text: a.name }),
        el('td', { text: a.sessions ? a.status : `${a.status} (not connected)` }),
        el('td', { text: `${a.load} / ${a.capacity}` }),
        el('td', { text: String(a.chats.length) }),
        el('td', { text: a.nodes.join(', ') }),
        el('td', {}, [
          a.status === 'online'
            ? button('Set away', () => void setStatus(a.id, 'away'), 'link')
            : button('Set online', () => void setStatus(a.id, 'online'), 'link'),
        ]),
      ]),
    ),
  );
  parts.nodes.replaceChildren(...s.nodes.map((n) => el('li', { text: `${n.node}: ${n.queued} waiting` })));
  parts.chart.replaceChildren(chart(history ?? []));
}

/** @param {NonNullable<Snapshot['history']>} points */
function chart(points) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  const w = 720;
  const h = 180;
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  const last = points.at(-1);
  svg.setAttribute(
    'aria-label',
    last ? `Over the last hour: at most ${Math.max(...points.map((p) => p.queued_total))} waiting; now ${last.queued_total}, longest wait ${last.longest_wait_secs} s` : 'No data yet',
  );
  const maxDepth = Math.max(1, ...points.map((p) => p.queued_total));
  const maxWait = Math.max(1, ...points.map((p) => p.longest_wait_secs));
  const x = (/** @type {number} */ i) => 30 + (i / Math.max(1, points.length - 1)) * (w - 40);
  const line = (/** @type {string} */ cls, /** @type {(p: any) => number} */ y) => {
    const pl = document.createElementNS(ns, 'polyline');
    pl.setAttribute('class', cls);
    pl.setAttribute('points', points.map((p, i) => `${x(i).toFixed(1)},${y(p).toFixed(1)}`).join(' '));
    return pl;
  };
  const axis = document.createElementNS(ns, 'line');
  axis.setAttribute('class', 'axis');
  axis.setAttribute('x1', '30');
  axis.setAttribute('x2', String(w - 10));
  axis.setAttribute('y1', String(h - 20));
  axis.setAttribute('y2', String(h - 20));
  const label = (/** @type {string} */ text, /** @type {number} */ lx, /** @type {number} */ ly) => {
    const t = document.createElementNS(ns, 'text');
    t.setAttribute('x', String(lx));
    t.setAttribute('y', String(ly));
    t.textContent = text;
    return t;
  };
  svg.append(
    axis,
    line('depth', (p) => h - 20 - (p.queued_total / maxDepth) * (h - 40)),
    line('wait', (p) => h - 20 - (p.longest_wait_secs / maxWait) * (h - 40)),
    label(String(maxDepth), 2, 24),
    label('0', 2, h - 22),
    label(points[0] ? points[0].at.slice(11, 16) : '', 30, h - 4),
    label(last ? last.at.slice(11, 16) : '', w - 50, h - 4),
  );
  return svg;
}

/** @param {string} id @param {string} status */
async function setStatus(id, status) {
  await act(`/api/agents/${encodeURIComponent(id)}/status`, { status });
}

/** @param {Snapshot['waiting'][number]} w */
async function reroute(w) {
  const topic = select('route-topic', (await topics()).map((t) => [t, topicLabel(t)]), w.topic);
  const priority = select('route-priority', [
    ['urgent', 'Urgent'],
    ['vip', 'VIP'],
    ['standard', 'Standard'],
  ], w.priority);
  const choice = await modal(`Re-route ${w.customer_name ?? w.customer_key}`, (done) => [
    field('Topic', topic),
    field('Priority', priority),
    el('div', { class: 'row' }, [button('Apply', () => done({ topic: topic.value, priority: priority.value }), 'primary'), button('Cancel', () => done(null))]),
  ]);
  if (!choice) return;
  /** @type {Record<string, string>} */
  const change = {};
  if (choice.topic !== w.topic) change.topic = choice.topic;
  if (choice.priority !== w.priority) change.priority = choice.priority;
  if (Object.keys(change).length) await act(`/api/conversations/${encodeURIComponent(w.conversation_id)}/route`, change);
}

/** @param {string} path @param {object} body */
async function act(path, body) {
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const json = await response.json().catch(() => null);
      parts.problem.textContent = json?.error?.message ?? `HTTP ${response.status}`;
    } else {
      parts.problem.textContent = '';
    }
  } catch (error) {
    parts.problem.textContent = `The server did not answer: ${error}`;
  }
}

const saved = session?.getItem(TOKEN_KEY);
if (saved) start(saved);
else signIn();

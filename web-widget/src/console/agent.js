// @ts-check
/**
 * The agent console (`/agent`): sign in with the agent token, then the chats
 * the agent holds, the active one with its customer's context, canned
 * replies, keyboard shortcuts, alerts, and the tickets view. It renders
 * `Desk.state` and keeps no copy of a transcript.
 */

import { Alerts } from './alerts.js';
import { Desk } from './agent-state.js';
import { TOKEN_KEY, button, confirmAction, duration, el, field, modal, select, signInForm, tabStorage, topicLabel, topics } from './dom.js';
import { Tickets, ticketDetail } from './tickets.js';
import { appendText } from '../panel.js';

/** @typedef {import('./agent-state.js').HeldChat} HeldChat */
/** @typedef {{shortcut: string, title: string, text: Record<string, string>, topics: string[] | null}} Canned */

const TITLE = 'switchboard · agent console';
const TYPING_REPEAT_MS = 3_000;
const TYPING_IDLE_MS = 4_000;

/** The documented shortcuts; none fires while focus is in a text field. */
const SHORTCUTS = [
  ['j / Alt+↓', 'next chat'],
  ['k / Alt+↑', 'previous chat'],
  ['c', 'focus the composer'],
  ['Enter', 'send (in the composer; Shift+Enter: new line)'],
  ['/', 'canned replies (at the start of the composer)'],
  ['Escape', 'leave the composer, close a list or a dialog'],
  ['r', 'resolve the active chat (asks first)'],
  ['t', 'tickets view'],
  ['?', 'this list'],
];

const session = tabStorage();
const app = /** @type {HTMLElement} */ (document.getElementById('app'));
const alerts = new Alerts(TITLE);
/** @type {Desk | null} */
let desk = null;
/** @type {Canned[]} */
let canned = [];
/** @type {'chats' | 'tickets'} */
let view = 'chats';
/** @type {Tickets | null} */
let tickets = null;

const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws/agent`;

// ---------------------------------------------------------------- sign in

function showSignIn(/** @type {string} */ problem = '') {
  desk?.disconnect();
  desk = null;
  alerts.stop();
  document.title = TITLE;
  const { form, input } = signInForm(
    { title: 'Agent console', intro: 'Sign in with your agent token. It is kept for this tab only.', label: 'Agent token', problem },
    (token) => {
      // The click that signs in is the gesture that lets sound play later.
      alerts.unlock();
      start(token);
    },
  );
  app.replaceChildren(form);
  input.focus();
}

/** @param {string} token */
function start(token) {
  desk = new Desk({ urls: [wsUrl], token, session });
  desk.addEventListener('change', () => scheduleRender());
  desk.addEventListener('assigned', (e) => {
    const { id, priority } = /** @type {CustomEvent} */ (e).detail;
    const chat = desk?.state.chats.get(id);
    alerts.fire(`New chat: ${chat?.customer.name ?? chat?.customer.key ?? ''} (${topicLabel(chat?.topic ?? '')})`, {
      chat: id,
      urgent: priority === 'urgent',
    });
  });
  desk.addEventListener('customer-message', (e) => {
    const { id, priority } = /** @type {CustomEvent} */ (e).detail;
    const chat = desk?.state.chats.get(id);
    alerts.fire(`New message from ${chat?.customer.name ?? chat?.customer.key ?? 'a customer'}`, {
      chat: id,
      urgent: priority === 'urgent' && desk?.state.active !== id,
    });
  });
  desk.connect();
  tickets = new Tickets(token, (id) => openTicket(id));
  void loadCanned(token);
  void topics(); // the server's topics and their labels, for the list and the dialogs
  buildShell();
  render();
}

/** @param {string} token */
async function loadCanned(token) {
  try {
    const response = await fetch('/api/canned', { headers: { authorization: `Bearer ${token}` } });
    if (response.ok) canned = (await response.json()).canned ?? [];
  } catch {
    canned = [];
  }
}

function signOut() {
  session?.removeItem(TOKEN_KEY);
  showSignIn();
}

// ---------------------------------------------------------------- the shell

/** @type {Record<string, HTMLElement>} */
const parts = {};

function buildShell() {
  const status = select('status', [
    ['online', 'Online'],
    ['away', 'Away'],
    ['offline', 'Offline'],
  ]);
  status.addEventListener('change', () => desk?.setStatus(/** @type {any} */ (status.value)));
  parts.status = status;
  parts.who = el('span', { class: 'who' });
  parts.reason = el('span', { class: 'reason', attrs: { role: 'status' } });
  parts.connection = el('span', { class: 'connection', attrs: { role: 'status' } });
  parts.chatsTab = button('Chats', () => setView('chats'), 'tab');
  parts.ticketsTab = button('Tickets', () => setView('tickets'), 'tab');
  const header = el('header', { class: 'top' }, [
    el('span', { class: 'brand', text: 'switchboard' }),
    el('nav', { attrs: { 'aria-label': 'Views' } }, [parts.chatsTab, parts.ticketsTab]),
    parts.who,
    field('Status', status),
    parts.reason,
    parts.connection,
    button('Test alert', () => alerts.fire('Test alert: this is how a new chat sounds', { count: false }), 'ghost'),
    button('Shortcuts (?)', () => showShortcuts(), 'ghost'),
    button('Sign out', () => signOut(), 'ghost'),
  ]);
  parts.list = el('ul', { class: 'chat-list', attrs: { 'aria-label': 'Your chats' } });
  parts.chat = el('section', { class: 'chat', attrs: { 'aria-label': 'Active chat' } });
  parts.context = el('aside', { class: 'context', attrs: { 'aria-label': 'Customer' } });
  parts.chats = el('div', { class: 'desk' }, [el('nav', { class: 'list', attrs: { 'aria-label': 'Chats' } }, [parts.list]), parts.chat, parts.context]);
  parts.tickets = el('div', { class: 'tickets-view' });
  parts.problem = el('p', { class: 'problem banner', attrs: { role: 'alert' } });
  app.replaceChildren(header, parts.problem, el('main', { class: 'views' }, [parts.chats, parts.tickets]));
  renderedActive = '';
}

/** @param {'chats' | 'tickets'} next */
function setView(next) {
  view = next;
  if (view === 'tickets') tickets?.show(parts.tickets);
  render();
}

// ---------------------------------------------------------------- rendering

let renderPending = false;

/**
 * One render per frame, however many frames the server sent: a burst of
 * messages must not keep the page from reading its socket (the server closes
 * a consumer that falls behind).
 */
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  const run = () => {
    renderPending = false;
    render();
  };
  // Hidden tabs get no animation frames; they still keep their title and list current.
  if (document.visibilityState === 'visible') requestAnimationFrame(run);
  else setTimeout(run, 250);
}

let renderedActive = '';
/** @type {Map<string, HTMLElement>} */
let rows = new Map();
/**
 * Each held chat's transcript, kept built while the agent looks at another:
 * switching chats swaps one element instead of rebuilding 500 rows.
 * @type {Map<string, {log: HTMLElement, rows: Map<string, HTMLElement>}>}
 */
const transcripts = new Map();

function render() {
  if (!desk) return;
  const state = desk.state;
  if (state.refused) {
    session?.removeItem(TOKEN_KEY);
    showSignIn('This token was refused: check it and sign in again.');
    return;
  }
  if (!parts.status) return;
  /** @type {HTMLSelectElement} */ (parts.status).value = state.status;
  parts.who.textContent = state.me ? state.me.name : '';
  parts.reason.textContent =
    state.statusReason === 'first_reply_timeout'
      ? 'Set away: a new chat went unanswered.'
      : state.statusReason === 'supervisor'
        ? 'Your lead changed your status.'
        : '';
  const phase = state.connection.phase;
  parts.connection.textContent =
    navigator.onLine === false
      ? 'Offline: replies are sent when the connection is back.'
      : phase === 'waiting' || phase === 'connecting'
        ? 'Reconnecting…'
        : '';
  parts.problem.textContent = state.problem ? state.problem.message : '';
  parts.problem.hidden = !state.problem;
  parts.chatsTab.setAttribute('aria-current', String(view === 'chats'));
  parts.ticketsTab.setAttribute('aria-current', String(view === 'tickets'));
  parts.chats.hidden = view !== 'chats';
  parts.tickets.hidden = view !== 'tickets';
  renderList();
  for (const id of transcripts.keys()) if (!state.chats.has(id)) transcripts.delete(id);
  renderActive();
}

function renderList() {
  if (!desk) return;
  const now = Date.now();
  const items = desk.ordered.map((chat) => {
    const waiting = Desk.waitingSecs(chat, now);
    const last = chat.messages.at(-1);
    const marks = [];
    if (chat.priority === 'urgent') marks.push(el('span', { class: 'mark urgent', text: 'URGENT' }));
    if (chat.priority === 'vip') marks.push(el('span', { class: 'mark vip', text: 'VIP' }));
    const b = el(
      'button',
      {
        class: `chat-item${chat.id === desk?.state.active ? ' active' : ''}${chat.ended ? ' ended' : ''}`,
        attrs: { type: 'button', 'data-id': chat.id, 'aria-current': String(chat.id === desk?.state.active) },
        on: { click: () => activate(chat.id) },
      },
      [
        el('span', { class: 'line' }, [
          el('span', { class: 'name', text: chat.customer.name ?? chat.customer.key }),
          ...marks,
          chat.unread ? el('span', { class: 'unread', text: String(chat.unread), attrs: { 'aria-label': `${chat.unread} unread` } }) : null,
        ]),
        el('span', { class: 'meta', text: `${topicLabel(chat.topic)} · ${chat.language}${waiting != null ? ` · waiting ${duration(waiting)}` : ''}${chat.ended ? ' · ended' : ''}` }),
        el('span', { class: 'last', text: last ? last.text.slice(0, 80) : '' }),
      ],
    );
    return el('li', {}, [b]);
  });
  if (!items.length) items.push(el('li', { class: 'empty', text: 'No chat yet. New chats arrive here, with a sound.' }));
  parts.list.replaceChildren(...items);
}

/** @param {string} id */
function activate(id) {
  desk?.activate(id);
  alerts.seen(id);
  // Now, not at the next frame: the agent's next key goes to this chat.
  render();
  focusComposer();
}

function renderActive() {
  if (!desk) return;
  const chat = desk.state.active ? desk.state.chats.get(desk.state.active) : undefined;
  if (!chat) {
    if (renderedActive !== '') {
      parts.chat.replaceChildren(el('p', { class: 'empty', text: 'Pick a chat on the left.' }));
      parts.context.replaceChildren();
      renderedActive = '';
    }
    return;
  }
  if (renderedActive !== chat.id) buildActive(chat);
  updateActive(chat);
}

/** @type {{log: HTMLElement, typing: HTMLElement, composer: HTMLTextAreaElement, picker: HTMLElement, actions: HTMLElement, ended: HTMLElement} | null} */
let active = null;
let scrollToEnd = false;

/** @param {HeldChat} chat */
function buildActive(chat) {
  performance.mark('switchboard:switch-start');
  renderedActive = chat.id;
  let kept = transcripts.get(chat.id);
  if (!kept) {
    const fresh = el('div', { class: 'log', attrs: { role: 'log', 'aria-label': `Conversation with ${chat.customer.name ?? chat.customer.key}`, tabindex: '0' } });
    kept = { log: fresh, rows: new Map() };
    transcripts.set(chat.id, kept);
  }
  rows = kept.rows;
  const log = kept.log;
  const typing = el('p', { class: 'typing', attrs: { 'aria-live': 'polite' } });
  const composer = /** @type {HTMLTextAreaElement} */ (
    el('textarea', {
      attrs: { id: 'composer', rows: '3', placeholder: 'Reply… (/ for canned replies)', 'aria-autocomplete': 'list', 'aria-controls': 'canned' },
    })
  );
  composer.value = desk?.draft(chat.id) ?? '';
  const picker = el('ul', { class: 'canned', attrs: { id: 'canned', role: 'listbox', 'aria-label': 'Canned replies' } });
  picker.hidden = true;
  const sendButton = el('button', { class: 'primary', text: 'Send', attrs: { type: 'submit' } });
  const form = el('form', { class: 'composer' }, [el('label', { class: 'visually-hidden', text: 'Reply', attrs: { for: 'composer' } }), composer, sendButton, picker]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sendReply(chat.id, composer);
  });
  composer.addEventListener('keydown', (event) => composerKey(event, chat, composer, picker));
  composer.addEventListener('input', () => {
    desk?.setDraft(chat.id, composer.value);
    typed(chat.id, composer.value);
    updatePicker(chat, composer, picker);
  });
  composer.addEventListener('blur', () => stopTyping(chat.id));
  const actions = el('div', { class: 'actions' }, [
    button('Resolve', () => void resolveChat(chat.id), 'primary'),
    button('Transfer…', () => void transferChat(chat)),
    button('Escalate to a ticket…', () => void escalateChat(chat.id)),
  ]);
  const ended = el('div', { class: 'ended-box', attrs: { role: 'status' } });
  const head = el('div', { class: 'chat-head' }, [el('h2', { text: chat.customer.name ?? chat.customer.key }), actions]);
  parts.chat.replaceChildren(head, log, typing, ended, form);
  active = { log, typing, composer, picker, actions, ended };
  // A chat opens at its latest message.
  scrollToEnd = true;
  buildContext(chat);
  requestAnimationFrame(() => performance.measure('switchboard:switch', 'switchboard:switch-start'));
}

/** @param {HeldChat} chat */
function updateActive(chat) {
  if (!active) return;
  /** @type {Set<string>} */
  const keep = new Set();
  /** @type {HTMLElement | null} */
  let previous = null;
  const place = (/** @type {string} */ key, /** @type {() => HTMLElement} */ make) => {
    keep.add(key);
    let row = rows.get(key);
    if (!row) {
      row = make();
      rows.set(key, row);
    }
    const expected = previous ? previous.nextSibling : active?.log.firstChild ?? null;
    if (expected !== row) active?.log.insertBefore(row, expected);
    previous = row;
    return row;
  };
  const nearBottom = active.log.scrollHeight - active.log.scrollTop - active.log.clientHeight < 80;
  for (const m of chat.messages) {
    const pendingRow = m.clientMsgId ? rows.get(`p${m.clientMsgId}`) : undefined;
    if (pendingRow && !rows.has(`s${m.seq}`)) {
      pendingRow.remove();
      rows.delete(`p${m.clientMsgId}`);
    }
    place(`s${m.seq}`, () => messageRow(m.from, m.text, m.from === 'agent' ? 'Delivered' : ''));
  }
  for (const p of chat.pending) {
    const row = place(`p${p.clientMsgId}`, () => messageRow('agent', p.text, ''));
    const state = /** @type {HTMLElement} */ (row.querySelector('.state'));
    const label = p.state === 'failed' ? `Not sent: ${p.error ?? ''}` : p.state === 'retrying' || !desk?.client.isOpen ? 'Waiting to send…' : 'Sending…';
    if (state.textContent !== label) state.textContent = label;
    row.classList.add('pending');
  }
  for (const [key, row] of rows) {
    if (!keep.has(key)) {
      row.remove();
      rows.delete(key);
    }
  }
  if (nearBottom || scrollToEnd) active.log.scrollTop = active.log.scrollHeight;
  scrollToEnd = false;
  const typing = chat.customerTyping ? `${chat.customer.name ?? 'The customer'} is typing…` : '';
  if (active.typing.textContent !== typing) active.typing.textContent = typing;
  const endedText = chat.ended
    ? chat.ended.reason === 'ticketed'
      ? `Ended: passed to a ticket (${chat.ended.ticketId ?? ''}).`
      : `Ended (${chat.ended.reason}).`
    : '';
  if (active.ended.textContent !== endedText) {
    active.ended.replaceChildren(endedText ? el('span', { text: endedText }) : '', chat.ended ? button('Close this chat', () => desk?.dismiss(chat.id)) : '');
  }
  for (const b of active.actions.querySelectorAll('button')) /** @type {HTMLButtonElement} */ (b).disabled = Boolean(chat.ended);
  active.composer.disabled = Boolean(chat.ended);
}

/**
 * @param {string} from
 * @param {string} text
 * @param {string} state
 */
function messageRow(from, text, state) {
  const who = from === 'customer' ? 'Customer' : from === 'agent' ? 'You' : 'Notice';
  const bubble = el('p', { class: 'bubble', attrs: { dir: 'auto' } });
  appendText(bubble, text, false);
  return el('div', { class: `msg ${from}` }, [
    el('span', { class: 'visually-hidden', text: `${who}: ` }),
    bubble,
    from === 'agent' ? el('span', { class: 'state', text: state }) : null,
  ]);
}

/** @param {HeldChat} chat */
function buildContext(chat) {
  const c = chat.customer;
  const meta = Object.entries(c.metadata ?? {});
  const facts = el('dl', { class: 'facts' }, [
    ...pair('Customer', c.key),
    ...pair('Identity', c.verified ? `verified${c.tier ? ` · ${c.tier}` : ''}` : 'not verified (visitor)'),
    ...(c.name ? pair('Name', c.name) : []),
    ...pair('Topic', topicLabel(chat.topic)),
    ...pair('Language', chat.language),
    ...pair('Priority', chat.priority),
    ...meta.flatMap(([k, v]) => pair(k === 'uid' ? 'UID' : k === 'txid' ? 'TxID' : k, String(v))),
  ]);
  const earlier = el('ul', { class: 'earlier' }, [el('li', { text: 'Loading earlier tickets…' })]);
  parts.context.replaceChildren(el('h2', { text: 'Customer' }), facts, el('h3', { text: 'Earlier tickets' }), earlier);
  void tickets?.forCustomer(c.key).then((list) => {
    if (renderedActive !== chat.id) return;
    earlier.replaceChildren(
      ...(list.length
        ? list.map((t) => el('li', {}, [button(`${topicLabel(t.topic)} · ${t.status} · ${t.created_at.slice(0, 10)}`, () => openTicket(t.id), 'link')]))
        : [el('li', { text: 'None.' })]),
    );
  });
}

/** @param {string} term @param {string} value */
function pair(term, value) {
  return [el('dt', { text: term }), el('dd', { text: value })];
}

/** @param {string} id */
async function openTicket(id) {
  if (!tickets) return;
  const ticket = await tickets.get(id);
  if (!ticket) return;
  await modal(`Ticket ${id.slice(-12).toUpperCase()}`, (done) => [ticketDetail(ticket, /** @type {Tickets} */ (tickets), desk?.state.me?.id), button('Close', () => done(null))]);
}

// ---------------------------------------------------------------- composing

let typingSentAt = 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let typingIdle;

/** @param {string} id @param {string} value */
function typed(id, value) {
  clearTimeout(typingIdle);
  if (!value.trim() || value.startsWith('/')) {
    stopTyping(id);
    return;
  }
  if (Date.now() - typingSentAt > TYPING_REPEAT_MS) {
    typingSentAt = Date.now();
    desk?.typing(id, true);
  }
  typingIdle = setTimeout(() => stopTyping(id), TYPING_IDLE_MS);
}

/** @param {string} id */
function stopTyping(id) {
  clearTimeout(typingIdle);
  if (typingSentAt) {
    typingSentAt = 0;
    desk?.typing(id, false);
  }
}

/** @param {string} id @param {HTMLTextAreaElement} composer */
function sendReply(id, composer) {
  if (!composer.value.trim()) return;
  desk?.send(id, composer.value);
  composer.value = '';
  stopTyping(id);
}

/**
 * @param {HeldChat} chat
 * @param {HTMLTextAreaElement} composer
 */
function cannedFor(chat, composer) {
  const query = composer.value.slice(1).toLowerCase();
  return canned.filter(
    (c) =>
      (!c.topics || c.topics.includes(chat.topic)) &&
      (c.shortcut.startsWith(query) || c.title.toLowerCase().includes(query)),
  );
}

/**
 * @param {HeldChat} chat
 * @param {HTMLTextAreaElement} composer
 * @param {HTMLElement} picker
 */
function updatePicker(chat, composer, picker) {
  const open = composer.value.startsWith('/') && !composer.value.includes('\n');
  const matches = open ? cannedFor(chat, composer) : [];
  picker.replaceChildren(
    ...matches.map((c, i) =>
      el(
        'li',
        {
          attrs: { role: 'option', id: `canned-${i}`, 'aria-selected': String(i === 0), 'data-shortcut': c.shortcut },
          on: { mousedown: (e) => e.preventDefault(), click: () => insertCanned(chat, composer, picker, c) },
        },
        [el('strong', { text: `/${c.shortcut}` }), el('span', { text: ` ${c.title}` })],
      ),
    ),
  );
  picker.hidden = matches.length === 0;
  if (matches.length) composer.setAttribute('aria-activedescendant', 'canned-0');
  else composer.removeAttribute('aria-activedescendant');
}

/**
 * @param {HeldChat} chat
 * @param {HTMLTextAreaElement} composer
 * @param {HTMLElement} picker
 * @param {Canned} reply
 */
function insertCanned(chat, composer, picker, reply) {
  const text = reply.text[chat.language] ?? reply.text.en ?? Object.values(reply.text)[0] ?? '';
  composer.value = text
    .replaceAll('{customer_name}', chat.customer.name ?? 'there')
    .replaceAll('{agent_name}', desk?.state.me?.name ?? '')
    .replaceAll('{topic}', topicLabel(chat.topic).toLowerCase());
  desk?.setDraft(chat.id, composer.value);
  picker.hidden = true;
  composer.removeAttribute('aria-activedescendant');
  composer.focus();
}

/**
 * @param {KeyboardEvent} event
 * @param {HeldChat} chat
 * @param {HTMLTextAreaElement} composer
 * @param {HTMLElement} picker
 */
function composerKey(event, chat, composer, picker) {
  if (!picker.hidden) {
    const options = [...picker.querySelectorAll('[role=option]')];
    const current = options.findIndex((o) => o.getAttribute('aria-selected') === 'true');
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = (current + (event.key === 'ArrowDown' ? 1 : -1) + options.length) % options.length;
      options.forEach((o, i) => o.setAttribute('aria-selected', String(i === next)));
      composer.setAttribute('aria-activedescendant', options[next].id);
      return;
    }
    if (event.key === 'Enter' || event.key === 'Tab') {
      event.preventDefault();
      const shortcut = options[Math.max(0, current)]?.getAttribute('data-shortcut');
      const reply = canned.find((c) => c.shortcut === shortcut);
      if (reply) insertCanned(chat, composer, picker, reply);
      return;
    }
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      picker.hidden = true;
      composer.removeAttribute('aria-activedescendant');
      return;
    }
  }
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendReply(chat.id, composer);
  } else if (event.key === 'Escape') {
    composer.blur();
    active?.log.focus();
  }
}

function focusComposer() {
  requestAnimationFrame(() => active?.composer.focus());
}

// ---------------------------------------------------------------- actions

/** @param {string} id */
async function resolveChat(id) {
  if (await confirmAction('Resolve this chat? The customer is asked to rate it.', 'Resolve')) desk?.resolve(id);
}

/** @param {HeldChat} chat */
async function transferChat(chat) {
  const topic = select('transfer-topic', (await topics()).filter((t) => t !== chat.topic).map((t) => [t, topicLabel(t)]));
  const priority = select('transfer-priority', [
    ['', 'Keep its priority'],
    ['urgent', 'Urgent'],
    ['vip', 'VIP'],
    ['standard', 'Standard'],
  ]);
  const choice = await modal('Transfer this chat', (done) => [
    field('To the team for', topic),
    field('Priority', priority),
    el('div', { class: 'row' }, [button('Transfer', () => done({ topic: topic.value, priority: priority.value || null }), 'primary'), button('Cancel', () => done(null))]),
  ]);
  if (choice) desk?.transfer(chat.id, choice.topic, choice.priority);
}

/** @param {string} id */
async function escalateChat(id) {
  const note = /** @type {HTMLTextAreaElement} */ (el('textarea', { attrs: { id: 'escalate-note', rows: '4', required: '' } }));
  const problem = el('p', { class: 'problem', attrs: { role: 'alert' } });
  const text = await modal('Escalate to a ticket', (done) => [
    el('p', { text: 'The chat ends and becomes a ticket with its transcript; the customer is told the answer will come by email. This cannot be undone.' }),
    field('Note for the ticket team', note),
    problem,
    el('div', { class: 'row' }, [
      button(
        'Escalate',
        () => {
          if (note.value.trim()) done(note.value.trim());
          else problem.textContent = 'Write a note: what should the ticket team do?';
        },
        'primary',
      ),
      button('Cancel', () => done(null)),
    ]),
  ]);
  if (text) desk?.escalate(id, text);
}

function showShortcuts() {
  void modal('Keyboard shortcuts', (done) => [
    el('dl', { class: 'shortcuts' }, SHORTCUTS.flatMap(([k, what]) => [el('dt', {}, [el('kbd', { text: k })]), el('dd', { text: what })])),
    button('Close', () => done(null), 'primary'),
  ]);
}

// ---------------------------------------------------------------- keyboard

document.addEventListener('keydown', (event) => {
  if (!desk || document.querySelector('dialog[open]')) return;
  const target = /** @type {HTMLElement} */ (event.target);
  const typing = target.closest('input, textarea, select, [contenteditable]') !== null;
  const chats = desk.ordered;
  const index = chats.findIndex((c) => c.id === desk?.state.active);
  const move = (/** @type {number} */ step) => {
    const next = chats[(index + step + chats.length) % chats.length];
    if (next) {
      desk?.activate(next.id);
      alerts.seen(next.id);
      render();
      /** @type {HTMLElement | null} */ (parts.list.querySelector(`[data-id="${next.id}"]`))?.focus();
    }
  };
  if (event.altKey && (event.key === 'ArrowDown' || event.key === 'ArrowUp')) {
    event.preventDefault();
    move(event.key === 'ArrowDown' ? 1 : -1);
    return;
  }
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const actions = /** @type {Record<string, () => void>} */ ({
    j: () => move(1),
    k: () => move(-1),
    c: () => active?.composer.focus(),
    r: () => desk?.state.active && void resolveChat(desk.state.active),
    t: () => setView(view === 'tickets' ? 'chats' : 'tickets'),
    '?': () => showShortcuts(),
  });
  const action = actions[event.key];
  if (action) {
    event.preventDefault();
    action();
  }
});

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') {
    alerts.clearCount();
    if (desk?.state.active) desk.activate(desk.state.active);
  }
});
window.addEventListener('focus', () => alerts.clearCount());
window.addEventListener('online', () => {
  desk?.client.wake();
  scheduleRender();
});
window.addEventListener('offline', () => scheduleRender());
// The waiting times in the list move on their own.
setInterval(() => view === 'chats' && renderList(), 15_000);

const saved = session?.getItem(TOKEN_KEY);
if (saved) start(saved);
else showSignIn();

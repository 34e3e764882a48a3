// @ts-check
/**
 * The tickets view of the console: the tickets this agent sees (REST, paged
 * by cursor, filtered by status and topic), one ticket with its transcripts
 * and notes, and what an agent does to it: a note, taking it, closing it.
 */

import { button, el, field, select, topicLabel, topics } from './dom.js';

/**
 * @typedef {object} TicketSummary
 * @property {string} id
 * @property {string} topic
 * @property {string} status
 * @property {string} priority
 * @property {string | null} assignee
 * @property {{key: string, name: string | null}} customer
 * @property {string} created_at
 * @property {string} updated_at
 * @property {number} messages
 */

/**
 * @typedef {TicketSummary & {
 *   reason: string,
 *   notes: {author: string, text: string, at: string}[],
 *   conversations: {conversation_id: string, reason: string, transcript: {seq: number, from: string, text: string}[]}[]
 * }} Ticket
 */

export class Tickets {
  /**
   * @param {string} token
   * @param {(id: string) => void} open
   */
  constructor(token, open) {
    this.token = token;
    this.open = open;
    /** @type {string | null} */
    this.cursor = null;
    /** @type {HTMLElement | null} */
    this.root = null;
    this.status = select('ticket-status', [
      ['', 'Any status'],
      ['open', 'Open'],
      ['pending', 'Pending'],
      ['closed', 'Closed'],
    ]);
    this.topic = select('ticket-topic', [['', 'Any topic']]);
    void topics().then((list) => {
      for (const t of list) this.topic.append(el('option', { text: topicLabel(t), attrs: { value: t } }));
    });
    this.body = el('tbody');
    this.more = button('Load more', () => void this.page(false));
    this.note = el('p', { class: 'muted', attrs: { role: 'status' } });
    for (const s of [this.status, this.topic]) s.addEventListener('change', () => void this.page(true));
  }

  /** @param {HTMLElement} root */
  show(root) {
    if (this.root !== root) {
      this.root = root;
      const table = el('table', { class: 'tickets' }, [
        el('caption', { class: 'visually-hidden', text: 'Tickets' }),
        el('thead', {}, [
          el('tr', {}, ['Ticket', 'Topic', 'Status', 'Customer', 'Assignee', 'Updated', 'Messages'].map((h) => el('th', { text: h, attrs: { scope: 'col' } }))),
        ]),
        this.body,
      ]);
      root.replaceChildren(
        el('h2', { text: 'Tickets' }),
        el('div', { class: 'filters' }, [field('Status', this.status), field('Topic', this.topic)]),
        table,
        this.note,
        this.more,
      );
    }
    void this.page(true);
  }

  /** @param {boolean} fresh */
  async page(fresh) {
    if (fresh) this.cursor = null;
    else if (!this.cursor) return; // the last page is shown
    const query = new URLSearchParams({ limit: '50' });
    if (this.status.value) query.set('status', this.status.value);
    if (this.topic.value) query.set('topic', this.topic.value);
    if (this.cursor) query.set('cursor', this.cursor);
    const answer = await this.call(`/api/tickets?${query}`);
    if (!answer) return;
    const rows = answer.tickets.map((/** @type {TicketSummary} */ t) =>
      el('tr', {}, [
        el('td', {}, [button(t.id.slice(-12).toUpperCase(), () => this.open(t.id), 'link')]),
        el('td', { text: topicLabel(t.topic) }),
        el('td', { text: t.status }),
        el('td', { text: t.customer.name ?? t.customer.key }),
        el('td', { text: t.assignee ?? '—' }),
        el('td', { text: t.updated_at.slice(0, 16).replace('T', ' ') }),
        el('td', { text: String(t.messages) }),
      ]),
    );
    if (fresh) this.body.replaceChildren(...rows);
    else this.body.append(...rows);
    this.cursor = answer.next_cursor;
    this.more.hidden = !this.cursor;
    this.note.textContent = this.body.children.length ? `${this.body.children.length} shown` : 'No ticket matches.';
  }

  /** @param {string} customer @returns {Promise<TicketSummary[]>} */
  async forCustomer(customer) {
    const answer = await this.call(`/api/tickets?${new URLSearchParams({ customer, limit: '20' })}`);
    return answer?.tickets ?? [];
  }

  /** @param {string} id @returns {Promise<Ticket | null>} */
  async get(id) {
    return this.call(`/api/tickets/${encodeURIComponent(id)}`);
  }

  /** @param {string} id @param {object} change @returns {Promise<Ticket | null>} */
  async update(id, change) {
    return this.call(`/api/tickets/${encodeURIComponent(id)}`, { method: 'PATCH', body: JSON.stringify(change) });
  }

  /**
   * @param {string} path
   * @param {RequestInit} [init]
   */
  async call(path, init = {}) {
    try {
      const response = await fetch(path, {
        ...init,
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
      });
      const json = await response.json();
      if (!response.ok) {
        this.note.textContent = json?.error?.message ?? `HTTP ${response.status}`;
        return null;
      }
      return json;
    } catch (error) {
      this.note.textContent = `The server did not answer: ${error}`;
      return null;
    }
  }
}

/**
 * One ticket: its facts, each conversation's transcript, its notes, and the
 * agent's actions on it.
 * @param {Ticket} ticket
 * @param {Tickets} tickets
 * @param {string} [me] this agent's id, for "take it"
 */
export function ticketDetail(ticket, tickets, me) {
  const box = el('div', { class: 'ticket-detail' });
  const problem = el('p', { class: 'problem', attrs: { role: 'alert' } });
  const draw = (/** @type {Ticket} */ t) => {
    const note = /** @type {HTMLTextAreaElement} */ (el('textarea', { attrs: { id: 'ticket-note', rows: '3' } }));
    const act = async (/** @type {object} */ change) => {
      const updated = await tickets.update(t.id, change);
      if (updated) draw(updated);
      else problem.textContent = tickets.note.textContent ?? '';
    };
    box.replaceChildren(
      el('dl', { class: 'facts' }, [
        ...[
          ['Topic', topicLabel(t.topic)],
          ['Status', t.status],
          ['Reason', t.reason],
          ['Priority', t.priority],
          ['Customer', t.customer.name ?? t.customer.key],
          ['Assignee', t.assignee ?? '—'],
        ].flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
      ]),
      ...t.conversations.map((c) =>
        el('section', { class: 'transcript' }, [
          el('h3', { text: `Chat ${c.conversation_id.slice(-8)} · ${c.reason}` }),
          el(
            'ol',
            {},
            c.transcript.map((m) => el('li', { class: `msg ${m.from}` }, [el('span', { class: 'from', text: `${m.from}: ` }), el('span', { text: m.text, attrs: { dir: 'auto' } })])),
          ),
        ]),
      ),
      el('h3', { text: 'Notes' }),
      el(
        'ul',
        { class: 'notes' },
        t.notes.length ? t.notes.map((n) => el('li', {}, [el('strong', { text: `${n.author}: ` }), el('span', { text: n.text })])) : [el('li', { text: 'None yet.' })],
      ),
      field('Add a note (never shown to the customer)', note),
      problem,
      el('div', { class: 'row' }, [
        button('Add note', () => note.value.trim() && void act({ note: note.value.trim() }), 'primary'),
        me && t.assignee !== me ? button('Take it', () => void act({ assignee: me })) : null,
        t.status !== 'closed' ? button('Close ticket', () => void act({ status: 'closed' })) : null,
      ]),
    );
  };
  draw(ticket);
  return box;
}

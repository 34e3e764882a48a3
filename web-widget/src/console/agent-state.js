// @ts-check
/**
 * The agent's desk as a state object, fed by the server's frames through the
 * shared protocol client: who the agent is, its status, and every chat it
 * holds with its transcript. No DOM: the console renders `desk.state` on
 * every `change`, and keeps no copy of its own.
 *
 * What survives a reload: the token (sessionStorage, this tab only), and per
 * chat the epoch and the drafts (sessionStorage). Transcripts come back from
 * the server: every `hello` resumes every held chat from the last `seq` this
 * page holds (0 after a reload: the whole transcript).
 */

import { ProtocolClient, randomId } from '../protocol-client.js';
import { insertBySeq } from '../chat.js';

/** @typedef {import('../protocol-client.js').Frame} Frame */
/** @typedef {import('../protocol-client.js').ConnectionStatus} ConnectionStatus */
/** @typedef {import('../protocol-client.js').DeliveryState} DeliveryState */
/** @typedef {import('../chat.js').Message} Message */

/**
 * @typedef {object} CustomerRef
 * @property {string} key
 * @property {boolean} verified
 * @property {string | null} name
 * @property {string | null} [tier]
 * @property {Record<string, string>} metadata
 */

/**
 * @typedef {object} PendingReply
 * @property {string} clientMsgId
 * @property {string} text
 * @property {DeliveryState} state
 * @property {string} [error]
 */

/**
 * @typedef {object} HeldChat
 * @property {string} id
 * @property {CustomerRef} customer
 * @property {string} topic
 * @property {string} language
 * @property {string} priority
 * @property {number} epoch
 * @property {Message[]} messages
 * @property {PendingReply[]} pending
 * @property {boolean} customerTyping
 * @property {number} unread customer messages not seen in the active view
 * @property {number} assignedAt ms, when this page learnt of it (the list's order)
 * @property {{reason: string, ticketId: string | null} | null} ended
 */

/**
 * @typedef {object} DeskState
 * @property {ConnectionStatus} connection
 * @property {{id: string, name: string, capacity: number, skills: string[], languages: string[]} | null} me
 * @property {'online' | 'away' | 'offline'} status
 * @property {string | null} statusReason why the server set it, if it did
 * @property {Map<string, HeldChat>} chats
 * @property {string | null} active
 * @property {{code: string, message: string} | null} problem
 * @property {boolean} refused the token was refused
 */

const DRAFTS_KEY = 'switchboard:console:drafts';
const EPOCHS_KEY = 'switchboard:console:epochs';
const TYPING_CLEAR_MS = 6_000;

/**
 * @typedef {object} DeskOptions
 * @property {string[]} urls `…/ws/agent` URLs
 * @property {string} token
 * @property {Storage | null} [session]
 * @property {{new (url: string): WebSocket}} [WebSocket]
 */

export class Desk extends EventTarget {
  /** @param {DeskOptions} options */
  constructor(options) {
    super();
    this.token = options.token;
    this.session = options.session ?? null;
    /** @type {Record<string, string>} */
    this.drafts = this.load(DRAFTS_KEY);
    /** @type {Record<string, number>} */
    this.epochs = this.load(EPOCHS_KEY);
    /** @type {Map<string, ReturnType<typeof setTimeout>>} */
    this.typingTimers = new Map();
    /** @type {DeskState} */
    this.state = {
      connection: { phase: 'idle', attempt: 0, url: options.urls[0], retryInMs: 0 },
      me: null,
      status: 'offline',
      statusReason: null,
      chats: new Map(),
      active: null,
      problem: null,
      refused: false,
    };
    this.client = new ProtocolClient({
      urls: options.urls,
      WebSocket: options.WebSocket,
      hello: () => this.hello(),
      onFrame: (frame) => this.receive(frame),
      onStatus: (status) => {
        this.state.connection = status;
        if (status.phase === 'refused') this.state.refused = true;
        this.changed();
      },
      onDelivery: (key, state, error) => this.delivery(key, state, error),
    });
  }

  connect() {
    this.client.start();
  }

  disconnect() {
    this.client.stop();
  }

  /** Chats in the list's order: the newest assignment first. */
  get ordered() {
    return [...this.state.chats.values()].sort((a, b) => b.assignedAt - a.assignedAt);
  }

  /** @param {string | null} id */
  activate(id) {
    this.state.active = id;
    const chat = id ? this.state.chats.get(id) : null;
    if (chat) chat.unread = 0;
    this.changed();
  }

  /** @param {'online' | 'away' | 'offline'} status */
  setStatus(status) {
    this.client.sendReliably(`status:${randomId('')}`, { type: 'status', status }, (f) => f.type === 'status' && f.status === status);
  }

  /** @param {string} id @param {string} text */
  send(id, text) {
    const chat = this.state.chats.get(id);
    const body = text.trim();
    if (!chat || !body || chat.ended) return;
    const key = randomId('a-');
    chat.pending.push({ clientMsgId: key, text: body, state: 'queued' });
    this.client.sendReliably(
      key,
      { type: 'message', conversation_id: id, client_msg_id: key, text: body },
      (f) => f.type === 'message' && f.from === 'agent' && f.client_msg_id === key,
    );
    this.setDraft(id, '');
    this.changed();
  }

  /** @param {string} id @param {boolean} on */
  typing(id, on) {
    this.client.sendIfOpen({ type: 'typing', conversation_id: id, on });
  }

  /** @param {string} id */
  resolve(id) {
    this.endWith(id, { type: 'resolve', conversation_id: id });
  }

  /** @param {string} id @param {string} note */
  escalate(id, note) {
    this.endWith(id, { type: 'escalate', conversation_id: id, note });
  }

  /** @param {string} id @param {string} topic @param {string | null} priority */
  transfer(id, topic, priority) {
    /** @type {Frame} */
    const frame = { type: 'transfer', conversation_id: id, topic };
    if (priority) frame.priority = priority;
    this.client.sendReliably(`transfer:${id}`, frame, (f) => (f.type === 'unassigned' || f.type === 'assigned' || f.type === 'ended') && f.conversation_id === id);
  }

  /** @param {string} id @param {Frame} frame */
  endWith(id, frame) {
    this.client.sendReliably(`${frame.type}:${id}`, frame, (f) => f.type === 'ended' && f.conversation_id === id);
  }

  /** Forget an ended chat the agent has read. @param {string} id */
  dismiss(id) {
    this.state.chats.delete(id);
    if (this.state.active === id) this.state.active = this.ordered[0]?.id ?? null;
    this.changed();
  }

  /** @param {string} id */
  draft(id) {
    return this.drafts[id] ?? '';
  }

  /** @param {string} id @param {string} text */
  setDraft(id, text) {
    if (text) this.drafts[id] = text;
    else delete this.drafts[id];
    this.save(DRAFTS_KEY, this.drafts);
  }

  // ---- frames ----

  /** @returns {Frame} */
  hello() {
    const resume = [...this.state.chats.values()]
      .filter((c) => !c.ended)
      .map((c) => ({ conversation_id: c.id, last_seq: c.messages.at(-1)?.seq ?? 0, epoch: c.epoch }));
    return { type: 'hello', token: this.token, resume };
  }

  /** @param {Frame} frame */
  receive(frame) {
    switch (frame.type) {
      case 'welcome':
        this.state.me = frame.agent;
        this.state.status = frame.agent.status;
        this.state.statusReason = null;
        this.state.refused = false;
        for (const c of frame.conversations ?? []) this.hold(c, c.customer, []);
        break;
      case 'assigned': {
        const fresh = !this.state.chats.has(frame.conversation_id) || this.state.chats.get(frame.conversation_id)?.ended;
        this.hold({ id: frame.conversation_id, topic: frame.topic, language: frame.language, priority: frame.priority }, frame.customer, frame.transcript ?? []);
        if (fresh) this.emit('assigned', { id: frame.conversation_id, priority: frame.priority });
        break;
      }
      case 'message': {
        const chat = this.state.chats.get(frame.conversation_id);
        if (!chat) break;
        const message = toMessage(frame);
        if (!insertBySeq(chat.messages, message)) break;
        if (message.from === 'agent' && message.clientMsgId) {
          chat.pending = chat.pending.filter((p) => p.clientMsgId !== message.clientMsgId);
        }
        if (message.from === 'customer') {
          chat.customerTyping = false;
          if (this.state.active !== chat.id || !this.visible()) {
            chat.unread += 1;
            this.emit('customer-message', { id: chat.id, priority: chat.priority });
          }
        }
        break;
      }
      case 'typing': {
        const chat = this.state.chats.get(frame.conversation_id);
        if (!chat || frame.from !== 'customer') break;
        chat.customerTyping = Boolean(frame.on);
        clearTimeout(this.typingTimers.get(chat.id));
        if (frame.on) {
          this.typingTimers.set(
            chat.id,
            setTimeout(() => {
              chat.customerTyping = false;
              this.changed();
            }, TYPING_CLEAR_MS),
          );
        }
        break;
      }
      case 'ended': {
        const chat = this.state.chats.get(frame.conversation_id);
        if (chat) {
          chat.ended = { reason: frame.reason, ticketId: frame.ticket_id ?? null };
          chat.customerTyping = false;
          for (const p of chat.pending) this.client.discard(p.clientMsgId);
          chat.pending = [];
        }
        break;
      }
      case 'unassigned': {
        this.state.chats.delete(frame.conversation_id);
        if (this.state.active === frame.conversation_id) this.state.active = this.ordered[0]?.id ?? null;
        break;
      }
      case 'status':
        this.state.status = frame.status;
        this.state.statusReason = frame.reason ?? null;
        break;
      case 'resync': {
        const chat = this.state.chats.get(frame.conversation_id);
        if (chat) {
          chat.messages = [];
          chat.epoch = frame.epoch;
          this.epochs[chat.id] = frame.epoch;
          this.save(EPOCHS_KEY, this.epochs);
        }
        break;
      }
      case 'error':
        if (frame.code === 'rate_limited' || frame.code === 'unavailable' || frame.code === 'unauthorized') break;
        // A reply it refused is marked by `delivery`; anything else is shown.
        if (!this.pendingReply(frame.ref)) this.state.problem = { code: frame.code, message: String(frame.message ?? '') };
        break;
      default:
        break;
    }
    this.changed();
  }

  /**
   * @param {{id: string, topic: string, language: string, priority: string, epoch?: number}} c
   * @param {CustomerRef} customer
   * @param {any[]} transcript
   */
  hold(c, customer, transcript) {
    let chat = this.state.chats.get(c.id);
    if (!chat || chat.ended) {
      chat = {
        id: c.id,
        customer,
        topic: c.topic,
        language: c.language,
        priority: c.priority,
        epoch: c.epoch ?? this.epochs[c.id] ?? 0,
        messages: [],
        pending: [],
        customerTyping: false,
        unread: 0,
        assignedAt: Date.now(),
        ended: null,
      };
      this.state.chats.set(c.id, chat);
    }
    chat.customer = customer;
    chat.topic = c.topic;
    chat.language = c.language;
    chat.priority = c.priority;
    if (c.epoch != null) {
      chat.epoch = c.epoch;
      this.epochs[c.id] = c.epoch;
      this.save(EPOCHS_KEY, this.epochs);
    }
    for (const m of transcript) insertBySeq(chat.messages, toMessage(m));
    if (!this.state.active) this.state.active = chat.id;
  }

  /** The reply still on its way under this key. @param {unknown} key */
  pendingReply(key) {
    for (const chat of this.state.chats.values()) {
      const p = chat.pending.find((x) => x.clientMsgId === key);
      if (p) return p;
    }
    return undefined;
  }

  /** @param {string} key @param {DeliveryState} state @param {Frame} [error] */
  delivery(key, state, error) {
    const p = this.pendingReply(key);
    if (p) {
      p.state = state;
      if (error && state === 'failed') p.error = String(error.message ?? error.code);
    }
    if (state === 'failed' && error && !key.startsWith('a-')) {
      this.state.problem = { code: error.code, message: String(error.message ?? '') };
    }
    this.changed();
  }

  /**
   * Seconds since the customer's oldest message not yet answered by an agent
   * (null when the agent spoke last).
   * @param {HeldChat} chat
   * @param {number} now ms
   */
  static waitingSecs(chat, now) {
    let since = null;
    for (let i = chat.messages.length - 1; i >= 0; i -= 1) {
      const m = chat.messages[i];
      if (m.from === 'agent') break;
      if (m.from === 'customer') since = m.ts;
    }
    return since ? Math.max(0, Math.floor((now - Date.parse(since)) / 1000)) : null;
  }

  visible() {
    return typeof document === 'undefined' || document.visibilityState === 'visible';
  }

  /** @param {string} key */
  load(key) {
    try {
      return JSON.parse(this.session?.getItem(key) ?? '{}') ?? {};
    } catch {
      return {};
    }
  }

  /** @param {string} key @param {object} value */
  save(key, value) {
    try {
      this.session?.setItem(key, JSON.stringify(value));
    } catch {
      // Storage blocked: drafts then last as long as the page.
    }
  }

  /** @param {string} name @param {object} detail */
  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }
}

/** @param {any} frame @returns {Message} */
function toMessage(frame) {
  return {
    seq: frame.seq,
    from: frame.from,
    text: String(frame.text ?? ''),
    ts: frame.ts,
    clientMsgId: frame.client_msg_id ?? null,
  };
}

// @ts-check
/**
 * The customer's chat as a state object, fed by the server's frames through
 * the protocol client. No DOM: the panel renders `chat.state` on every
 * `change`, and keeps no copy of its own.
 *
 * What survives a reload lives in `localStorage` (shared by the visitor's
 * tabs): the visitor id and the open conversation's id and epoch. What this tab
 * has typed and the server has not acknowledged lives in `sessionStorage`, so
 * a reload sends it again with the same `client_msg_id` (stored once).
 */

import { ProtocolClient, randomId } from './protocol-client.js';

/** @typedef {import('./protocol-client.js').Frame} Frame */
/** @typedef {import('./protocol-client.js').ConnectionStatus} ConnectionStatus */
/** @typedef {import('./protocol-client.js').DeliveryState} DeliveryState */

/**
 * @typedef {object} Message
 * @property {number} seq
 * @property {'customer' | 'agent' | 'system'} from
 * @property {string} text
 * @property {string} ts
 * @property {string | null} clientMsgId
 */

/**
 * A message the customer typed that the server has not echoed yet.
 * @typedef {object} PendingMessage
 * @property {string} clientMsgId
 * @property {string} text
 * @property {DeliveryState} state
 * @property {string} [error] why it failed for good
 */

/**
 * @typedef {object} Conversation
 * @property {string} id
 * @property {'queued' | 'assigned' | 'ended'} state
 * @property {string} topic
 * @property {number} epoch
 * @property {{id: string, name: string} | null} agent
 * @property {Message[]} messages in `seq` order, each `seq` once
 * @property {{position: number, eta: number | null} | null} queue
 * @property {{position: number, eta: number} | null} overflow the surge offer, while queued
 * @property {{reason: string, ticketId: string | null} | null} ended
 * @property {number | null} rating
 */

/**
 * @typedef {object} ChatState
 * @property {ConnectionStatus} connection
 * @property {boolean} welcomed at least one `welcome` on this page
 * @property {string | null} customerKey
 * @property {Conversation | null} conversation the one shown: the open one, or the last ended
 * @property {PendingMessage[]} pending
 * @property {{topic: string, language: string, reason: string} | null} offline the `offline` offer
 * @property {boolean} agentTyping
 * @property {number} unread agent messages not seen (panel closed)
 * @property {{code: string, message: string} | null} problem the last refusal worth showing
 * @property {boolean} busy a start, close, rate or leave_message is on its way
 */

const STORE_KEY = 'switchboard:v1';
const OUTBOX_KEY = 'switchboard:v1:outbox';
const TYPING_CLEAR_MS = 6_000;

/**
 * @typedef {object} Persisted
 * @property {string} visitorId
 * @property {{id: string, epoch: number, customerKey: string | null, seen?: number} | null} open
 *   `seen`: the last `seq` shown with the panel open, so a reload does not count
 *   the replayed transcript as unread
 */

/**
 * @typedef {object} ChatOptions
 * @property {string[]} urls `…/ws/customer` URLs
 * @property {Storage | null} [local] localStorage (null where it is blocked)
 * @property {Storage | null} [session] sessionStorage
 * @property {string | null} [identity] the exchange's signed identity token
 * @property {{new (url: string): WebSocket}} [WebSocket]
 * @property {Partial<import('./protocol-client.js').Timing>} [timing]
 */

/** Whether storage is readable: privacy modes and sandboxed frames throw. */
export function openStorage(/** @type {() => Storage} */ get) {
  try {
    const storage = get();
    storage.getItem(STORE_KEY);
    return storage;
  } catch {
    return null;
  }
}

/** @param {Storage | null} local @returns {Persisted | null} */
export function readPersisted(local) {
  try {
    const raw = local?.getItem(STORE_KEY);
    const value = raw ? JSON.parse(raw) : null;
    return value && typeof value.visitorId === 'string' ? value : null;
  } catch {
    return null;
  }
}

export class Chat extends EventTarget {
  /** @param {ChatOptions} options */
  constructor(options) {
    super();
    this.local = options.local ?? null;
    this.session = options.session ?? null;
    this.identity = options.identity ?? null;
    const saved = readPersisted(this.local);
    /** @type {Persisted} */
    this.persisted = saved ?? { visitorId: randomId('v-'), open: null };
    this.panelOpen = false;
    /** The last `seq` this page holds of the open conversation; 0 = send me all. */
    this.heldSeq = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.typingTimer = undefined;
    /** What to do with the first message once the server answers a text-less start. */
    /** @type {{text: string, clientMsgId: string} | null} */
    this.afterStart = null;
    /** @type {ChatState} */
    this.state = {
      connection: { phase: 'idle', attempt: 0, url: options.urls[0], retryInMs: 0 },
      welcomed: false,
      customerKey: null,
      conversation: null,
      pending: [],
      offline: null,
      agentTyping: false,
      unread: 0,
      problem: null,
      busy: false,
    };
    this.client = new ProtocolClient({
      urls: options.urls,
      WebSocket: options.WebSocket,
      timing: options.timing,
      hello: () => this.hello(),
      onFrame: (frame) => this.receive(frame),
      onStatus: (status) => {
        this.state.connection = status;
        this.changed();
      },
      onDelivery: (key, state, error) => this.delivery(key, state, error),
    });
    this.restoreOutbox();
  }

  /** Whether a conversation of this visitor was open when the page was last here. */
  get hasOpenConversation() {
    return this.persisted.open !== null;
  }

  connect() {
    this.persist();
    this.client.start();
  }

  disconnect() {
    this.client.stop();
  }

  /** @param {string | null} token */
  setIdentity(token) {
    if (token === this.identity) return;
    this.identity = token;
    // A new customer key: what was open belongs to the old one.
    this.persisted.open = null;
    this.heldSeq = 0;
    this.state.conversation = null;
    this.persist();
    if (this.client.status.phase !== 'idle' && this.client.status.phase !== 'stopped') {
      this.client.reconnect();
    }
    this.changed();
  }

  /** @param {boolean} open */
  setPanelOpen(open) {
    this.panelOpen = open;
    if (open) this.markSeen(this.heldSeq);
    if (open && this.state.unread) {
      this.state.unread = 0;
      this.emit('unread', { count: 0 });
    }
    this.changed();
  }

  /**
   * Ask for a chat. With `leave`, the form knows nobody serves the topic now:
   * the `start` goes without text, and the text follows as `leave_message`
   * when the server answers `offline` (or as a message, should an agent have
   * come online meanwhile).
   * @param {{topic: string, language: string, text: string, metadata: Record<string, string>, leave?: boolean}} request
   */
  start(request) {
    const text = request.text.trim();
    /** @type {Frame} */
    const frame = { type: 'start', topic: request.topic, language: request.language };
    if (Object.keys(request.metadata).length) frame.metadata = request.metadata;
    let key = 'start';
    if (text && !request.leave) {
      key = randomId('s-');
      frame.text = text;
      frame.client_msg_id = key;
      this.state.pending.push({ clientMsgId: key, text, state: 'queued' });
    } else if (text) {
      this.afterStart = { text, clientMsgId: randomId('m-') };
    }
    this.state.problem = null;
    this.state.offline = null;
    this.state.busy = true;
    this.client.sendReliably(key, frame, (f) =>
      ['queued', 'assigned', 'offline'].includes(f.type) ||
      (f.type === 'message' && f.from === 'customer' && f.client_msg_id === key) ||
      (f.type === 'welcome' && f.conversation != null),
    );
    this.changed();
  }

  /** @param {string} text */
  send(text) {
    const body = text.trim();
    if (!body) return;
    const key = randomId('c-');
    this.state.pending.push({ clientMsgId: key, text: body, state: 'queued' });
    this.client.sendReliably(
      key,
      { type: 'message', client_msg_id: key, text: body },
      (f) => f.type === 'message' && f.from === 'customer' && f.client_msg_id === key,
    );
    this.saveOutbox();
    this.changed();
  }

  /** @param {string} key */
  retry(key) {
    const pending = this.state.pending.find((p) => p.clientMsgId === key);
    if (!pending) return;
    delete pending.error;
    this.client.retry(key);
  }

  /** @param {boolean} on */
  typing(on) {
    if (this.state.conversation?.state === 'assigned') this.client.sendIfOpen({ type: 'typing', on });
  }

  /** @param {string} text */
  leaveMessage(text) {
    const body = text.trim();
    if (!body) return;
    const key = randomId('m-');
    this.state.busy = true;
    this.state.problem = null;
    this.client.sendReliably(
      key,
      { type: 'leave_message', client_msg_id: key, text: body },
      (f) => f.type === 'ended' || (f.type === 'error' && f.ref === key && f.code === 'conflict'),
    );
    this.changed();
  }

  end() {
    if (!this.state.conversation || this.state.conversation.state === 'ended') return;
    this.state.busy = true;
    this.client.sendReliably(
      'close',
      { type: 'close' },
      (f) => f.type === 'ended' || (f.type === 'error' && f.code === 'conflict'),
    );
    this.changed();
  }

  /** @param {number} score */
  rate(score) {
    const conversation = this.state.conversation;
    if (!conversation || conversation.state !== 'ended' || conversation.rating) return;
    const id = conversation.id;
    this.state.busy = true;
    this.client.sendReliably(
      `rate:${id}`,
      { type: 'rate', score, conversation_id: id },
      (f) =>
        (f.type === 'rated' && f.conversation_id === id) ||
        (f.type === 'error' && (f.code === 'conflict' || f.code === 'not_found')),
    );
    this.changed();
  }

  /** Back to the pre-chat form after an ended chat. */
  newChat() {
    if (this.state.conversation?.state !== 'ended') return;
    this.state.conversation = null;
    this.state.offline = null;
    this.state.problem = null;
    this.changed();
  }

  // ---- frames ----

  /** @returns {Frame} */
  hello() {
    /** @type {Frame} */
    const frame = { type: 'hello', visitor_id: this.persisted.visitorId };
    if (this.identity) frame.identity = this.identity;
    const open = this.persisted.open;
    const shown = this.state.conversation;
    if (shown && shown.state !== 'ended') {
      frame.resume = { conversation_id: shown.id, last_seq: this.heldSeq, epoch: shown.epoch };
    } else if (open) {
      // A reload: this page holds nothing yet, so ask for the whole transcript.
      frame.resume = { conversation_id: open.id, last_seq: 0, epoch: open.epoch };
    }
    return frame;
  }

  /** @param {Frame} frame */
  receive(frame) {
    switch (frame.type) {
      case 'welcome':
        this.onWelcome(frame);
        break;
      case 'message':
        this.onMessage(frame);
        break;
      case 'queued': {
        const c = this.adopt(frame.conversation_id);
        if (c) {
          c.state = 'queued';
          c.queue = { position: frame.position, eta: frame.eta_seconds ?? null };
        }
        this.state.busy = false;
        this.afterStarted();
        break;
      }
      case 'overflow': {
        const c = this.adopt(frame.conversation_id);
        if (c) c.overflow = { position: frame.position, eta: frame.eta_seconds };
        break;
      }
      case 'assigned': {
        const c = this.adopt(frame.conversation_id);
        if (c) {
          c.state = 'assigned';
          c.agent = frame.agent;
          c.queue = null;
          c.overflow = null;
          this.emit('assigned', { agent: frame.agent, conversation_id: c.id });
        }
        this.state.busy = false;
        this.afterStarted();
        break;
      }
      case 'typing':
        if (frame.from === 'agent') {
          this.state.agentTyping = Boolean(frame.on);
          clearTimeout(this.typingTimer);
          if (frame.on) {
            // A lost "off" (the agent's tab closed) must not leave it on forever.
            this.typingTimer = setTimeout(() => {
              this.state.agentTyping = false;
              this.changed();
            }, TYPING_CLEAR_MS);
          }
        }
        break;
      case 'ended':
        this.onEnded(frame);
        break;
      case 'rated': {
        const c = this.state.conversation;
        if (c && c.id === frame.conversation_id) c.rating = frame.score;
        this.state.busy = false;
        break;
      }
      case 'resync': {
        const c = this.conversationFor(frame.conversation_id);
        if (c) {
          c.messages = [];
          c.epoch = frame.epoch;
          this.heldSeq = 0;
          this.persistOpen();
        }
        break;
      }
      case 'offline':
        this.state.offline = { topic: frame.topic, language: frame.language, reason: frame.reason };
        this.state.busy = false;
        if (this.afterStart) {
          const { text } = this.afterStart;
          this.afterStart = null;
          this.leaveMessage(text);
        }
        break;
      case 'unassigned':
        break;
      case 'error':
        this.onError(frame);
        break;
      default:
        break;
    }
    this.changed();
  }

  /** @param {Frame} frame */
  onWelcome(frame) {
    this.state.welcomed = true;
    this.state.customerKey = frame.customer_key;
    const open = frame.conversation;
    if (open) {
      const shown = this.state.conversation;
      if (!shown || shown.id !== open.id) {
        this.state.conversation = newConversation(open.id, open.state, open.topic, open.epoch ?? 0);
        this.heldSeq = 0;
      }
      const c = /** @type {Conversation} */ (this.state.conversation);
      c.state = open.state;
      c.topic = open.topic;
      c.agent = open.agent ?? null;
      if (open.state === 'assigned') {
        c.queue = null;
        c.overflow = null;
      }
      this.state.offline = null;
      this.state.busy = false;
      const seen = this.persisted.open?.id === open.id ? this.persisted.open?.seen : 0;
      this.persisted.open = { id: open.id, epoch: c.epoch, customerKey: frame.customer_key, seen };
    } else if (this.state.conversation && this.state.conversation.state !== 'ended') {
      // It ended while this page was away: the replay and `ended` follow if
      // the server remembers it, else `not_found`.
      this.state.conversation.state = 'ended';
    }
    this.persist();
  }

  /** @param {Frame} frame */
  onMessage(frame) {
    const c = this.adopt(frame.conversation_id);
    if (!c) return;
    /** @type {Message} */
    const message = {
      seq: frame.seq,
      from: frame.from,
      text: String(frame.text ?? ''),
      ts: frame.ts,
      clientMsgId: frame.client_msg_id ?? null,
    };
    if (!insertBySeq(c.messages, message)) return;
    if (c.state !== 'ended') {
      this.heldSeq = Math.max(this.heldSeq, message.seq);
    }
    if (message.from === 'customer' && message.clientMsgId) {
      this.state.pending = this.state.pending.filter((p) => p.clientMsgId !== message.clientMsgId);
      this.saveOutbox();
    }
    if (message.from === 'agent') {
      this.state.agentTyping = false;
      if (!this.panelOpen && message.seq > (this.persisted.open?.seen ?? 0)) {
        this.state.unread += 1;
        this.emit('unread', { count: this.state.unread });
      }
    }
    if (this.panelOpen) this.markSeen(message.seq);
  }

  /** @param {Frame} frame */
  onEnded(frame) {
    // Also the replay of a conversation that ended while this page was away.
    const c = this.adopt(frame.conversation_id);
    if (c) {
      c.state = 'ended';
      c.queue = null;
      c.overflow = null;
      c.ended = { reason: frame.reason, ticketId: frame.ticket_id ?? null };
      this.state.agentTyping = false;
      this.emit('ended', { reason: frame.reason, ticket_id: frame.ticket_id ?? null, conversation_id: c.id });
    }
    if (this.persisted.open?.id === frame.conversation_id) {
      this.persisted.open = null;
      this.persist();
    }
    this.state.offline = null;
    this.state.busy = false;
    this.heldSeq = 0;
    // Messages that never got in are not for the next chat.
    for (const p of this.state.pending) this.client.discard(p.clientMsgId);
    this.state.pending = [];
    this.saveOutbox();
  }

  /** @param {Frame} frame */
  onError(frame) {
    // A message it refused is marked by `delivery` (sent again, or failed).
    if (this.state.pending.some((p) => p.clientMsgId === frame.ref)) return;
    if (frame.code === 'not_found' && /resume/.test(String(frame.message))) {
      // The server no longer knows the conversation this page remembered.
      if (this.state.conversation && this.state.conversation.messages.length === 0) {
        this.state.conversation = null;
      }
      this.persisted.open = null;
      this.persist();
      return;
    }
    // Sent again by the client; or, for a refused identity, said by the banner.
    if (frame.code === 'rate_limited' || frame.code === 'unavailable' || frame.code === 'unauthorized') return;
    this.state.busy = false;
    this.state.problem = { code: frame.code, message: String(frame.message ?? '') };
  }

  /** The first message of a text-less start, once the chat is open. */
  afterStarted() {
    if (!this.afterStart) return;
    const { text } = this.afterStart;
    this.afterStart = null;
    this.send(text);
  }

  /** @param {string} key @param {DeliveryState} state @param {Frame} [error] */
  delivery(key, state, error) {
    const pending = this.state.pending.find((p) => p.clientMsgId === key);
    if (pending) {
      pending.state = state;
      if (state === 'failed' && error) pending.error = String(error.message ?? error.code);
    } else if (state === 'failed' && error) {
      this.state.busy = false;
      this.state.problem = { code: error.code, message: String(error.message ?? '') };
    }
    this.changed();
  }

  // ---- helpers ----

  /**
   * The conversation a frame is about, if it is the one shown; a new one when
   * nothing open is shown (this tab's start, another tab's, or a replay after
   * a reload). Frames about any other conversation are not for this view.
   * @param {string} id
   */
  adopt(id) {
    const shown = this.state.conversation;
    if (shown && shown.id === id) return shown;
    if (shown && shown.state !== 'ended') return null;
    if (typeof id !== 'string') return null;
    const c = newConversation(id, 'queued', '', 0);
    this.state.conversation = c;
    this.heldSeq = 0;
    this.persisted.open = { id, epoch: 0, customerKey: this.state.customerKey };
    this.persist();
    return c;
  }

  /** @param {string} id */
  conversationFor(id) {
    const c = this.state.conversation;
    return c && c.id === id ? c : null;
  }

  /** @param {number} seq */
  markSeen(seq) {
    const open = this.persisted.open;
    if (open && seq > (open.seen ?? 0)) {
      open.seen = seq;
      this.persist();
    }
  }

  persistOpen() {
    const c = this.state.conversation;
    if (c && c.state !== 'ended' && this.persisted.open?.id === c.id) {
      this.persisted.open.epoch = c.epoch;
      this.persist();
    }
  }

  persist() {
    try {
      this.local?.setItem(STORE_KEY, JSON.stringify(this.persisted));
    } catch {
      // Storage full or blocked: the chat still works, a reload will not resume it.
    }
  }

  saveOutbox() {
    try {
      const waiting = this.state.pending
        .filter((p) => p.clientMsgId.startsWith('c-'))
        .map((p) => ({ clientMsgId: p.clientMsgId, text: p.text }));
      if (waiting.length) this.session?.setItem(OUTBOX_KEY, JSON.stringify(waiting));
      else this.session?.removeItem(OUTBOX_KEY);
    } catch {
      // As above.
    }
  }

  /** Messages this tab typed before a reload and the server never echoed. */
  restoreOutbox() {
    if (!this.persisted.open) return;
    try {
      const raw = this.session?.getItem(OUTBOX_KEY);
      const saved = raw ? JSON.parse(raw) : [];
      for (const p of Array.isArray(saved) ? saved : []) {
        if (typeof p?.clientMsgId !== 'string' || typeof p?.text !== 'string') continue;
        this.state.pending.push({ clientMsgId: p.clientMsgId, text: p.text, state: 'queued' });
        this.client.sendReliably(
          p.clientMsgId,
          { type: 'message', client_msg_id: p.clientMsgId, text: p.text },
          (f) => f.type === 'message' && f.from === 'customer' && f.client_msg_id === p.clientMsgId,
        );
      }
    } catch {
      // A damaged entry is not worth failing the widget for.
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

/**
 * @param {string} id
 * @param {Conversation['state']} state
 * @param {string} topic
 * @param {number} epoch
 * @returns {Conversation}
 */
function newConversation(id, state, topic, epoch) {
  return { id, state, topic, epoch, agent: null, messages: [], queue: null, overflow: null, ended: null, rating: null };
}

/**
 * Insert in `seq` order; false if that `seq` is held already (a replay, a
 * resend's answer, another tab's echo).
 * @param {Message[]} messages
 * @param {Message} message
 */
export function insertBySeq(messages, message) {
  let i = messages.length;
  while (i > 0 && messages[i - 1].seq > message.seq) i -= 1;
  if (i > 0 && messages[i - 1].seq === message.seq) return false;
  messages.splice(i, 0, message);
  return true;
}

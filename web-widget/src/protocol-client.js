// @ts-check
/**
 * The switchboard protocol client: one WebSocket at a time over a list of
 * URLs, reconnecting with exponential backoff and jitter, a `hello` built
 * afresh for every connection (so it resumes from the latest `seq`), and an
 * outbox that keeps every frame until the server acknowledges it: sent again
 * after a reconnect, and after `rate_limited` or `unavailable`. No DOM: the
 * customer widget and the agent console both sit on it, and Node tests drive
 * it with the `ws` package.
 *
 * Protocol: docs/protocol.md (§2 handshake, §7.1 acknowledgement, §7.3 resume,
 * §7.13 store unavailable, §9 close codes).
 */

/** @typedef {{type: string, [field: string]: any}} Frame */

/**
 * Where the connection is. `open` means welcomed: frames flow.
 * @typedef {'idle' | 'connecting' | 'open' | 'waiting' | 'stopped' | 'refused'} ConnectionPhase
 */

/**
 * @typedef {object} ConnectionStatus
 * @property {ConnectionPhase} phase
 * @property {number} attempt failed attempts in a row (0 once welcomed)
 * @property {string} url the URL tried last
 * @property {number} retryInMs with `waiting`: the delay before the next attempt
 * @property {string} [reason] with `refused`: the server's reason (an `unauthorized` hello)
 */

/**
 * What an entry of the outbox is doing.
 * `queued`: waiting for a connection; `sent`: on the wire, not acknowledged;
 * `retrying`: refused for now (`rate_limited`, `unavailable`), to be sent
 * again; `failed`: refused for good; `delivered`: acknowledged, and gone
 * from the outbox.
 * @typedef {'queued' | 'sent' | 'retrying' | 'failed' | 'delivered'} DeliveryState
 */

/**
 * @typedef {object} OutboxEntry
 * @property {string} key `client_msg_id`, or a key of the sender's for unkeyed frames
 * @property {Frame} frame
 * @property {(frame: Frame) => boolean} isAck which server frame acknowledges it
 * @property {DeliveryState} state
 * @property {number} retries times it was refused with a retryable error
 * @property {ReturnType<typeof setTimeout> | undefined} timer
 */

/**
 * @typedef {object} ClientOptions
 * @property {string[]} urls WebSocket URLs of the endpoint, tried in turn
 * @property {() => Frame} hello the `hello` for the next connection
 * @property {(frame: Frame) => void} onFrame every frame from the server, in order
 * @property {(status: ConnectionStatus) => void} [onStatus]
 * @property {(key: string, state: DeliveryState, error?: Frame) => void} [onDelivery]
 *   an outbox entry changed state (the frame that acknowledged an entry
 *   reaches `onFrame` right after its `delivered`)
 * @property {{new (url: string): WebSocket}} [WebSocket] defaults to the global one
 * @property {Partial<Timing>} [timing]
 * @property {() => number} [random] 0 ≤ x < 1, for jitter
 */

/**
 * @typedef {object} Timing
 * @property {number} baseMs first reconnect delay
 * @property {number} maxMs longest reconnect delay
 * @property {number} restartMs delay after a 1012 (the server restarts or the matcher changed)
 * @property {number} welcomeMs a connection with no `welcome` by then is dropped and tried again
 * @property {number} rateLimitedMs wait before sending a frame refused with `rate_limited`
 * @property {number} unavailableMs first wait before sending a frame refused with `unavailable`
 */

/** @type {Timing} */
export const DEFAULT_TIMING = {
  baseMs: 500,
  maxMs: 30_000,
  restartMs: 250,
  welcomeMs: 8_000,
  rateLimitedMs: 1_000,
  unavailableMs: 1_000,
};

/** Error codes after which the same frame, sent again later, may be taken. */
const RETRYABLE = new Set(['rate_limited', 'unavailable']);

/** The WebSocket close code of a server restart or a matcher change (§9). */
export const CLOSE_RESTART = 1012;

export class ProtocolClient {
  /** @param {ClientOptions} options */
  constructor(options) {
    if (!options.urls.length) throw new Error('ProtocolClient: no URL to connect to');
    this.options = options;
    /** @type {Timing} */
    this.timing = { ...DEFAULT_TIMING, ...options.timing };
    this.random = options.random ?? Math.random;
    /** @type {Map<string, OutboxEntry>} insertion order is sending order */
    this.outbox = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.urlIndex = 0;
    /** @type {ConnectionStatus} */
    this.status = { phase: 'idle', attempt: 0, url: options.urls[0], retryInMs: 0 };
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.reconnectTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.welcomeTimer = undefined;
    this.welcomed = false;
  }

  /** Connect (again, after `stop`). */
  start() {
    if (this.status.phase === 'connecting' || this.status.phase === 'open') return;
    clearTimeout(this.reconnectTimer);
    this.connect();
  }

  /** Close the socket and stay closed; the outbox is kept for a later `start`. */
  stop() {
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.welcomeTimer);
    for (const entry of this.outbox.values()) clearTimeout(entry.timer);
    const socket = this.socket;
    this.socket = null;
    this.welcomed = false;
    if (socket) {
      detach(socket);
      socket.close(1000, 'client closed');
    }
    this.setStatus({ phase: 'stopped', retryInMs: 0 });
  }

  /**
   * Reconnect now instead of waiting out the backoff (the browser came back
   * online, the page became visible).
   */
  wake() {
    if (this.status.phase === 'waiting') {
      clearTimeout(this.reconnectTimer);
      this.connect();
    }
  }

  /** Drop the current connection and open a new one (a new identity, say). */
  reconnect() {
    this.stop();
    this.status.attempt = 0;
    this.connect();
  }

  /** Whether frames flow now. */
  get isOpen() {
    return this.welcomed;
  }

  /**
   * Send a frame that must arrive: kept in the outbox until `isAck` matches a
   * server frame, sent again after every reconnect and after a retryable
   * refusal. Sending again under the same key replaces nothing: the first
   * entry stays.
   * @param {string} key
   * @param {Frame} frame
   * @param {(frame: Frame) => boolean} isAck
   */
  sendReliably(key, frame, isAck) {
    if (this.outbox.has(key)) return;
    /** @type {OutboxEntry} */
    const entry = { key, frame, isAck, state: 'queued', retries: 0, timer: undefined };
    this.outbox.set(key, entry);
    this.report(entry);
    if (this.welcomed) this.transmit(entry);
  }

  /**
   * Send a frame that may be lost (typing): dropped unless a connection is open.
   * @param {Frame} frame
   */
  sendIfOpen(frame) {
    if (this.welcomed && this.socket) this.socket.send(JSON.stringify(frame));
  }

  /**
   * Send an outbox entry that failed for good once more (the person pressed "retry").
   * @param {string} key
   */
  retry(key) {
    const entry = this.outbox.get(key);
    if (!entry || entry.state !== 'failed') return;
    entry.retries = 0;
    entry.state = 'queued';
    this.report(entry);
    if (this.welcomed) this.transmit(entry);
  }

  /**
   * Forget an outbox entry (the person discarded a message that failed).
   * @param {string} key
   */
  discard(key) {
    const entry = this.outbox.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.outbox.delete(key);
  }

  /** @returns {OutboxEntry[]} */
  pending() {
    return [...this.outbox.values()];
  }

  // ---- internals ----

  connect() {
    const url = this.options.urls[this.urlIndex % this.options.urls.length];
    this.setStatus({ phase: 'connecting', url, retryInMs: 0 });
    const Impl = this.options.WebSocket ?? globalThis.WebSocket;
    /** @type {WebSocket} */
    let socket;
    try {
      socket = new Impl(url);
    } catch {
      this.scheduleReconnect(0);
      return;
    }
    this.socket = socket;
    this.welcomed = false;
    socket.onopen = () => {
      socket.send(JSON.stringify(this.options.hello()));
      clearTimeout(this.welcomeTimer);
      // A follower with no matcher to follow never answers the hello (§2).
      this.welcomeTimer = setTimeout(() => this.drop(socket), this.timing.welcomeMs);
    };
    socket.onmessage = (event) => {
      if (typeof event.data !== 'string') return;
      /** @type {Frame} */
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame.type !== 'string') return;
      this.receive(frame);
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.welcomed = false;
      clearTimeout(this.welcomeTimer);
      for (const entry of this.outbox.values()) clearTimeout(entry.timer);
      if (event.code === 1008 && event.reason === 'unauthorized') {
        this.setStatus({ phase: 'refused', reason: event.reason, retryInMs: 0 });
        return;
      }
      this.scheduleReconnect(event.code);
    };
    socket.onerror = () => {
      // onclose follows and decides what to do.
    };
  }

  /** @param {WebSocket} socket */
  drop(socket) {
    if (this.socket !== socket) return;
    socket.close(4000, 'no welcome');
    // Some implementations never fire close for a socket that never opened.
    detach(socket);
    this.socket = null;
    this.welcomed = false;
    this.scheduleReconnect(0);
  }

  /** @param {number} closeCode */
  scheduleReconnect(closeCode) {
    // Next URL each time: a dead node is not tried twice in a row.
    this.urlIndex += 1;
    const attempt = this.status.attempt + 1;
    const ceiling =
      closeCode === CLOSE_RESTART && attempt === 1
        ? this.timing.restartMs
        : Math.min(this.timing.maxMs, this.timing.baseMs * 2 ** (attempt - 1));
    // "Equal jitter": half fixed, half random, so a restarted node is not hit
    // by every client at the same instant, and no client retries at once.
    const delay = Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
    this.setStatus({ phase: 'waiting', attempt, retryInMs: delay });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** @param {Frame} frame */
  receive(frame) {
    const welcome = frame.type === 'welcome';
    if (welcome) {
      clearTimeout(this.welcomeTimer);
      this.welcomed = true;
      this.setStatus({ phase: 'open', attempt: 0, retryInMs: 0 });
    }
    if (frame.type === 'error') this.refused(frame);
    for (const entry of this.outbox.values()) {
      if (entry.isAck(frame)) {
        clearTimeout(entry.timer);
        this.outbox.delete(entry.key);
        entry.state = 'delivered';
        this.report(entry);
      }
    }
    this.options.onFrame(frame);
    // After the welcome has been seen, so that what it acknowledged is not sent again.
    if (welcome) this.flush();
  }

  /**
   * An `error` names the frame it refuses by `ref` (its `client_msg_id`).
   * One without `ref` concerns the oldest frame in flight of a kind whose
   * errors may come without it (every kind but `message` and
   * `leave_message`, whose errors always carry their key, §8).
   * @param {Frame} error
   */
  refused(error) {
    const entry =
      typeof error.ref === 'string'
        ? this.outbox.get(error.ref)
        : [...this.outbox.values()].find(
            (e) => e.state === 'sent' && e.frame.type !== 'message' && e.frame.type !== 'leave_message',
          );
    if (!entry || entry.state !== 'sent') return;
    if (RETRYABLE.has(error.code)) {
      entry.retries += 1;
      entry.state = 'retrying';
      this.report(entry, error);
      const base =
        error.code === 'rate_limited'
          ? this.timing.rateLimitedMs
          : Math.min(this.timing.maxMs, this.timing.unavailableMs * 2 ** (entry.retries - 1));
      const delay = Math.round(base / 2 + (this.random() * base) / 2);
      clearTimeout(entry.timer);
      entry.timer = setTimeout(() => {
        if (this.welcomed && this.outbox.get(entry.key) === entry) this.transmit(entry);
      }, delay);
      return;
    }
    entry.state = 'failed';
    this.report(entry, error);
  }

  flush() {
    for (const entry of this.outbox.values()) {
      if (entry.state === 'failed') continue;
      clearTimeout(entry.timer);
      this.transmit(entry);
    }
  }

  /** @param {OutboxEntry} entry */
  transmit(entry) {
    if (!this.socket || !this.welcomed) return;
    entry.state = 'sent';
    this.socket.send(JSON.stringify(entry.frame));
  }

  /**
   * @param {OutboxEntry} entry
   * @param {Frame} [error]
   */
  report(entry, error) {
    this.options.onDelivery?.(entry.key, entry.state, error);
  }

  /** @param {Partial<ConnectionStatus>} change */
  setStatus(change) {
    this.status = { ...this.status, ...change };
    // A reason belongs to a refusal only.
    if (this.status.phase !== 'refused') delete this.status.reason;
    this.options.onStatus?.({ ...this.status });
  }
}

/** @param {WebSocket} socket */
function detach(socket) {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

/**
 * A random id for `client_msg_id`s and visitor ids: `prefix` + 20 base-36
 * characters (about 100 bits), within the protocol's limits.
 * @param {string} prefix
 */
export function randomId(prefix) {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  let id = '';
  for (const b of bytes) id += (b % 36).toString(36);
  return prefix + id.slice(0, 20);
}

// @ts-check
/**
 * The chat panel, loaded by `widget.js` on first open (or at once when a
 * conversation of the visitor's is open, so its messages count as unread).
 * It renders `Chat.state` into the widget's shadow root and turns what the
 * customer does into `Chat` calls; it keeps no state of the chat itself.
 *
 * Text from the wire reaches the DOM only through `textContent` (and, for
 * links, an `href` checked to be http or https).
 */

import { Chat, openStorage } from './chat.js';
import { direction, format, loadStrings } from './i18n.js';

/** @typedef {import('./i18n.js').Strings} Strings */
/** @typedef {import('./i18n.js').StringKey} StringKey */
/** @typedef {import('./chat.js').ChatState} ChatState */
/** @typedef {import('./chat.js').Message} Message */
/** @typedef {import('./chat.js').PendingMessage} PendingMessage */

/**
 * @typedef {object} Settings
 * @property {string} title
 * @property {string} accent_color
 * @property {string} default_language
 * @property {string} fallback_language
 * @property {{id: string, labels: Record<string, string>, available: boolean, languages: string[]}[]} topics
 * @property {{max_text_chars: number, max_metadata_bytes: number}} limits
 */

/**
 * What the loader hands over.
 * @typedef {object} WidgetOptions
 * @property {ShadowRoot} root
 * @property {HTMLButtonElement} launcher
 * @property {string} lang
 * @property {string[]} wsUrls
 * @property {string} apiBase origin of the switchboard server, for its settings
 * @property {string | null} topic preselected topic (`data-topic`)
 * @property {string | null} identity
 * @property {Record<string, string>} metadata
 * @property {(name: string, detail?: object) => void} emit
 */

const TYPING_REPEAT_MS = 3_000;
const TYPING_IDLE_MS = 4_000;
const SETTINGS_REFRESH_MS = 15_000;
const SETTINGS_WAIT_MS = 1_500;
const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/g;

/** @param {WidgetOptions} options */
export function createWidget(options) {
  return new Widget(options);
}

class Widget {
  /** @param {WidgetOptions} options */
  constructor(options) {
    this.options = options;
    this.metadata = { ...options.metadata };
    this.chat = new Chat({
      urls: options.wsUrls,
      local: openStorage(() => window.localStorage),
      session: openStorage(() => window.sessionStorage),
      identity: options.identity,
    });
    /** @type {Strings | null} */
    this.strings = null;
    /** @type {Settings | null} */
    this.settings = null;
    this.settingsFailed = false;
    /** @type {HTMLElement | null} */
    this.panel = null;
    this.isOpen = false;
    /** @type {string} which view the body shows, so it is built once per phase */
    this.phase = '';
    /** @type {Map<string, HTMLElement>} transcript rows by `seq` or `client_msg_id` */
    this.rows = new Map();
    this.rowsOf = '';
    this.confirmingEnd = false;
    this.leaving = false;
    /** @type {string} what the chat's footer shows, so it is rebuilt only when that changes */
    this.footerMode = '';
    this.typingSentAt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.typingIdle = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.settingsTimer = undefined;
    /** @type {Promise<void> | null} */
    this.ready = null;

    this.renderPending = false;
    this.chat.addEventListener('change', () => this.scheduleRender());
    for (const name of ['unread', 'assigned', 'ended']) {
      this.chat.addEventListener(name, (event) =>
        options.emit(name, /** @type {CustomEvent} */ (event).detail),
      );
    }
    window.addEventListener('online', () => {
      this.chat.client.wake();
      this.scheduleRender();
    });
    window.addEventListener('offline', () => this.scheduleRender());
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.chat.client.wake();
    });
    if (this.chat.hasOpenConversation) this.chat.connect();
  }

  async open() {
    if (this.isOpen) return;
    this.isOpen = true;
    this.chat.setPanelOpen(true);
    this.chat.connect();
    this.ready ??= this.build();
    await this.ready;
    // Shown with its form when the settings come quickly; with "Loading…" when not.
    await Promise.race([this.refreshSettings(), new Promise((r) => setTimeout(r, SETTINGS_WAIT_MS))]);
    if (!this.isOpen || !this.panel) return;
    this.panel.hidden = false;
    this.options.launcher.setAttribute('aria-expanded', 'true');
    this.settingsTimer = setInterval(() => {
      if (this.phase === 'form' || this.phase === 'loading') this.refreshSettings();
    }, SETTINGS_REFRESH_MS);
    this.render();
    this.focusFirst();
    this.options.emit('open');
  }

  close() {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.chat.setPanelOpen(false);
    clearInterval(this.settingsTimer);
    this.stopTyping();
    if (this.panel) this.panel.hidden = true;
    this.options.launcher.setAttribute('aria-expanded', 'false');
    this.options.launcher.focus();
    // No conversation open: no reason to hold a socket.
    if (!this.chat.hasOpenConversation && !this.chat.state.busy) this.chat.disconnect();
    this.options.emit('close');
  }

  /** @param {string | null} token */
  identify(token) {
    this.chat.setIdentity(token);
  }

  /** @param {Record<string, string>} metadata */
  setMetadata(metadata) {
    this.metadata = { ...this.metadata, ...metadata };
    this.fillMetadataFields();
  }

  // ---- building ----

  async build() {
    const [strings, css] = await Promise.all([
      loadStrings(this.options.lang),
      fetch(new URL('./panel.css', import.meta.url)).then((r) => r.text()),
    ]);
    this.strings = strings;
    const sheet = new CSSStyleSheet();
    await sheet.replace(css);
    const root = this.options.root;
    root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];

    const panel = el('section', { class: 'panel', role: 'dialog', 'aria-labelledby': 'sb-title', id: 'sb-panel' });
    panel.hidden = true;
    panel.lang = this.options.lang;
    panel.dir = direction(this.options.lang);
    panel.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.stopPropagation();
        this.close();
      }
    });

    const header = el('header', { class: 'head' });
    this.title = el('h2', { id: 'sb-title' });
    this.title.textContent = this.t('loading');
    this.agentLine = el('p', { class: 'agent' });
    const titles = el('div', { class: 'titles' }, [this.title, this.agentLine]);
    this.endButton = button(this.t('endChat'), 'ghost end', () => {
      this.confirmingEnd = true;
      this.render();
      this.confirmYes?.focus();
    });
    const closeButton = button('', 'icon close', () => this.close());
    closeButton.setAttribute('aria-label', this.t('close'));
    closeButton.append(icon('M6 6l12 12M18 6L6 18'));
    header.append(titles, this.endButton, closeButton);

    this.confirm = el('div', { class: 'confirm', role: 'alertdialog', 'aria-labelledby': 'sb-confirm-q' });
    const question = el('p', { id: 'sb-confirm-q' });
    question.textContent = this.t('endConfirm');
    this.confirmYes = button(this.t('endYes'), 'primary', () => {
      this.confirmingEnd = false;
      this.chat.end();
    });
    const confirmNo = button(this.t('endNo'), 'ghost', () => {
      this.confirmingEnd = false;
      this.render();
      this.endButton?.focus();
    });
    this.confirm.append(question, el('div', { class: 'row' }, [this.confirmYes, confirmNo]));

    this.banner = el('p', { class: 'banner', role: 'status' });
    this.body = el('div', { class: 'body' });
    panel.append(header, this.confirm, this.banner, this.body);
    root.append(panel);
    this.panel = panel;
  }

  async refreshSettings() {
    try {
      const response = await fetch(`${this.options.apiBase}/api/widget/settings`, { credentials: 'omit' });
      if (!response.ok) throw new Error(`settings: HTTP ${response.status}`);
      this.settings = await response.json();
      this.settingsFailed = false;
      const accent = this.settings?.accent_color;
      if (accent && /^#[0-9a-fA-F]{6}$/.test(accent)) {
        /** @type {HTMLElement} */ (this.options.root.host).style.setProperty('--sb-accent', accent);
      }
    } catch {
      this.settingsFailed = !this.settings;
    }
    this.render();
  }

  // ---- rendering ----

  /**
   * One render per frame, however many frames arrived: the replay of a long
   * chat after a reload is hundreds of frames in one burst.
   */
  scheduleRender() {
    if (this.renderPending) return;
    this.renderPending = true;
    const run = () => {
      this.renderPending = false;
      this.render();
    };
    // Hidden tabs get no animation frames; the panel is still kept current.
    if (document.visibilityState === 'visible') requestAnimationFrame(run);
    else setTimeout(run, 250);
  }

  render() {
    if (!this.panel || !this.strings || !this.body) return;
    const state = this.chat.state;
    const c = state.conversation;
    if (this.title) this.title.textContent = this.settings?.title ?? this.t('loading');
    if (this.agentLine) {
      this.agentLine.replaceChildren();
      if (c?.agent && c.state === 'assigned') {
        const name = el('span', { class: 'agent-name' });
        name.textContent = c.agent.name;
        const mark = el('span', { class: 'verified' });
        mark.append(icon('M5 12l5 5L19 7'));
        const label = el('span');
        label.textContent = this.t('verifiedAgent');
        mark.append(label);
        this.agentLine.append(name, mark);
      }
    }
    const open = c && c.state !== 'ended';
    if (this.endButton) this.endButton.hidden = !open;
    if (this.confirm) this.confirm.hidden = !(open && this.confirmingEnd);
    if (!open) this.confirmingEnd = false;
    this.renderBanner(state);

    let phase;
    if (c) phase = 'chat';
    else if (state.offline) phase = 'leave';
    else if (this.settings) phase = 'form';
    else phase = this.settingsFailed ? 'unreachable' : 'loading';
    let refocus = false;
    if (phase !== this.phase) {
      // Whatever had the focus is about to go: the new view's first control takes it.
      refocus = this.isOpen && this.panel.matches(':focus-within');
      this.phase = phase;
      this.leaving = false;
      this.body.replaceChildren(this.buildPhase(phase));
    }
    if (phase === 'chat') this.renderChat(state);
    if (phase === 'form') this.renderFormAvailability();
    if (phase === 'leave' || phase === 'form') this.renderProblem(state);
    if (refocus) this.focusFirst();
  }

  /** @param {ChatState} state */
  renderBanner(state) {
    if (!this.banner) return;
    const phase = state.connection.phase;
    const waiting = phase === 'waiting' || (phase === 'connecting' && state.welcomed);
    const offline = navigator.onLine === false;
    let text = '';
    // Offline, a socket may still look open for a while: say so all the same.
    if (offline) text = this.t('offlineNet');
    else if (waiting) text = this.t('reconnecting');
    // The exchange's identity token was refused (protocol §3): only a new one helps.
    if (phase === 'refused') text = this.t('identityRefused');
    if (this.banner.textContent !== text) this.banner.textContent = text;
    this.banner.hidden = !text;
  }

  /** @param {string} phase */
  buildPhase(phase) {
    if (phase === 'form') return this.buildForm();
    if (phase === 'leave') return this.buildLeave();
    if (phase === 'chat') return this.buildChat();
    const box = el('div', { class: 'center' });
    const p = el('p');
    if (phase === 'unreachable') {
      p.textContent = this.t('settingsFailed');
      box.append(p, button(this.t('tryAgain'), 'primary', () => this.refreshSettings()));
    } else {
      p.textContent = this.t('loading');
      box.append(p);
    }
    return box;
  }

  buildForm() {
    const settings = /** @type {Settings} */ (this.settings);
    const form = el('form', { class: 'form', novalidate: '' });
    const intro = el('p', { class: 'intro' });
    intro.textContent = this.t('formIntro');
    const topic = /** @type {HTMLSelectElement} */ (el('select', { id: 'sb-topic', name: 'topic' }));
    for (const t of settings.topics) {
      const option = /** @type {HTMLOptionElement} */ (el('option', { value: t.id }));
      option.textContent = this.topicLabel(t.id);
      topic.append(option);
    }
    // The page's choice, else the first topic someone serves now.
    const wanted = this.options.topic;
    if (wanted && settings.topics.some((t) => t.id === wanted)) topic.value = wanted;
    else topic.value = settings.topics.find((t) => this.served(t.id))?.id ?? topic.value;
    const uid = /** @type {HTMLInputElement} */ (
      el('input', { id: 'sb-uid', name: 'uid', autocomplete: 'off', inputmode: 'numeric', maxlength: '64' })
    );
    const txid = /** @type {HTMLInputElement} */ (
      el('input', { id: 'sb-txid', name: 'txid', autocomplete: 'off', spellcheck: 'false', maxlength: '128' })
    );
    const text = /** @type {HTMLTextAreaElement} */ (
      el('textarea', { id: 'sb-message', name: 'message', rows: '4', maxlength: String(settings.limits.max_text_chars) })
    );
    const note = el('p', { class: 'note', id: 'sb-availability' });
    const problem = el('p', { class: 'problem', id: 'sb-problem', role: 'alert' });
    const submit = /** @type {HTMLButtonElement} */ (el('button', { type: 'submit', class: 'primary wide' }));
    const txidField = this.field('txid', txid);
    form.append(
      intro,
      this.field('topic', topic),
      this.field('uid', uid),
      txidField,
      this.field('message', text),
      note,
      problem,
      submit,
    );
    text.setAttribute('aria-describedby', 'sb-availability');
    topic.addEventListener('change', () => this.renderFormAvailability());
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (this.chat.state.busy) return;
      const body = text.value.trim();
      if (!body) {
        problem.textContent = this.t('required');
        text.setAttribute('aria-invalid', 'true');
        text.focus();
        return;
      }
      text.removeAttribute('aria-invalid');
      /** @type {Record<string, string>} */
      const metadata = { ...this.metadata };
      if (uid.value.trim()) metadata.uid = uid.value.trim();
      if (txid.value.trim()) metadata.txid = txid.value.trim();
      this.chat.start({
        topic: topic.value,
        language: this.options.lang,
        text: body,
        metadata,
        leave: !this.served(topic.value),
      });
    });
    this.form = { topic, uid, txid, text, note, submit, txidField };
    this.fillMetadataFields();
    return form;
  }

  fillMetadataFields() {
    if (!this.form) return;
    if (this.metadata.uid && !this.form.uid.value) this.form.uid.value = this.metadata.uid;
    if (this.metadata.txid && !this.form.txid.value) this.form.txid.value = this.metadata.txid;
  }

  renderFormAvailability() {
    if (!this.form || !this.settings) return;
    const served = this.served(this.form.topic.value);
    this.form.note.textContent = served ? '' : this.t('nobodyLive');
    this.form.note.hidden = served;
    this.form.submit.textContent = served ? this.t('startChat') : this.t('leaveMessage');
    // Not `disabled`: that would take the focus away from a keyboard user mid-step.
    this.form.submit.setAttribute('aria-disabled', String(this.chat.state.busy));
  }

  /**
   * Whether someone on duty serves the topic in the customer's language, or
   * in the fallback language the hub turns to after a wait.
   * @param {string} topicId
   */
  served(topicId) {
    const topic = this.settings?.topics.find((t) => t.id === topicId);
    if (!topic || !topic.available) return false;
    const lang = this.options.lang;
    return topic.languages.includes(lang) || topic.languages.includes(this.settings?.fallback_language ?? 'en');
  }

  /** @param {'topic' | 'uid' | 'txid' | 'message'} key @param {HTMLElement} control */
  field(key, control) {
    const label = el('label', { for: control.id });
    label.textContent = this.t(key);
    return el('div', { class: 'field' }, [label, control]);
  }

  buildLeave() {
    const box = el('form', { class: 'form leave', novalidate: '' });
    const title = el('h3');
    title.textContent = this.t('offlineTitle');
    const body = el('p');
    body.textContent = this.t('offlineBody');
    const text = /** @type {HTMLTextAreaElement} */ (el('textarea', { id: 'sb-leave', rows: '5' }));
    const problem = el('p', { class: 'problem', id: 'sb-problem', role: 'alert' });
    const submit = el('button', { type: 'submit', class: 'primary wide' });
    submit.textContent = this.t('send');
    box.append(title, body, this.field('message', text), problem, submit);
    box.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!text.value.trim()) {
        problem.textContent = this.t('required');
        text.focus();
        return;
      }
      this.chat.leaveMessage(text.value);
    });
    this.leaveBox = { text, problem };
    return box;
  }

  /** @param {ChatState} state */
  renderProblem(state) {
    const target = this.phase === 'leave' ? this.leaveBox?.problem : this.shadowById('sb-problem');
    if (!target) return;
    // The server's refusal; without one, only the form's own "write your message" stays.
    if (state.problem) target.textContent = format(this.t('problem'), { message: state.problem.message });
    else if (target.textContent !== this.t('required')) target.textContent = '';
  }

  buildChat() {
    const wrap = el('div', { class: 'chat' });
    this.queueBox = el('div', { class: 'queue', role: 'status' });
    this.overflowBox = el('div', { class: 'overflow' });
    this.log = el('div', { class: 'log', role: 'log', 'aria-label': this.t('transcript'), tabindex: '0' });
    this.typingLine = el('p', { class: 'typing', 'aria-live': 'polite' });
    this.footer = el('div', { class: 'footer' });
    this.composer = this.buildComposer();
    wrap.append(this.queueBox, this.overflowBox, this.log, this.typingLine, this.footer);
    this.rows = new Map();
    this.rowsOf = '';
    this.footerMode = '';
    return wrap;
  }

  buildComposer() {
    const form = /** @type {HTMLFormElement} */ (el('form', { class: 'composer' }));
    const label = el('label', { for: 'sb-composer', class: 'visually-hidden' });
    label.textContent = this.t('composer');
    const text = /** @type {HTMLTextAreaElement} */ (
      el('textarea', {
        id: 'sb-composer',
        rows: '1',
        placeholder: this.t('composer'),
        maxlength: String(this.settings?.limits.max_text_chars ?? 4000),
      })
    );
    const send = el('button', { type: 'submit', class: 'primary send' });
    send.setAttribute('aria-label', this.t('send'));
    send.append(icon('M4 12l16-8-6 16-2.5-6.5z'));
    form.append(label, text, send);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (!text.value.trim()) return;
      this.chat.send(text.value);
      text.value = '';
      this.stopTyping();
      text.focus();
    });
    text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    text.addEventListener('input', () => this.typed(text.value));
    return form;
  }

  /** @param {ChatState} state */
  renderChat(state) {
    const c = state.conversation;
    if (!c || !this.log || !this.queueBox || !this.overflowBox || !this.typingLine || !this.footer) return;

    // Queue position and the surge offer.
    if (c.state === 'queued') {
      const lines = [];
      if (c.queue) {
        lines.push(format(this.t('queuePosition'), { n: c.queue.position }));
        if (c.queue.eta != null) {
          lines.push(c.queue.eta < 60 ? this.t('queueEtaSoon') : format(this.t('queueEta'), { min: Math.ceil(c.queue.eta / 60) }));
        }
      } else {
        lines.push(this.t('queueWaiting'));
      }
      setText(this.queueBox, lines.join(' '));
      this.queueBox.hidden = false;
    } else {
      setText(this.queueBox, '');
      this.queueBox.hidden = true;
    }
    const offer = c.state === 'queued' && c.overflow && !this.leaving;
    if (offer && c.overflow && !this.overflowBox.firstChild) {
      const p = el('p');
      p.textContent = format(this.t('overflowOffer'), { min: Math.ceil(c.overflow.eta / 60) });
      const leave = button(this.t('overflowLeave'), 'ghost', () => {
        this.leaving = true;
        this.footerMode = '';
        this.render();
        this.shadowById('sb-leave')?.focus();
      });
      this.overflowBox.append(p, leave);
    }
    if (!offer) this.overflowBox.replaceChildren();
    this.overflowBox.hidden = !offer;

    // The transcript: rows are kept by key, so a replay or an echo changes only what is new.
    if (this.rowsOf !== c.id) {
      this.log.replaceChildren();
      this.rows.clear();
      this.rowsOf = c.id;
    }
    /** @type {Set<string>} */
    const keep = new Set();
    /** @type {HTMLElement | null} */
    let previous = null;
    for (const message of c.messages) {
      const key = `s${message.seq}`;
      keep.add(key);
      let row = this.rows.get(key);
      if (!row) {
        // The echo of a pending message takes the pending row's place.
        const pendingRow = message.clientMsgId ? this.rows.get(`p${message.clientMsgId}`) : undefined;
        if (pendingRow) {
          this.rows.delete(`p${message.clientMsgId}`);
          pendingRow.remove();
        }
        row = this.messageRow(message, c.agent?.name ?? null);
        this.rows.set(key, row);
      }
      placeAfter(this.log, row, previous);
      previous = row;
    }
    for (const pending of state.pending) {
      const key = `p${pending.clientMsgId}`;
      keep.add(key);
      let row = this.rows.get(key);
      if (!row) {
        row = this.pendingRow(pending);
        this.rows.set(key, row);
      }
      this.updatePendingRow(row, pending);
      placeAfter(this.log, row, previous);
      previous = row;
    }
    for (const [key, row] of this.rows) {
      if (!keep.has(key)) {
        row.remove();
        this.rows.delete(key);
      }
    }
    this.log.scrollTop = this.log.scrollHeight;

    const typing = state.agentTyping && c.state === 'assigned';
    setText(this.typingLine, typing ? format(this.t('typing'), { name: c.agent?.name ?? this.t('agent') }) : '');

    // Footer: composer while open, leave form after an overflow choice, the end and rating after.
    const mode = c.state === 'ended' ? `ended:${c.rating ?? ''}:${c.ended?.ticketId ?? ''}` : this.leaving ? 'leave' : 'compose';
    if (mode !== this.footerMode) {
      const hadFocus = this.footer.matches(':focus-within');
      this.footerMode = mode;
      if (mode === 'compose' && this.composer) this.footer.replaceChildren(this.composer);
      else if (mode === 'leave') this.footer.replaceChildren(this.buildLeave());
      else this.footer.replaceChildren(this.buildEnded(c));
      if (hadFocus) /** @type {HTMLElement | null} */ (this.footer.querySelector('textarea, button'))?.focus();
    }
  }

  /** @param {import('./chat.js').Conversation} c */
  buildEnded(c) {
    const box = el('div', { class: 'ended' });
    const reason = c.ended?.reason ?? 'abandoned';
    /** @type {Record<string, StringKey>} */
    const keys = { resolved: 'endedResolved', closed: 'endedClosed', ticketed: 'endedTicketed', abandoned: 'endedAbandoned' };
    const p = el('p', { class: 'ended-reason' });
    p.textContent = this.t(keys[reason] ?? 'endedAbandoned');
    box.append(p);
    if (reason === 'ticketed' && c.ended?.ticketId) {
      const ref = el('p', { class: 'ticket' });
      ref.textContent = format(this.t('ticketRef'), { id: c.ended.ticketId.slice(-12).toUpperCase() });
      ref.title = c.ended.ticketId;
      const next = el('p');
      next.textContent = this.t('ticketNext');
      box.append(ref, next);
    }
    if (reason === 'resolved' || reason === 'closed') {
      if (c.rating) {
        const thanks = el('p', { class: 'thanks' });
        thanks.textContent = this.t('rateThanks');
        box.append(thanks);
      } else {
        const group = el('div', { class: 'rating', role: 'group', 'aria-labelledby': 'sb-rate-q' });
        const q = el('p', { id: 'sb-rate-q' });
        q.textContent = this.t('rateQuestion');
        const stars = el('div', { class: 'stars' });
        for (let n = 1; n <= 5; n += 1) {
          const star = button('', 'star', () => this.chat.rate(n));
          star.setAttribute('aria-label', format(this.t('rateStar'), { n }));
          star.dataset.score = String(n);
          star.append(icon('M12 3l2.7 5.6 6.1.9-4.4 4.3 1 6.1L12 17l-5.4 2.9 1-6.1L3.2 9.5l6.1-.9z'));
          stars.append(star);
        }
        group.append(q, stars);
        box.append(group);
      }
    }
    box.append(button(this.t('newChat'), 'ghost wide', () => this.chat.newChat()));
    return box;
  }

  /**
   * @param {Message} message
   * @param {string | null} agentName
   */
  messageRow(message, agentName) {
    const row = el('div', { class: `msg ${message.from}` });
    const who = el('span', { class: 'visually-hidden' });
    who.textContent = `${message.from === 'customer' ? this.t('you') : message.from === 'agent' ? agentName ?? this.t('agent') : this.t('notice')}: `;
    const bubble = el('p', { class: 'bubble', dir: 'auto' });
    appendText(bubble, message.text, message.from === 'agent');
    row.append(who, bubble);
    if (message.from === 'customer') {
      const state = el('span', { class: 'state delivered' });
      state.textContent = this.t('delivered');
      row.append(state);
    }
    return row;
  }

  /** @param {PendingMessage} pending */
  pendingRow(pending) {
    const row = el('div', { class: 'msg customer pending' });
    const who = el('span', { class: 'visually-hidden' });
    who.textContent = `${this.t('you')}: `;
    const bubble = el('p', { class: 'bubble', dir: 'auto' });
    bubble.textContent = pending.text;
    const state = el('span', { class: 'state' });
    row.append(who, bubble, state);
    return row;
  }

  /** @param {HTMLElement} row @param {PendingMessage} pending */
  updatePendingRow(row, pending) {
    const state = /** @type {HTMLElement} */ (row.querySelector('.state'));
    const failed = pending.state === 'failed';
    const label = failed
      ? this.t('failed')
      : pending.state === 'retrying' || !this.chat.client.isOpen || navigator.onLine === false
        ? this.t('waiting')
        : this.t('sending');
    const kind = failed ? 'failed' : 'sending';
    if (state.dataset.kind === `${kind}:${label}`) return;
    state.dataset.kind = `${kind}:${label}`;
    state.className = `state ${kind}`;
    state.replaceChildren(document.createTextNode(label));
    if (failed) {
      if (pending.error) state.title = pending.error;
      const retry = button(this.t('retry'), 'link', () => this.chat.retry(pending.clientMsgId));
      state.append(' ', retry);
    }
  }

  // ---- typing ----

  /** @param {string} value */
  typed(value) {
    clearTimeout(this.typingIdle);
    if (!value.trim()) {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    // "on" again every few seconds, so an agent whose "on" was lost still sees it.
    if (now - this.typingSentAt > TYPING_REPEAT_MS) {
      this.typingSentAt = now;
      this.chat.typing(true);
    }
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping() {
    clearTimeout(this.typingIdle);
    if (this.typingSentAt) {
      this.typingSentAt = 0;
      this.chat.typing(false);
    }
  }

  // ---- helpers ----

  focusFirst() {
    const target = /** @type {HTMLElement | null} */ (
      this.body?.querySelector('#sb-composer, select, textarea, button') ?? this.panel?.querySelector('button.close')
    );
    target?.focus();
  }

  /** @param {string} id */
  shadowById(id) {
    return /** @type {HTMLElement | null} */ (this.options.root.getElementById(id));
  }

  /** @param {string} id */
  topicLabel(id) {
    const configured = this.settings?.topics.find((t) => t.id === id)?.labels ?? {};
    const builtIn = /** @type {Record<string, string>} */ (/** @type {unknown} */ (this.strings))[`topic_${id}`];
    return configured[this.options.lang] ?? builtIn ?? configured.en ?? id.replace(/_/g, ' ');
  }

  /** @param {StringKey} key */
  t(key) {
    return this.strings?.[key] ?? key;
  }
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attributes]
 * @param {Node[]} [children]
 * @returns {HTMLElement}
 */
function el(tag, attributes = {}, children = []) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  element.append(...children);
  return element;
}

/**
 * @param {string} label
 * @param {string} className
 * @param {() => void} onClick
 */
function button(label, className, onClick) {
  const b = /** @type {HTMLButtonElement} */ (el('button', { type: 'button', class: className }));
  b.textContent = label;
  b.addEventListener('click', onClick);
  return b;
}

/** @param {string} path an SVG path in a 24×24 box */
function icon(path) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', path);
  svg.append(p);
  return svg;
}

/** @param {HTMLElement} element @param {string} text */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/**
 * Put `row` right after `previous` (first when null), moving it only if it is
 * elsewhere, so rows already in place are not touched.
 * @param {HTMLElement} list
 * @param {HTMLElement} row
 * @param {HTMLElement | null} previous
 */
function placeAfter(list, row, previous) {
  const expected = previous ? previous.nextSibling : list.firstChild;
  if (expected !== row) list.insertBefore(row, expected);
}

/**
 * Text as text; in agents' messages, http(s) URLs become links that open in a
 * new tab without a reference back to this page.
 * @param {HTMLElement} target
 * @param {string} text
 * @param {boolean} linkify
 */
export function appendText(target, text, linkify) {
  if (!linkify) {
    target.textContent = text;
    return;
  }
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const start = match.index ?? 0;
    // Trailing punctuation belongs to the sentence, not the URL.
    const raw = match[0].replace(/[.,;:!?)\]]+$/, '');
    /** @type {URL | null} */
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) continue;
    target.append(document.createTextNode(text.slice(last, start)));
    const a = /** @type {HTMLAnchorElement} */ (el('a', { rel: 'noopener noreferrer', target: '_blank' }));
    a.href = url.href;
    a.textContent = raw;
    target.append(a);
    last = start + raw.length;
  }
  target.append(document.createTextNode(text.slice(last)));
}

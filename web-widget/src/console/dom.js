// @ts-check
/**
 * The few DOM helpers the console's views share. Text reaches the page only
 * through `textContent` (`el`'s `text`), never as HTML.
 */

import en from '../i18n/en.js';

/**
 * @param {string} tag
 * @param {{class?: string, text?: string, attrs?: Record<string, string>, on?: Record<string, (e: any) => void>}} [options]
 * @param {(Node | string | null | undefined | false)[]} [children]
 * @returns {HTMLElement}
 */
export function el(tag, options = {}, children = []) {
  const element = document.createElement(tag);
  if (options.class) element.className = options.class;
  if (options.text != null) element.textContent = options.text;
  for (const [name, value] of Object.entries(options.attrs ?? {})) element.setAttribute(name, value);
  for (const [name, handler] of Object.entries(options.on ?? {})) element.addEventListener(name, handler);
  for (const child of children) if (child) element.append(child);
  return element;
}

/**
 * @param {string} label
 * @param {() => void} onClick
 * @param {string} [className]
 */
export function button(label, onClick, className = '') {
  return /** @type {HTMLButtonElement} */ (
    el('button', { class: className, text: label, attrs: { type: 'button' }, on: { click: onClick } })
  );
}

/**
 * A `<select>` with its options.
 * @param {string} id
 * @param {Array<[string, string]>} options value, label
 * @param {string} [value]
 */
export function select(id, options, value) {
  const s = /** @type {HTMLSelectElement} */ (el('select', { attrs: { id } }));
  for (const [v, label] of options) s.append(el('option', { text: label, attrs: { value: v } }));
  if (value != null) s.value = value;
  return s;
}

/**
 * A labelled field.
 * @param {string} label
 * @param {HTMLElement} control with an id
 */
export function field(label, control) {
  return el('div', { class: 'field' }, [el('label', { text: label, attrs: { for: control.id } }), control]);
}

/**
 * A modal `<dialog>` (the browser keeps focus inside it and closes it on
 * Escape), resolving with what `build` hands back through `done`, or null
 * when dismissed. Focus returns to what had it.
 * @template T
 * @param {string} title
 * @param {(done: (value: T) => void) => Node[]} build
 * @returns {Promise<T | null>}
 */
export function modal(title, build) {
  const opener = /** @type {HTMLElement | null} */ (document.activeElement);
  return new Promise((resolve) => {
    const dialog = /** @type {HTMLDialogElement} */ (el('dialog', { attrs: { 'aria-labelledby': 'modal-title' } }));
    let result = /** @type {T | null} */ (null);
    const done = (/** @type {T} */ value) => {
      result = value;
      dialog.close();
    };
    dialog.append(el('h2', { text: title, attrs: { id: 'modal-title' } }), ...build(done));
    dialog.addEventListener('close', () => {
      dialog.remove();
      opener?.focus();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * Yes or no, as a modal.
 * @param {string} question
 * @param {string} yes
 */
export function confirmAction(question, yes) {
  return modal(question, (done) => [
    el('div', { class: 'row' }, [button(yes, () => done(true), 'primary'), button('Cancel', () => done(false))]),
  ]);
}

/** "3 min", "1 h 5 min" @param {number} secs */
export function duration(secs) {
  if (secs < 60) return `${secs} s`;
  const min = Math.floor(secs / 60);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** English labels the configuration gives (`[widget.topic_labels]`), once loaded. */
/** @type {Record<string, string>} */
const configuredLabels = {};

/**
 * A topic as people name it: the configured English label, else the widget's
 * English label for the default topics, else the id as words.
 * @param {string} topic
 */
export function topicLabel(topic) {
  const known = configuredLabels[topic] ?? /** @type {Record<string, string>} */ (/** @type {unknown} */ (en))[`topic_${topic}`];
  if (known) return known;
  const words = topic.replace(/_/g, ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** @type {Promise<string[]> | null} */
let topicList = null;

/**
 * The server's topics (`routing.topics`, in its order), from the public
 * widget settings, asked once per page; if the server cannot say, the
 * default topics the strings table names.
 * @returns {Promise<string[]>}
 */
export function topics() {
  topicList ??= fetch('/api/widget/settings')
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((/** @type {{topics: {id: string, labels: Record<string, string>}[]}} */ settings) => {
      for (const t of settings.topics) if (t.labels.en) configuredLabels[t.id] = t.labels.en;
      return settings.topics.map((t) => t.id);
    })
    .catch(() => {
      topicList = null; // ask again next time
      return Object.keys(en)
        .filter((k) => k.startsWith('topic_'))
        .map((k) => k.slice('topic_'.length));
    });
  return topicList;
}

/** Where a console page keeps its token: this tab only. */
export const TOKEN_KEY = 'switchboard:console:token';

/** sessionStorage, or null where the browser refuses it. */
export function tabStorage() {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

/**
 * The sign-in form of a console page; `onToken` gets the token (also kept in
 * this tab's storage), from the submit's event handler, so a gesture-gated
 * API (audio) may be unlocked there.
 * @param {{title: string, intro: string, label: string, problem?: string}} text
 * @param {(token: string) => void} onToken
 */
export function signInForm({ title, intro, label, problem = '' }, onToken) {
  const token = /** @type {HTMLInputElement} */ (
    el('input', { attrs: { id: 'token', type: 'password', autocomplete: 'current-password', required: '' } })
  );
  const form = el('form', { class: 'signin', attrs: { 'aria-labelledby': 'signin-title' } }, [
    el('h1', { text: title, attrs: { id: 'signin-title' } }),
    el('p', { text: intro }),
    field(label, token),
    problem ? el('p', { class: 'problem', text: problem, attrs: { role: 'alert' } }) : null,
    el('button', { class: 'primary', text: 'Sign in', attrs: { type: 'submit' } }),
  ]);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = token.value.trim();
    if (!value) return;
    tabStorage()?.setItem(TOKEN_KEY, value);
    onToken(value);
  });
  return { form, input: token };
}

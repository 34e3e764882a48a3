// @ts-check
/**
 * switchboard's widget loader: the one script the exchange's pages load.
 *
 *   <script src="https://chat.example.com/widget.js" async></script>
 *
 * It paints the launcher and defines `window.Switchboard`, and nothing else:
 * no socket, no request, until the visitor opens the chat (or a conversation
 * of theirs is open already). The panel and the protocol client load on first
 * open, from a path that names this build (`/widget/<version>/`), so they can
 * be cached for good. Everything is rendered in an open shadow root.
 */
(() => {
  performance.mark('switchboard:script-start');
  /** Replaced by the server with the assets' version when it serves this file. */
  const VERSION = '__SWITCHBOARD_ASSET_VERSION__';
  const script = /** @type {HTMLScriptElement | null} */ (document.currentScript);
  const w = /** @type {any} */ (window);
  if (!script || w.Switchboard?.version) return; // loaded twice: the first one serves

  const src = new URL(script.src, location.href);
  const data = script.dataset;
  const apiBase = src.origin;
  const assets = new URL(`/widget/${VERSION}/`, src).href;
  const wsUrls = (data.server || src.origin)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(customerEndpoint);

  /** Languages with a table (i18n.js); `data-language`, then the page's, then the browser's. */
  const LANGUAGES = ['en', 'zh', 'ru', 'es', 'tr', 'vi', 'ar'];
  const lang =
    [data.language, document.documentElement.lang, ...navigator.languages]
      .map((tag) => (tag || '').toLowerCase().split(/[-_]/)[0])
      .find((code) => LANGUAGES.includes(code)) || 'en';
  const LABELS = /** @type {Record<string, [string, string]>} */ ({
    en: ['Chat with support', '{n} unread'],
    zh: ['联系在线客服', '{n} 条未读'],
    ru: ['Чат с поддержкой', 'непрочитанных: {n}'],
    es: ['Chatear con soporte', '{n} sin leer'],
    tr: ['Destekle sohbet et', '{n} okunmamış'],
    vi: ['Chat với bộ phận hỗ trợ', '{n} chưa đọc'],
    ar: ['الدردشة مع الدعم', '{n} غير مقروءة'],
  })[lang];

  /** @type {Map<string, Set<(detail: any) => void>>} */
  const listeners = new Map();
  /** @type {any} the panel's controller, once loaded */
  let widget = null;
  /** @type {Promise<any> | null} */
  let loading = null;
  let identity = /** @type {string | null} */ (null);
  /** @type {Record<string, string>} */
  let metadata = {};
  let wantOpen = false;

  const host = document.createElement('div');
  host.id = 'switchboard-widget';
  const root = host.attachShadow({ mode: 'open' });
  const sheet = new CSSStyleSheet();
  // The host page may restyle everything (even `* { all: unset !important }`):
  // !important rules of the shadow tree win over the page's on the host.
  sheet.replaceSync(`
:host{all:initial!important;display:block!important;position:fixed!important;inset:auto 0 0 auto!important;width:0!important;height:0!important;z-index:2147483000!important;visibility:visible!important;opacity:1!important}
.launcher{position:fixed;inset-block-end:24px;inset-inline-end:24px;width:60px;height:60px;margin:0;padding:0;border:0;border-radius:50%;background:var(--sb-accent,#0b57d0);color:#fff;box-shadow:0 6px 20px rgb(0 0 0/.3);cursor:pointer;display:grid;place-items:center}
.launcher:focus-visible{outline:3px solid #f0b400;outline-offset:3px}
.launcher svg{width:28px;height:28px;fill:currentColor}
.badge{position:absolute;top:-4px;inset-inline-end:-4px;min-width:22px;height:22px;padding:0 6px;box-sizing:border-box;border-radius:11px;background:#b3261e;color:#fff;font:600 12px/22px system-ui,sans-serif;text-align:center}
.badge[hidden]{display:none}`);
  root.adoptedStyleSheets = [sheet];
  if (data.accent && /^#[0-9a-f]{6}$/i.test(data.accent)) host.style.setProperty('--sb-accent', data.accent);

  const launcher = document.createElement('button');
  launcher.type = 'button';
  launcher.className = 'launcher';
  launcher.dir = lang === 'ar' ? 'rtl' : 'ltr';
  launcher.setAttribute('aria-label', LABELS[0]);
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', 'sb-panel');
  const svgNs = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(svgNs, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  const path = document.createElementNS(svgNs, 'path');
  path.setAttribute('d', 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z');
  svg.append(path);
  const badge = document.createElement('span');
  badge.className = 'badge';
  badge.hidden = true;
  badge.setAttribute('aria-hidden', 'true');
  launcher.append(svg, badge);
  launcher.addEventListener('click', () => {
    if (widget?.isOpen) api.close();
    // Offline at the first open: nothing to show yet; the next click tries again.
    else api.open().catch(() => {});
  });
  root.append(launcher);

  /** @param {string} name @param {any} [detail] */
  function emit(name, detail) {
    if (name === 'unread') {
      const n = detail?.count ?? 0;
      badge.textContent = n > 99 ? '99+' : String(n);
      badge.hidden = n === 0;
      launcher.setAttribute('aria-label', n ? `${LABELS[0]} (${LABELS[1].replace('{n}', String(n))})` : LABELS[0]);
    }
    for (const fn of listeners.get(name) ?? []) {
      try {
        fn(detail);
      } catch (error) {
        setTimeout(() => {
          throw error; // the host page's bug, reported, never the widget's undoing
        });
      }
    }
  }

  function load() {
    loading ??= import(`${assets}panel.js`).catch((error) => {
      loading = null; // offline at the first open: the next click tries again
      throw error;
    }).then((module) => {
      widget = module.createWidget({
        root,
        launcher,
        lang,
        wsUrls,
        apiBase,
        topic: data.topic || null,
        identity,
        metadata,
        emit,
      });
      return widget;
    });
    return loading;
  }

  const api = {
    version: VERSION,
    /** @param {string | null} token the exchange's signed identity token (protocol §3) */
    identify(token) {
      identity = token || null;
      widget?.identify(identity);
    },
    open() {
      wantOpen = true;
      return load().then((wd) => {
        if (wantOpen) return wd.open();
      });
    },
    close() {
      wantOpen = false;
      widget?.close();
    },
    /** @param {Record<string, string>} values pre-filled context for the agent (`uid`, `txid`, …) */
    setMetadata(values) {
      /** @type {Record<string, string>} */
      const clean = {};
      for (const [k, v] of Object.entries(values || {})) if (v != null) clean[k] = String(v);
      metadata = { ...metadata, ...clean };
      widget?.setMetadata(clean);
    },
    /**
     * @param {string} name `ready`, `open`, `close`, `unread`, `assigned`, `ended`
     * @param {(detail: any) => void} fn
     * @returns {() => void} removes the listener
     */
    on(name, fn) {
      if (!listeners.has(name)) listeners.set(name, new Set());
      listeners.get(name)?.add(fn);
      return () => api.off(name, fn);
    },
    /** @param {string} name @param {(detail: any) => void} fn */
    off(name, fn) {
      listeners.get(name)?.delete(fn);
    },
  };

  // Calls made before this script ran (the stub snippet in the README).
  const queued = Array.isArray(w.Switchboard?.q) ? w.Switchboard.q : [];
  w.Switchboard = api;
  for (const [name, args] of queued) {
    const method = /** @type {any} */ (api)[name];
    if (typeof method === 'function') method.apply(api, args);
  }

  function mount() {
    (document.body || document.documentElement).append(host);
    requestAnimationFrame(() =>
      setTimeout(() => {
        performance.mark('switchboard:launcher-painted');
        emit('ready');
      }),
    );
    if (data.open !== undefined) api.open();
    else if (hasOpenConversation()) load(); // its messages count as unread meanwhile
  }
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });

  /** What chat.js keeps in localStorage: an open conversation means a socket now. */
  function hasOpenConversation() {
    try {
      return Boolean(JSON.parse(localStorage.getItem('switchboard:v1') || 'null')?.open);
    } catch {
      return false;
    }
  }

  /** @param {string} url a server (`wss://chat.example.com`) or its customer endpoint */
  function customerEndpoint(url) {
    const u = new URL(url, src);
    if (u.protocol === 'http:') u.protocol = 'ws:';
    if (u.protocol === 'https:') u.protocol = 'wss:';
    if (u.pathname === '/' || u.pathname === '') u.pathname = '/ws/customer';
    return u.href;
  }
})();

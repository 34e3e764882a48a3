// @ts-check
/**
 * The demo page's own script: the stub that queues calls made before
 * widget.js has loaded, then what an exchange page would do with the API.
 */
const w = /** @type {any} */ (window);
w.Switchboard = w.Switchboard || { q: [] };
for (const name of ['identify', 'open', 'close', 'setMetadata', 'on']) {
  w.Switchboard[name] =
    w.Switchboard[name] || ((/** @type {unknown[]} */ ...args) => w.Switchboard.q.push([name, args]));
}

// `?lang=ar` shows the page, and so the widget, in another language.
const lang = new URLSearchParams(location.search).get('lang');
if (lang && /^[a-z]{2}$/.test(lang)) {
  document.documentElement.lang = lang;
  if (lang === 'ar') document.documentElement.dir = 'rtl';
}

// The page knows who is logged in: its UID is context for the agent.
w.Switchboard.setMetadata({ uid: '31415926' });

document.addEventListener('click', (event) => {
  const target = /** @type {HTMLElement} */ (event.target);
  const ask = target.closest?.('button.ask');
  if (!(ask instanceof HTMLElement)) return;
  w.Switchboard.setMetadata({ txid: ask.dataset.txid });
  w.Switchboard.open();
});

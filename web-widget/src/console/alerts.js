// @ts-check
/**
 * Alerts that cannot fail silently: a sound, a count in the page title and a
 * desktop notification, for a new chat and for a customer message in a chat
 * not in view; urgent chats alert again until the agent opens them.
 *
 * Browsers refuse to play sound before a user gesture, so the AudioContext is
 * created (unlocked) in the sign-in click; `unlock` must be called from it.
 */

const REPEAT_URGENT_MS = 15_000;

/**
 * @typedef {object} AlertRecord what the last alert did, for the settings view and the tests
 * @property {number} at ms
 * @property {string} why
 * @property {boolean} sound
 * @property {boolean} notification
 */

export class Alerts {
  /** @param {string} baseTitle */
  constructor(baseTitle) {
    this.baseTitle = baseTitle;
    /** @type {AudioContext | null} */
    this.audio = null;
    this.count = 0;
    /** @type {Map<string, ReturnType<typeof setInterval>>} */
    this.urgent = new Map();
    /** @type {AlertRecord[]} */
    this.log = [];
  }

  /** From a click: sound can play from now on, and notifications may be asked for. */
  unlock() {
    try {
      this.audio ??= new AudioContext();
      void this.audio.resume();
    } catch {
      this.audio = null;
    }
    if (typeof Notification !== 'undefined' && Notification.permission === 'default') {
      void Notification.requestPermission();
    }
  }

  get soundReady() {
    return this.audio !== null && this.audio.state === 'running';
  }

  get notificationsAllowed() {
    return typeof Notification !== 'undefined' && Notification.permission === 'granted';
  }

  /**
   * @param {string} why what the notification says
   * @param {{chat?: string, urgent?: boolean, count?: boolean}} [options]
   */
  fire(why, { chat, urgent = false, count = true } = {}) {
    if (count) {
      this.count += 1;
      this.showCount();
    }
    const sound = this.beep(urgent);
    let notification = false;
    if (this.notificationsAllowed) {
      try {
        new Notification('switchboard', { body: why, tag: chat ?? why, requireInteraction: urgent });
        notification = true;
      } catch {
        notification = false;
      }
    }
    this.log.push({ at: Date.now(), why, sound, notification });
    if (this.log.length > 50) this.log.shift();
    // With the page's time origin, an epoch time: tests measure from the server's frame to here.
    performance.mark('switchboard:alert', { detail: { why, epochMs: performance.timeOrigin + performance.now() } });
    if (urgent && chat && !this.urgent.has(chat)) {
      this.urgent.set(
        chat,
        setInterval(() => this.fire(why, { chat, urgent: true, count: false }), REPEAT_URGENT_MS),
      );
    }
  }

  /** The agent opened the chat: an urgent one stops alerting. @param {string} chat */
  seen(chat) {
    clearInterval(this.urgent.get(chat));
    this.urgent.delete(chat);
  }

  /** The agent looked at the page: the title count goes. */
  clearCount() {
    this.count = 0;
    this.showCount();
  }

  showCount() {
    document.title = this.count ? `(${this.count}) ${this.baseTitle}` : this.baseTitle;
  }

  /** @param {boolean} urgent @returns {boolean} whether a sound was played */
  beep(urgent) {
    if (!this.audio) return false;
    try {
      const now = this.audio.currentTime;
      const tones = urgent ? [880, 660, 880] : [660, 880];
      tones.forEach((frequency, i) => {
        const audio = /** @type {AudioContext} */ (this.audio);
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, now + i * 0.18);
        gain.gain.exponentialRampToValueAtTime(0.25, now + i * 0.18 + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16);
        osc.connect(gain).connect(audio.destination);
        osc.start(now + i * 0.18);
        osc.stop(now + i * 0.18 + 0.17);
      });
      return true;
    } catch {
      return false;
    }
  }

  stop() {
    for (const timer of this.urgent.values()) clearInterval(timer);
    this.urgent.clear();
    this.clearCount();
  }
}

// Content scripts for tabs that were open before the extension started: after an install, an
// update or a re-enable, Chromium does not run declared content scripts in pages already loaded, so
// interaction there would not count and a flattr.com tab could not sign in until reloaded.
// Firefox injects them itself. With the `scripting` permission (and, in Chromium, the content
// scripts' own match patterns as host permissions: no site beyond them) the same files are injected
// into such tabs, once per browser session and whenever the popup finds a page without them. Where
// that is impossible (no `scripting`, a discarded tab, a page the browser protects) the popup says
// "reload this page to count it".
import { callPage, LIVE_KEY } from "./pagecall.js";
import { INJECT_PING_TIMEOUT_MS } from "./settings.js";
import { isFlattrPage, isHttpUrl } from "./urls.js";

export const SWEEP_KEY = "injected";
export const ATTENTION_SCRIPT = "src/content/attention.js";
export const FLATTR_SCRIPT = "src/content/flattr.js";

/** What `ensure` found: the script answers, it was injected now, or it cannot run there. */
export const PRESENT = "present";
export const INJECTED = "injected";
export const IMPOSSIBLE = "impossible";

function eligible(tab) {
  return Boolean(tab) && tab.incognito === false && isHttpUrl(tab.url) && tab.discarded !== true;
}

export class Injector {
  /**
   * @param {object} o  api: tabs, scripting (may be absent), storage.session; onInjected(tab):
   *   the scripts now run in `tab` (the page sends nothing by itself: the background asks it)
   */
  constructor({ api, timers = globalThis, onInjected = () => {} }) {
    this.api = api;
    this.timers = timers;
    this.onInjected = onInjected;
  }

  /** Whether a live attention content script runs in `tab`'s top frame. */
  async present(tabId) {
    let timer = null;
    const timeout = new Promise((resolve) => {
      timer = this.timers.setTimeout(() => resolve(false), INJECT_PING_TIMEOUT_MS);
    });
    const ping = Promise.resolve()
      .then(() => callPage(this.api, tabId, LIVE_KEY))
      .then((live) => live === true, () => false);
    try {
      return await Promise.race([ping, timeout]);
    } finally {
      this.timers.clearTimeout(timer);
    }
  }

  /** Make sure a loaded http(s) page of a normal window runs the content scripts. */
  async ensure(tab) {
    if (!eligible(tab) || tab.status !== "complete") return eligible(tab) ? PRESENT : IMPOSSIBLE;
    if (await this.present(tab.id)) return PRESENT;
    if (typeof this.api.scripting?.executeScript !== "function") return IMPOSSIBLE;
    const files = isFlattrPage(tab.url) ? [FLATTR_SCRIPT, ATTENTION_SCRIPT] : [ATTENTION_SCRIPT];
    try {
      await this.api.scripting.executeScript({ target: { tabId: tab.id, frameIds: [0] }, files });
    } catch {
      return IMPOSSIBLE;
    }
    this.onInjected(tab);
    return INJECTED;
  }

  /** Once per browser session (storage.session is emptied by an update or a re-enable). */
  async sweep() {
    const session = this.api.storage?.session;
    try {
      if ((await session.get(SWEEP_KEY))?.[SWEEP_KEY]) return 0;
      await session.set({ [SWEEP_KEY]: true });
    } catch {
      // storage.session unavailable: sweep anyway (pages that answer are left alone)
    }
    const tabs = await this.api.tabs.query({}).catch(() => []);
    const outcomes = await Promise.all(tabs.filter(eligible).map((tab) => this.ensure(tab)));
    return outcomes.filter((o) => o === INJECTED).length;
  }
}

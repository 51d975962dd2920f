// The Sign-in button: open https://flattr.com/oauth/ext (or focus a tab already showing it), and
// close that tab once the token arrived from it, keeping its window open. Browser API injected.
import { SIGN_IN_URL } from "./settings.js";
import { isSignInPage } from "./urls.js";

// tabs.query match pattern for the sign-in page with any query; isSignInPage() does the exact check.
const SIGN_IN_PATTERN = `${SIGN_IN_URL}*`;

export class SignIn {
  constructor({ api }) {
    this.api = api;
  }

  /** Focus an existing sign-in tab in a normal window, or open one. Returns the tab. */
  async open() {
    const { tabs, windows } = this.api;
    const found = (await tabs.query({ url: SIGN_IN_PATTERN }))
      .filter((t) => !t.incognito && isSignInPage(t.url));
    if (found.length > 0) {
      const tab = found[0];
      await tabs.update(tab.id, { active: true });
      await windows.update(tab.windowId, { focused: true });
      return tab;
    }
    const windowId = await this._normalWindow();
    if (windowId === null) {
      // Only private windows are open: sign-in must not happen there.
      const win = await windows.create({ url: SIGN_IN_URL, incognito: false, focused: true });
      return win.tabs?.[0] ?? null;
    }
    const tab = await tabs.create({ windowId, url: SIGN_IN_URL, active: true });
    await windows.update(windowId, { focused: true });
    return tab;
  }

  /** Close the sign-in tab; if it is the last tab of its window, open a new tab there first. */
  async close(tab) {
    const { tabs } = this.api;
    const siblings = await tabs.query({ windowId: tab.windowId });
    if (siblings.length <= 1) await tabs.create({ windowId: tab.windowId, active: true });
    await tabs.remove(tab.id);
  }

  async _normalWindow() {
    const { windows } = this.api;
    try {
      const last = await windows.getLastFocused({ windowTypes: ["normal"] });
      if (last && !last.incognito) return last.id;
    } catch {
      // no window at all
    }
    const all = await windows.getAll({ windowTypes: ["normal"] });
    const normal = all.find((w) => !w.incognito);
    return normal ? normal.id : null;
  }
}

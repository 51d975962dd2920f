// The background side of the popup/options API (docs/extension.md). Every answer is
// `{ok: true, ...}` (host results are spread into it) or `{ok: false, error: {code, message,
// command?}}`; nothing throws to the caller.
import * as build from "./protocol.js";
import { errorOf } from "./host.js";
import {
  EXPORT_MAX_PAGES,
  EXPORT_TIMEOUT_MS,
  OPEN_DASHBOARD_TIMEOUT_MS,
  MAX_SITE_LENGTH,
  RETRY_NOW_WAIT_MS,
} from "./settings.js";
import { IMPOSSIBLE } from "./inject.js";
import { isHttpUrl } from "./urls.js";
import { UI } from "../common/messages.js";

function fail(code, message, command) {
  const error = { code, message };
  if (command) error.command = command;
  return { ok: false, error };
}

export class UiApi {
  /**
   * @param {object} o  api (tabs), host, tracker, status (StatusCache), signIn (SignIn),
   *   changed (() => void: tell the UI and the toolbar), now (() => unix seconds)
   */
  constructor({ api, host, tracker, status, signIn, injector = null, changed = () => {},
    now = () => Date.now() / 1000 }) {
    Object.assign(this, { api, host, tracker, status, signIn, injector, changed, now });
    this.routes = {
      [UI.STATE]: (m) => this.state(m),
      [UI.SIGN_IN]: () => this.signInTab(),
      [UI.FLATTR_NOW]: (m) => this.flattrNow(m),
      [UI.SET_SITE]: (m) => this.setSite(m),
      [UI.SITES]: () => this.call(build.sites()),
      [UI.SET_MODE]: (m) => this.setMode(m),
      [UI.SET_VISIT_FLATTRS]: (m) => this.setVisitFlattrs(m),
      [UI.HISTORY]: (m) => this.call(build.history(m.before, m.limit)),
      [UI.EXPORT]: () => this.exportAll(),
      [UI.SIGN_OUT]: () => this.signOut(),
      [UI.FLUSH]: () => this.flush(),
      [UI.OPEN_DASHBOARD]: (m) => this.call(build.openDashboard(m.page), { timeoutMs: OPEN_DASHBOARD_TIMEOUT_MS }),
    };
  }

  handles(kind) {
    return Object.hasOwn(this.routes, kind);
  }

  async handle(message) {
    try {
      return await this.routes[message.kind](message);
    } catch (err) {
      return { ok: false, error: errorOf(err) };
    }
  }

  /** One host request; its result spread into the answer. */
  async call(body, options) {
    try {
      const result = await this.host.request(body, options);
      return { ok: true, ...result };
    } catch (err) {
      return { ok: false, error: errorOf(err) };
    }
  }

  async state({ tabId }) {
    // The user may just have installed or upgraded the host: look, and wait a moment for it. A
    // host still connecting (the worker just started) is waited for too: the popup already shows
    // the last status, and "Connecting…" would only replace it for a moment.
    if (this.host.retryNow() || this.host.info().state === "connecting") {
      await this.host.settled(RETRY_NOW_WAIT_MS);
    }
    const tab = Number.isInteger(tabId) ? await this.api.tabs.get(tabId).catch(() => null) : null;
    const answer = {
      ok: true,
      host: this.host.info(),
      ...this.status.view(),
      page: null,
      tab: null,
    };
    if (tab && tab.incognito === false) {
      answer.tab = { url: tab.url ?? "", title: tab.title ?? "" };
      // A page open since before the extension started may lack the content script.
      if (this.injector && isHttpUrl(tab.url)) {
        answer.tab.reload = (await this.injector.ensure(tab)) === IMPOSSIBLE;
      }
    } else if (tab) {
      answer.tab = { url: "", title: "", incognito: true }; // nothing of a private tab
    }
    if (!this.host.isReady()) return answer;
    const wantPage = answer.tab !== null && !answer.tab.incognito && isHttpUrl(tab.url);
    let pageStatus = null;
    if (wantPage) {
      // Attention credited so far goes first, so that the progress shown is current.
      await this.tracker.flush();
      const page = await this.tracker.page(tab.id);
      [, pageStatus] = await Promise.all([
        this.status.refresh(),
        this.host.request(build.pageStatus({ url: tab.url, meta: page?.meta })).catch(() => null),
      ]);
    } else {
      await this.status.refresh();
    }
    return { ...answer, ...this.status.view(), page: pageStatus };
  }

  async signInTab() {
    const tab = await this.signIn.open();
    return { ok: true, tabId: tab?.id ?? null };
  }

  async flattrNow({ tabId }) {
    const tab = Number.isInteger(tabId) ? await this.api.tabs.get(tabId).catch(() => null) : null;
    if (!tab) return fail("no_tab", "That tab is gone.");
    if (tab.incognito !== false) return fail("private", "Nothing is flattred from private windows.");
    if (!isHttpUrl(tab.url)) return fail("not_http", "Only web pages (http and https) can be flattred.");
    await this.tracker.flush();
    const page = await this.tracker.page(tabId);
    const answer = await this.call(build.flattrNow({
      url: tab.url,
      title: tab.title,
      meta: page?.meta,
    }));
    if (answer.ok) {
      await this.status.refresh();
      this.changed();
    }
    return answer;
  }

  async setSite({ site, setting }) {
    if (typeof site !== "string" || site.length === 0 || site.length > MAX_SITE_LENGTH) {
      return fail("invalid_request", "site must be a host name");
    }
    if (!build.SITE_SETTINGS.includes(setting)) {
      return fail("invalid_request", `setting must be one of ${build.SITE_SETTINGS.join(", ")}`);
    }
    const answer = await this.call(build.setSite(site, setting));
    if (answer.ok) this.changed();
    return answer;
  }

  async setMode({ mode }) {
    if (!build.MODES.includes(mode)) {
      return fail("invalid_request", `mode must be one of ${build.MODES.join(", ")}`);
    }
    const answer = await this.call(build.setMode(mode));
    if (answer.ok) {
      this.status.mode = mode;
      this.changed();
    }
    return answer;
  }

  async setVisitFlattrs({ enabled }) {
    if (typeof enabled !== "boolean") return fail("invalid_request", "enabled must be true or false");
    const answer = await this.call(build.setVisitFlattrs(enabled));
    if (answer.ok) {
      this.status.visitFlattrs = answer.enabled;
      this.changed();
    }
    return answer;
  }

  async signOut() {
    const answer = await this.call(build.signOut());
    if (answer.ok) {
      this.status.account = { ...answer };
      delete this.status.account.ok;
      this.changed();
    }
    return answer;
  }

  /** Credit and send attention now, and run the host's due work, retrying failed flattrs. */
  async flush() {
    await this.tracker.flush();
    const answer = await this.call(build.tick(true));
    if (answer.ok) this.status.refreshSoon();
    return answer;
  }

  /** Every export page joined: `{ok, data: {exported_at, host_version, parts: {part: rows}}}`. */
  async exportAll() {
    const parts = {};
    let cursor = null;
    for (let i = 0; i < EXPORT_MAX_PAGES; i++) {
      let page;
      try {
        page = await this.host.request(build.exportPage(cursor), { timeoutMs: EXPORT_TIMEOUT_MS });
      } catch (err) {
        return { ok: false, error: errorOf(err) };
      }
      const rows = Array.isArray(page.rows) ? page.rows : [];
      const part = typeof page.part === "string" ? page.part : "rows";
      parts[part] = (parts[part] ?? []).concat(rows);
      if (typeof page.cursor !== "string") {
        return {
          ok: true,
          data: {
            exported_at: new Date(this.now() * 1000).toISOString(),
            host_version: this.host.info().hostVersion ?? null,
            parts,
          },
        };
      }
      cursor = page.cursor;
    }
    return fail("export_too_long", "The export did not finish; try again.");
  }
}

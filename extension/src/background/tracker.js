// Wires browser events to the attention machine, keeps its state and the unsent segments in
// storage.session (a service-worker restart loses at most the open window's last slice), and
// sends segments to the host in small batches: every FLUSH_INTERVAL_MS while time is earned, and
// right away on navigation and tab close.
//
// Private windows: an incognito tab is never handed to the machine, never stored, and its URL is
// never kept; content scripts there stay silent, and their messages are dropped here as well.
//
// Visits: each top-level navigation of a normal-window tab to another http(s) page is also sent
// (`visits`) for daily visit flattrs (docs/attention.md#daily-visit-flattrs).
import { AttentionMachine, NO_WINDOW } from "./attention.js";
import { Outbox } from "./outbox.js";
import * as build from "./protocol.js";
import { callPage, META_KEY } from "./pagecall.js";
import {
  FLUSH_INTERVAL_MS,
  IDLE_DETECTION_SECONDS,
  MAX_BATCH_VISITS,
  MAX_PENDING_VISITS,
  MAX_URL_LENGTH,
  PAGE_ASK_RETRY_MS,
  SAVE_DEBOUNCE_MS,
} from "./settings.js";
import { isHttpUrl, withoutHash } from "./urls.js";
import { ACTIVITY_EVENTS, PAGE } from "../common/messages.js";
import { realTimers } from "./timers.js";

export const STORAGE_KEY = "tracker";

export class Tracker {
  /**
   * @param {object} o
   * @param {object} o.api  browser API (tabs, windows, idle, storage.session)
   * @param {object} o.host  HostConnection
   * @param {() => number} [o.clock]  unix seconds
   * @param {(results: object[]) => void} [o.onResults]  host answers to `attention`
   * @param {(tabId: number) => void} [o.onPageChanged]  the focused tab's page changed
   */
  constructor({ api, host, clock = () => Date.now() / 1000, timers = realTimers,
    onResults = () => {}, onPageChanged = () => {} }) {
    this.api = api;
    this.host = host;
    this.clock = clock;
    this.timers = timers;
    this.onResults = onResults;
    this.onPageChanged = onPageChanged;
    this.eventTime = null;
    this.machine = null;
    this.outbox = new Outbox();
    this.visits = []; // unsent {url, visited_at}, oldest first
    this.visitedUrl = new Map(); // tabId → the page its last visit was to (without #fragment)
    this.chain = Promise.resolve();
    this.flushTimer = null;
    this.saveTimer = null;
    this.flushing = null;
    this.ready = null;
  }

  /** Register every listener synchronously (MV3: before the first await), then restore state. */
  start() {
    const { tabs, windows, idle } = this.api;
    tabs.onActivated.addListener(({ tabId, windowId }) =>
      this._event(async (m) => {
        if (!m.knows(tabId)) await this._learn(tabId);
        m.activated(tabId, windowId);
        this.onPageChanged(tabId);
      }));
    tabs.onUpdated.addListener((tabId, change, tab) =>
      this._event((m) => this._updated(m, tabId, change, tab)));
    tabs.onCreated.addListener((tab) => this._event((m) => this._seen(m, tab)));
    tabs.onRemoved.addListener((tabId) =>
      this._event((m) => {
        this.visitedUrl.delete(tabId);
        m.closed(tabId);
        return { urgent: true };
      }));
    tabs.onReplaced?.addListener((added, removed) =>
      this._event(async (m) => {
        m.closed(removed);
        await this._learn(added);
        return { urgent: true };
      }));
    tabs.onAttached.addListener((tabId) => this._event((m) => this._learn(tabId)));
    tabs.onZoomChange?.addListener(({ tabId, oldZoomFactor, newZoomFactor }) => {
      if (oldZoomFactor !== newZoomFactor) this._event((m) => m.zoomed(tabId));
    });
    windows.onFocusChanged.addListener((windowId) =>
      this._event((m) => {
        m.focused(windowId === windows.WINDOW_ID_NONE ? NO_WINDOW : windowId);
        const tabId = m.focusedTabId();
        if (tabId !== null) this.onPageChanged(tabId);
      }));
    idle.setDetectionInterval(IDLE_DETECTION_SECONDS);
    idle.onStateChanged.addListener((state) => this._event((m) => m.idleState(state)));
    this.ready = this._restore();
    return this.ready;
  }

  /** `page:activity`, and `page:meta` (a page back from the back/forward cache), from the
   *  attention content script. */
  contentMessage(msg, sender) {
    const tab = sender?.tab;
    if (!tab || tab.incognito !== false || sender.frameId !== 0 || !isHttpUrl(sender.url)) {
      return { ok: false };
    }
    if (msg.kind === PAGE.ACTIVITY) {
      if (!ACTIVITY_EVENTS.includes(msg.event)) return { ok: false };
      this._event((m) => {
        if (!m.knows(tab.id)) m.tab(tab);
        m.activity(tab.id);
      });
      return { ok: true };
    }
    if (msg.kind === PAGE.META) {
      this._event((m) => {
        if (!m.knows(tab.id)) m.tab(tab);
        const page = m.page(tab.id);
        if (!page || withoutHash(page.url) !== withoutHash(sender.url)) return;
        m.meta(tab.id, msg.meta);
        if ("status" in msg) m.loaded(tab.id, Number.isInteger(msg.status) ? msg.status : null);
        this.onPageChanged(tab.id);
      });
      return { ok: true };
    }
    return { ok: false };
  }

  /** What the UI and "Flattr now" know about a tab (null for unknown or private tabs). */
  async page(tabId) {
    await this.ready;
    return this.machine.page(tabId);
  }

  /** Send everything credited so far; resolves when the host answered (or could not). */
  flush() {
    if (this.flushing) return this.flushing;
    this.flushing = this._flush().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** The alarm: credit, send, and keep the flush timer alive while time is being earned. */
  tick() {
    return this._event((m) => m.tick()).then(() => this.flush());
  }

  // --- internals --------------------------------------------------------------------------------

  async _restore() {
    let saved = null;
    try {
      saved = (await this.api.storage.session.get(STORAGE_KEY))?.[STORAGE_KEY] ?? null;
    } catch {
      saved = null; // storage.session unavailable: start afresh
    }
    this.machine = new AttentionMachine({
      clock: () => this.eventTime ?? this.clock(),
      snapshot: saved?.machine ?? null,
    });
    this.outbox = new Outbox({ items: saved?.outbox ?? [], sealed: saved?.sealed ?? null });
    this.visits = Array.isArray(saved?.visits) ? saved.visits.slice(-MAX_PENDING_VISITS) : [];
    const { tabs, windows, idle } = this.api;
    const [all, win, state] = await Promise.all([
      tabs.query({}).catch(() => []),
      windows.getLastFocused().catch(() => null),
      idle.queryState(IDLE_DETECTION_SECONDS).catch(() => "active"),
    ]);
    const m = this.machine;
    const gone = new Set(m.tabIds());
    for (const tab of all) {
      gone.delete(tab.id);
      if (tab.incognito !== false) m.forget(tab.id);
      else m.tab(tab);
    }
    for (const id of gone) m.closed(id);
    m.idleState(state);
    const focused = win?.focused ? win.id : NO_WINDOW;
    if (focused !== m.focusedWindow) m.focused(focused);
    this._after({});
  }

  /** Run a machine update in arrival order, at the time the browser event arrived. */
  _event(fn) {
    const at = this.clock();
    const run = async () => {
      await this.ready;
      this.eventTime = Math.max(at, this.machine.last);
      try {
        const out = await fn(this.machine);
        this._after(out ?? {});
      } finally {
        this.eventTime = null;
      }
    };
    this.chain = this.chain.then(run).catch((err) => console.error("tracker:", err));
    return this.chain;
  }

  async _learn(tabId) {
    try {
      const tab = await this.api.tabs.get(tabId);
      this._seen(this.machine, tab);
    } catch {
      // closed meanwhile
    }
  }

  _seen(m, tab) {
    if (!tab) return;
    if (tab.incognito !== false) m.forget(tab.id);
    else m.tab(tab);
  }

  _updated(m, tabId, change, tab) {
    if (!tab || tab.incognito !== false) {
      m.forget(tabId);
      return {};
    }
    const before = m.page(tabId)?.url ?? null;
    m.tab(tab);
    const navigated = before !== null && withoutHash(before) !== withoutHash(tab.url ?? "");
    // Browsers differ in which update carries the new URL (Firefox may report it with the
    // "loading" status before a `url` change): compare with the last page visited in this tab.
    const last = this.visitedUrl.has(tabId) ? this.visitedUrl.get(tabId) : withoutHash(before ?? "");
    const visited = isHttpUrl(tab.url) && last !== withoutHash(tab.url);
    this.visitedUrl.set(tabId, withoutHash(tab.url ?? ""));
    if (visited) this._visit(tab.url);
    if (change.status === "complete" && isHttpUrl(tab.url)) this.askPage(tabId, tab.url);
    if (navigated || change.status === "complete" || "title" in change) this.onPageChanged(tabId);
    return { urgent: navigated || visited };
  }

  _visit(url) {
    const page = withoutHash(url);
    if (page.length > MAX_URL_LENGTH) return;
    this.visits.push({ url: page, visited_at: this.eventTime ?? this.clock() });
    const over = this.visits.length - MAX_PENDING_VISITS;
    if (over > 0) this.visits.splice(0, over);
  }

  /** Send the visits noted so far; a host without the `visits` capability gets none. */
  async _sendVisits() {
    const caps = this.host.capabilities;
    if (Array.isArray(caps) && caps.length > 0 && !caps.includes("visits")) this.visits = [];
    while (this.visits.length > 0 && this.host.isReady()) {
      const batch = this.visits.slice(0, MAX_BATCH_VISITS);
      try {
        await this.host.request(build.visits(batch));
      } catch (err) {
        if (!err.answered || err.code === "storage_error") break; // keep them for the next flush
        console.warn("visits refused:", err.code, err.message);
      }
      this.visits.splice(0, batch.length);
      this._scheduleSave();
    }
  }

  /**
   * Ask the page's content script, in one call into its world, for what the background learns of
   * a page: its creator metadata and, in the first answer after it started, the main document's
   * load status (a 2xx load restarts the attention window, an error page earns nothing). Asked
   * when the tab has loaded (which covers same-document navigations: the script does not run
   * again then) and after an injection. The page sends nothing at load: see attention.js.
   */
  askPage(tabId, url, retries = 1) {
    Promise.resolve().then(() => callPage(this.api, tabId, META_KEY)).then((answer) => {
      if (answer === null && retries > 0) {
        // No script yet, or the page's copy was orphaned by an update: once more, a little later.
        this.timers.setTimeout(() => this.askPage(tabId, url, retries - 1), PAGE_ASK_RETRY_MS);
        return;
      }
      if (!answer || typeof answer.url !== "string") return;
      if (withoutHash(answer.url) !== withoutHash(url)) return;
      this._event((m) => {
        const page = m.page(tabId);
        if (!page || withoutHash(page.url) !== withoutHash(answer.url)) return;
        m.meta(tabId, answer.meta);
        if ("status" in answer) m.loaded(tabId, Number.isInteger(answer.status) ? answer.status : null);
        this.onPageChanged(tabId);
      });
    }, () => {});
  }

  _after({ urgent = false }) {
    this._scheduleSave();
    if (urgent) {
      this._clearFlushTimer();
      queueMicrotask(() => this.flush());
    } else if (this.flushTimer === null && (this.machine.counting() || this.machine.hasPending())) {
      this.flushTimer = this.timers.setTimeout(() => {
        this.flushTimer = null;
        this.tick();
      }, FLUSH_INTERVAL_MS);
    }
  }

  _clearFlushTimer() {
    if (this.flushTimer !== null) this.timers.clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  async _flush() {
    await this.ready;
    await this.chain;
    this.outbox.add(this.machine.drain());
    this._scheduleSave();
    while (this.outbox.size > 0 && this.host.isReady()) {
      const { id, segments } = this.outbox.peek();
      let result = null;
      try {
        result = await this.host.request(build.attention(segments, id));
        this.outbox.settle();
      } catch (err) {
        // Not sent, no answer (the host may have recorded it) or nothing saved (storage_error):
        // keep the batch sealed under its id; the resend is recorded at most once.
        if (!err.answered || err.code === "storage_error") break;
        this.outbox.settle(); // the host refused it for good: resending cannot help
        console.warn("attention batch refused:", err.code, err.message);
      } finally {
        this._scheduleSave();
      }
      if (result && Array.isArray(result.results)) {
        // A segment the host refused alone (reason "invalid") is a bug here: say which and why.
        for (const r of result.results) {
          if (r?.reason === "invalid") console.warn("attention segment refused:", r.error);
        }
        this.onResults(result.results);
      }
    }
    await this._sendVisits();
    if (this.machine.counting() || this.machine.hasPending()) this._after({});
  }

  _scheduleSave() {
    if (this.saveTimer !== null) return;
    this.saveTimer = this.timers.setTimeout(() => {
      this.saveTimer = null;
      this._save();
    }, SAVE_DEBOUNCE_MS);
  }

  async _save() {
    if (!this.machine) return;
    const value = {
      machine: this.machine.snapshot(),
      outbox: this.outbox.toJSON(),
      sealed: this.outbox.sealed,
      visits: this.visits,
    };
    try {
      await this.api.storage.session.set({ [STORAGE_KEY]: value });
    } catch (err) {
      console.warn("tracker: could not save state:", err?.message ?? err);
    }
  }
}

// The attention state machine (docs/attention.md). Pure: no browser API, an injected
// clock (unix seconds), plain data in and segments out. tracker.js feeds it browser events.
//
// Time is credited in slices: every input first advances the machine to "now", crediting the slice
// since the previous input to whatever was earning during it, then changes the state. So a
// restart of the attention window credits the elapsed time, and 15 s without an event credits
// those 15 s and stops (the deadline caps the slice).
//
// Earning:
// - foreground: the active tab of the focused window, while the attention window is open and the
//   user is neither idle nor locked;
// - audio: every audible, unmuted tab, in the background too, even when idle. A continuous run of
//   AUDIO_PAGE_AFTER_SECONDS makes the page an audio page (kind "audio"); a shorter run counts as
//   ordinary attention. A tab that earns both at once is credited once (as its audio run).
// Nothing is earned by non-http(s) pages nor by a page whose main-frame load failed (status ≥ 400).
// Private/incognito tabs are never stored: not even their URLs are kept.

import * as S from "./settings.js";
import { emptyMeta, sanitizeMeta } from "./meta.js";
import { clip, isWellFormed } from "../common/text.js";
import { isHttpUrl, withoutHash } from "./urls.js";

export const NO_WINDOW = -1;
export const IDLE_STATES = new Set(["active", "idle", "locked"]);
const SNAPSHOT_VERSION = 1;

export const DEFAULT_SETTINGS = Object.freeze({
  windowSeconds: S.ATTENTION_WINDOW_SECONDS,
  audioAfter: S.AUDIO_PAGE_AFTER_SECONDS,
  maxGap: S.MAX_CREDIT_GAP_SECONDS,
  minSegment: S.MIN_SEGMENT_SECONDS,
  decimals: S.SECONDS_DECIMALS,
  errorStatus: S.ERROR_STATUS_MIN,
  maxSegmentSeconds: S.MAX_SEGMENT_SECONDS,
  maxUrlLength: S.MAX_URL_LENGTH,
  maxTitleLength: S.MAX_TITLE_LENGTH,
});

function newTab(id) {
  return {
    id,
    windowId: NO_WINDOW,
    active: false,
    url: "",
    title: "",
    meta: emptyMeta(),
    failed: false,
    audible: false,
    muted: false,
    fg: null, // {seconds, startedAt}: foreground seconds not yet emitted
    audio: null, // {since, seconds, startedAt}: the current audio run
  };
}

export class AttentionMachine {
  /**
   * @param {{clock: () => number, settings?: object, snapshot?: object}} options
   *   clock: unix seconds; snapshot: from snapshot(), to resume after a service-worker restart.
   */
  constructor({ clock, settings = {}, snapshot = null }) {
    this.clock = clock;
    this.s = { ...DEFAULT_SETTINGS, ...settings };
    this.tabs = new Map();
    this.focusedWindow = NO_WINDOW;
    this.idle = "active";
    this.attention = null; // {tabId, until}
    this.last = clock();
    this.done = []; // finished segments waiting for drain()
    if (snapshot) this._load(snapshot);
  }

  // --- inputs -----------------------------------------------------------------------------------

  /** A tab as the browser describes it (tabs.Tab, or part of one). A new URL is a navigation. */
  tab(info) {
    const now = this._advance();
    if (!info || !Number.isInteger(info.id)) return;
    if (info.incognito === true) {
      this._forget(info.id);
      return;
    }
    let tab = this.tabs.get(info.id);
    if (!tab) {
      // Only a full description that says "not private" creates a record: a partial update
      // about an unknown tab may concern a private one.
      if (info.incognito !== false) return;
      tab = newTab(info.id);
      this.tabs.set(info.id, tab);
    }
    if (Number.isInteger(info.windowId) && info.windowId !== tab.windowId) {
      tab.windowId = info.windowId;
    }
    if (info.active === true) this._setActive(tab.windowId, tab.id);
    else if (info.active === false) tab.active = false;
    if (typeof info.url === "string") {
      if (withoutHash(info.url) !== withoutHash(tab.url)) this._navigate(tab, info.url);
      else tab.url = info.url;
    }
    if (typeof info.title === "string") tab.title = clip(info.title, this.s.maxTitleLength);
    if (typeof info.audible === "boolean") tab.audible = info.audible;
    const muted = info.mutedInfo ? info.mutedInfo.muted : info.muted;
    if (typeof muted === "boolean") tab.muted = muted;
    this._syncAudio(tab, now);
    if (this.attention && !this._candidate(this.tabs.get(this.attention.tabId))) {
      this.attention = null;
    }
  }

  /** The main frame of a tab committed a navigation to `url`. */
  navigated(tabId, url) {
    this.tab({ id: tabId, url });
  }

  /** The main-frame document finished loading with HTTP `status` (null when unknown). */
  loaded(tabId, status) {
    const now = this._advance();
    const tab = this.tabs.get(tabId);
    if (!tab) return;
    if (Number.isFinite(status) && status >= this.s.errorStatus) {
      // An error page earns nothing: drop what it accrued since its navigation.
      tab.failed = true;
      tab.fg = null;
      tab.audio = null;
      return;
    }
    tab.failed = false;
    this._syncAudio(tab, now);
    if (Number.isFinite(status) && status >= 200 && status < 300) this._restart(tab, now);
  }

  /** A tab was selected in its window. */
  activated(tabId, windowId) {
    const now = this._advance();
    const tab = this.tabs.get(tabId);
    if (tab && Number.isInteger(windowId)) tab.windowId = windowId;
    this._setActive(windowId, tabId);
    if (windowId === this.focusedWindow) {
      this.attention = null;
      if (tab) this._restart(tab, now);
    }
  }

  /** Focus moved to `windowId`, or away from the browser (NO_WINDOW). */
  focused(windowId) {
    const now = this._advance();
    this.focusedWindow = Number.isInteger(windowId) ? windowId : NO_WINDOW;
    this.attention = null;
    for (const tab of this.tabs.values()) {
      if (tab.active && tab.windowId === this.focusedWindow) this._restart(tab, now);
    }
  }

  /** chrome.idle state: "active", "idle" or "locked". */
  idleState(state) {
    this._advance();
    if (!IDLE_STATES.has(state)) return;
    this.idle = state;
    if (state !== "active") this.attention = null;
  }

  /** A trusted interaction (click, key, mouse, scroll) in a tab's top frame. */
  activity(tabId) {
    const now = this._advance();
    const tab = this.tabs.get(tabId);
    if (!tab || this.idle === "locked" || !this._inFocus(tab)) return;
    // Input proves the user is back before the idle detector says so.
    this.idle = "active";
    this._restart(tab, now);
  }

  /** The zoom of a tab changed: the user is there. */
  zoomed(tabId) {
    this.activity(tabId);
  }

  /** Audible/muted changed for a tab. */
  audio(tabId, audible, muted) {
    this.tab({ id: tabId, audible, muted });
  }

  /** Creator metadata found on the tab's current page. */
  meta(tabId, meta) {
    this._advance();
    const tab = this.tabs.get(tabId);
    if (tab) tab.meta = sanitizeMeta(meta);
  }

  closed(tabId) {
    const now = this._advance();
    const tab = this.tabs.get(tabId);
    if (!tab) return;
    this._endForeground(tab);
    this._endAudio(tab, now);
    this.tabs.delete(tabId);
    if (this.attention?.tabId === tabId) this.attention = null;
  }

  /** A tab turned out to be private (or must be forgotten): drop it without emitting anything. */
  forget(tabId) {
    this._advance();
    this._forget(tabId);
  }

  /** Nothing happened; credit up to now (the window may have run out). */
  tick() {
    this._advance();
  }

  // --- outputs ----------------------------------------------------------------------------------

  /** Every credited second as segments, ready for the host; held back: audio runs under 20 s. */
  drain() {
    const now = this._advance();
    for (const tab of this.tabs.values()) {
      this._endForeground(tab);
      const run = tab.audio;
      if (run && now - run.since >= this.s.audioAfter && run.seconds > 0) {
        this._emit(tab, run.seconds, "audio", run.startedAt);
        run.seconds = 0;
        run.startedAt = null;
      }
    }
    return this.done.splice(0);
  }

  /** Whether time is being earned now (some timer should come back to drain it). */
  counting() {
    if (this._foregroundTab()) return true;
    for (const tab of this.tabs.values()) if (tab.audio) return true;
    return false;
  }

  /** Whether drain() would return something now or later (credited, not yet emitted). */
  hasPending() {
    if (this.done.length > 0) return true;
    for (const tab of this.tabs.values()) {
      if (tab.fg || (tab.audio && tab.audio.seconds > 0)) return true;
    }
    return false;
  }

  /** What the UI and "Flattr now" need about a tab, or null when unknown (or private). */
  page(tabId) {
    const tab = this.tabs.get(tabId);
    if (!tab) return null;
    return { url: tab.url, title: tab.title, meta: { ...tab.meta }, failed: tab.failed };
  }

  knows(tabId) {
    return this.tabs.has(tabId);
  }

  tabIds() {
    return [...this.tabs.keys()];
  }

  /** The active tab of the focused window, if known. */
  focusedTabId() {
    for (const tab of this.tabs.values()) {
      if (tab.active && tab.windowId === this.focusedWindow) return tab.id;
    }
    return null;
  }

  /** Plain JSON of the whole state (storage.session survives a service-worker restart). */
  snapshot() {
    return {
      v: SNAPSHOT_VERSION,
      last: this.last,
      focusedWindow: this.focusedWindow,
      idle: this.idle,
      attention: this.attention ? { ...this.attention } : null,
      tabs: [...this.tabs.values()].map((t) => structuredClone(t)),
      done: this.done.map((s) => structuredClone(s)),
    };
  }

  // --- internals --------------------------------------------------------------------------------

  _load(snap) {
    if (!snap || snap.v !== SNAPSHOT_VERSION) return;
    if (Number.isFinite(snap.last)) this.last = Math.min(snap.last, this.last);
    if (Number.isInteger(snap.focusedWindow)) this.focusedWindow = snap.focusedWindow;
    if (IDLE_STATES.has(snap.idle)) this.idle = snap.idle;
    if (snap.attention && Number.isInteger(snap.attention.tabId)) {
      this.attention = { tabId: snap.attention.tabId, until: Number(snap.attention.until) };
    }
    for (const t of Array.isArray(snap.tabs) ? snap.tabs : []) {
      if (!t || !Number.isInteger(t.id)) continue;
      this.tabs.set(t.id, { ...newTab(t.id), ...t, meta: sanitizeMeta(t.meta) });
    }
    if (Array.isArray(snap.done)) this.done = snap.done.filter((s) => s && !s.private);
  }

  /** Credit the slice since the previous input; returns now. The clock never runs backwards. */
  _advance() {
    const now = this.clock();
    if (!(now > this.last)) return this.last;
    const t0 = this.last;
    this.last = now;
    const span = Math.min(now - t0, this.s.maxGap);
    for (const tab of this.tabs.values()) {
      if (!tab.audio) continue;
      tab.audio.seconds += span;
      if (tab.audio.startedAt === null) tab.audio.startedAt = t0;
    }
    const fgTab = this._foregroundTab();
    if (fgTab && !fgTab.audio) {
      const seconds = Math.min(span, Math.max(0, this.attention.until - t0));
      if (seconds > 0) {
        if (!fgTab.fg) fgTab.fg = { seconds: 0, startedAt: t0 };
        fgTab.fg.seconds += seconds;
      }
    }
    if (this.attention && this.attention.until <= now) this.attention = null;
    return now;
  }

  _earns(tab) {
    return !tab.failed && tab.url.length <= this.s.maxUrlLength && isWellFormed(tab.url) &&
      isHttpUrl(tab.url);
  }

  _inFocus(tab) {
    return tab.active && tab.windowId === this.focusedWindow && this.focusedWindow !== NO_WINDOW;
  }

  _candidate(tab) {
    return Boolean(tab) && this._inFocus(tab) && this.idle === "active";
  }

  _foregroundTab() {
    if (!this.attention) return null;
    const tab = this.tabs.get(this.attention.tabId);
    return this._candidate(tab) && this._earns(tab) ? tab : null;
  }

  _restart(tab, now) {
    if (this._candidate(tab)) this.attention = { tabId: tab.id, until: now + this.s.windowSeconds };
  }

  _setActive(windowId, tabId) {
    for (const tab of this.tabs.values()) {
      if (tab.windowId === windowId) tab.active = tab.id === tabId;
    }
  }

  _navigate(tab, url) {
    const now = this.last;
    this._endForeground(tab);
    this._endAudio(tab, now);
    tab.url = url;
    tab.title = "";
    tab.failed = false;
    tab.meta = emptyMeta();
  }

  _syncAudio(tab, now) {
    const playing = tab.audible && !tab.muted && this._earns(tab);
    if (playing && !tab.audio) tab.audio = { since: now, seconds: 0, startedAt: null };
    else if (!playing && tab.audio) this._endAudio(tab, now);
  }

  _endForeground(tab) {
    const fg = tab.fg;
    tab.fg = null;
    if (fg) this._emit(tab, fg.seconds, "foreground", fg.startedAt);
  }

  /** A run that reached the audio threshold is audio; a shorter one is ordinary attention. */
  _endAudio(tab, now) {
    const run = tab.audio;
    tab.audio = null;
    if (!run) return;
    const kind = now - run.since >= this.s.audioAfter ? "audio" : "foreground";
    this._emit(tab, run.seconds, kind, run.startedAt);
  }

  _emit(tab, seconds, kind, startedAt) {
    if (!(seconds >= this.s.minSegment) || !this._earns(tab)) return;
    const scale = 10 ** this.s.decimals;
    let left = seconds;
    let start = startedAt;
    while (left >= this.s.minSegment) {
      const part = Math.min(left, this.s.maxSegmentSeconds);
      this.done.push({
        url: tab.url,
        title: tab.title || null,
        seconds: Math.round(part * scale) / scale,
        kind,
        private: false,
        meta: { ...tab.meta },
        started_at: Number.isFinite(start) ? Math.round(start * scale) / scale : null,
      });
      left -= part;
      if (Number.isFinite(start)) start += part;
    }
  }

  _forget(tabId) {
    this.tabs.delete(tabId);
    if (this.attention?.tabId === tabId) this.attention = null;
  }
}

// The background side of the popup/options API (docs/extension.md) with fakes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HostError } from "../src/background/host.js";
import { StatusCache } from "../src/background/status.js";
import { REQUEST_TIMEOUT_MS, RETRY_NOW_WAIT_MS } from "../src/background/settings.js";
import { UiApi } from "../src/background/ui.js";
import { assertValidRequest, fakeTimers } from "./helpers.mjs";

const ACCOUNT = { signed_in: true, username: "alice", subscription_active: true, signed_out_reason: null };
const QUEUE = { pending: 1, in_flight: 0, failed: 0, rejected: 0, delivered: 3 };
const PAGE = {
  decision: { counts: true, site: "example.com", url: "https://example.com/a", reason: null, detail: null },
  seconds_today: 20, audio_page: false, next_threshold: 50, progress: 0.4,
  flattrs_today_url: 0, flattrs_today_site: 1,
};

function fakeHost(state = "ready", answers = {}) {
  return {
    state,
    requests: [],
    options: [],
    retried: 0,
    isReady() {
      return this.state === "ready";
    },
    info() {
      return this.state === "missing"
        ? { state: "missing", message: "not installed", command: "pipx install flattr-companion && flattr-host install" }
        : { state: this.state, hostVersion: "0.1.0" };
    },
    retryNow() {
      this.retried++;
    },
    async request(body, options) {
      this.requests.push(body);
      this.options.push(options);
      if (!this.isReady()) throw new HostError(`host_${this.state}`, "unavailable");
      const answer = answers[body.type];
      if (answer instanceof Error) throw answer;
      if (typeof answer === "function") return answer(body);
      if (answer) return structuredClone(answer);
      if (body.type === "status") return { account: ACCOUNT, queue: QUEUE, mode: "all", flattrs_today: 4 };
      if (body.type === "page_status") return PAGE;
      return {};
    },
  };
}

const TABS = {
  1: { id: 1, url: "https://example.com/a", title: "A", incognito: false },
  2: { id: 2, url: "https://secret.example/", title: "Secret", incognito: true },
  3: { id: 3, url: "chrome://extensions/", title: "Extensions", incognito: false },
};

function setup(host, injector = null) {
  const flushes = [];
  const tracker = {
    flush: async () => flushes.push(1),
    page: async (id) => (id === 1 ? { url: TABS[1].url, title: "A", meta: { flattr_id: "alice" } } : null),
  };
  const api = { tabs: { get: async (id) => (TABS[id] ? { ...TABS[id] } : Promise.reject(new Error("gone"))) } };
  const status = new StatusCache({ host, timers: fakeTimers() });
  let changed = 0;
  const ui = new UiApi({
    api, host, tracker, status, injector,
    signIn: { open: async () => ({ id: 77 }) },
    changed: () => changed++,
    now: () => 1_700_000_000,
  });
  return { ui, flushes, changed: () => changed };
}

describe("ui:* requests", () => {
  it("ui:state: host state, account, queue, mode, this page and tab", async () => {
    const host = fakeHost();
    const { ui, flushes } = setup(host);
    const s = await ui.handle({ kind: "ui:state", tabId: 1 });
    assert.equal(s.ok, true);
    assert.deepEqual(s.host, { state: "ready", hostVersion: "0.1.0" });
    assert.deepEqual(s.account, ACCOUNT);
    assert.deepEqual(s.queue, QUEUE);
    assert.equal(s.mode, "all");
    assert.equal(s.flattrsToday, 4);
    assert.deepEqual(s.page, PAGE);
    assert.deepEqual(s.tab, { url: "https://example.com/a", title: "A" });
    assert.equal(flushes.length, 1, "attention is sent before page_status");
    const ps = host.requests.find((r) => r.type === "page_status");
    assert.equal(ps.meta.flattr_id, "alice");
    for (const r of host.requests) assertValidRequest(assert, { id: 1, ...r });
  });

  it("ui:state says when a page must be reloaded to count (no content script, none injectable)", async () => {
    const asked = [];
    const injector = (outcome) => ({ ensure: async (tab) => (asked.push(tab.id), outcome) });
    const { ui } = setup(fakeHost(), injector("impossible"));
    assert.equal((await ui.handle({ kind: "ui:state", tabId: 1 })).tab.reload, true);
    const fine = setup(fakeHost(), injector("injected")).ui;
    assert.equal((await fine.handle({ kind: "ui:state", tabId: 1 })).tab.reload, false);
    await ui.handle({ kind: "ui:state", tabId: 2 }); // private: never asked
    await ui.handle({ kind: "ui:state", tabId: 3 }); // not a web page
    assert.deepEqual(asked, [1, 1]);
  });

  it("ui:open-dashboard asks the host and passes its answer or its error on", async () => {
    const host = fakeHost("ready", { open_dashboard: { started: true, focused: false } });
    const { ui } = setup(host);
    assert.deepEqual(await ui.handle({ kind: "ui:open-dashboard", page: "queue" }),
      { ok: true, started: true, focused: false });
    assert.deepEqual(host.requests, [{ type: "open_dashboard", page: "queue" }]);
    for (const r of host.requests) assertValidRequest(assert, { id: 1, ...r });
    // The host answers once the window is shown, after up to 15 s (PROTOCOL.md): waited for
    // longer than that, so a slow start is not reported as a host that did not answer.
    assert.ok(host.options[0].timeoutMs > 15_000 && host.options[0].timeoutMs > REQUEST_TIMEOUT_MS);
  });

  it("ui:state for a private tab says so and asks the host nothing about it", async () => {
    const host = fakeHost();
    const { ui } = setup(host);
    const s = await ui.handle({ kind: "ui:state", tabId: 2 });
    assert.equal(s.page, null);
    assert.deepEqual(s.tab, { url: "", title: "", incognito: true });
    assert.ok(!JSON.stringify([s, host.requests]).includes("secret"));
  });

  it("ui:state for a browser page has no page status", async () => {
    const { ui } = setup(fakeHost());
    const s = await ui.handle({ kind: "ui:state", tabId: 3 });
    assert.equal(s.page, null);
    assert.equal(s.tab.url, "chrome://extensions/");
  });

  it("ui:state while the host connects (the worker just started) waits for it, then answers the status", async () => {
    const host = fakeHost("connecting");
    let release = null;
    host.settled = (ms) => {
      host.waitedMs = ms;
      return new Promise((resolve) => {
        release = resolve;
      });
    };
    const { ui } = setup(host);
    const answer = ui.handle({ kind: "ui:state" });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(host.waitedMs, RETRY_NOW_WAIT_MS);
    assert.deepEqual(host.requests, [], "nothing is asked before the host is ready");
    host.state = "ready";
    release(host.info());
    const s = await answer;
    assert.equal(s.host.state, "ready");
    assert.equal(s.account.username, "alice");
    assert.equal(s.flattrsToday, 4);
  });

  it("ui:state when the host is missing: the state and the command, and a fresh look", async () => {
    const host = fakeHost("missing");
    const { ui } = setup(host);
    const s = await ui.handle({ kind: "ui:state" });
    assert.equal(s.ok, true);
    assert.equal(s.host.state, "missing");
    assert.equal(s.host.command, "pipx install flattr-companion && flattr-host install");
    assert.equal(s.account, null);
    assert.equal(s.page, null);
    assert.equal(host.retried, 1);
  });

  it("ui:flattr-now sends the tab's URL, title and metadata; refuses private tabs", async () => {
    const host = fakeHost("ready", { flattr_now: { url: "https://example.com/a", flattr_id: 9 } });
    const { ui, changed } = setup(host);
    const r = await ui.handle({ kind: "ui:flattr-now", tabId: 1 });
    assert.deepEqual(r, { ok: true, url: "https://example.com/a", flattr_id: 9 });
    const req = host.requests.find((x) => x.type === "flattr_now");
    assertValidRequest(assert, { id: 1, ...req });
    assert.equal(req.meta.flattr_id, "alice");
    assert.ok(changed() > 0);
    const p = await ui.handle({ kind: "ui:flattr-now", tabId: 2 });
    assert.equal(p.error.code, "private");
    assert.equal((await ui.handle({ kind: "ui:flattr-now", tabId: 3 })).error.code, "not_http");
  });

  it("passes host errors on as {ok: false, error}", async () => {
    const host = fakeHost("ready", { flattr_now: new HostError("signed_out", "sign in first") });
    const { ui } = setup(host);
    const r = await ui.handle({ kind: "ui:flattr-now", tabId: 1 });
    assert.deepEqual(r, { ok: false, error: { code: "signed_out", message: "sign in first" } });
  });

  it("ui:set-site, ui:set-mode validate before asking the host", async () => {
    const host = fakeHost("ready", { set_site: { site: "example.com", setting: "disabled" } });
    const { ui } = setup(host);
    assert.deepEqual(await ui.handle({ kind: "ui:set-site", site: "example.com", setting: "disabled" }),
      { ok: true, site: "example.com", setting: "disabled" });
    assert.equal((await ui.handle({ kind: "ui:set-site", site: "example.com", setting: "on" })).ok, false);
    assert.equal((await ui.handle({ kind: "ui:set-mode", mode: "everything" })).ok, false);
    assert.equal((await ui.handle({ kind: "ui:set-mode", mode: "metadata" })).ok, true);
    for (const r of host.requests) assertValidRequest(assert, { id: 1, ...r });
    assert.equal(host.requests.length, 2);
  });

  it("ui:history, ui:sites, ui:sign-out, ui:flush, ui:sign-in", async () => {
    const host = fakeHost("ready", {
      history: { items: [{ id: 3 }], next_before: null },
      sign_out: { signed_in: false, username: null, subscription_active: null, signed_out_reason: "user" },
      tick: { scheduled: true, queue: QUEUE },
    });
    const { ui, flushes } = setup(host);
    assert.deepEqual(await ui.handle({ kind: "ui:history", before: 10, limit: 20 }),
      { ok: true, items: [{ id: 3 }], next_before: null });
    assert.equal((await ui.handle({ kind: "ui:sites" })).ok, true);
    assert.equal((await ui.handle({ kind: "ui:sign-out" })).signed_out_reason, "user");
    assert.equal((await ui.handle({ kind: "ui:flush" })).scheduled, true);
    assert.equal(flushes.length, 1);
    assert.deepEqual(await ui.handle({ kind: "ui:sign-in" }), { ok: true, tabId: 77 });
    const types = host.requests.map((r) => r.type);
    assert.deepEqual(types, ["history", "sites", "sign_out", "tick"]);
    assert.equal(host.requests[3].force, true);
    for (const r of host.requests) assertValidRequest(assert, { id: 1, ...r });
  });

  it("ui:export joins every page", async () => {
    const pages = {
      undefined: { part: "flattrs", rows: [{ id: 1 }], cursor: "flattrs:1" },
      "flattrs:1": { part: "flattrs", rows: [{ id: 2 }], cursor: "sites:0" },
      "sites:0": { part: "sites", rows: [{ site: "example.com" }], cursor: null },
    };
    const host = fakeHost("ready", { export: (body) => pages[body.cursor] });
    const { ui } = setup(host);
    const r = await ui.handle({ kind: "ui:export" });
    assert.equal(r.ok, true);
    assert.deepEqual(r.data.parts, { flattrs: [{ id: 1 }, { id: 2 }], sites: [{ site: "example.com" }] });
    assert.equal(r.data.host_version, "0.1.0");
    for (const q of host.requests) assertValidRequest(assert, { id: 1, ...q });
  });
});

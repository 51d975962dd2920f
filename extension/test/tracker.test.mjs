// The tracker with a fake browser API and a fake host: private tabs never stored or sent,
// segments sent on close and every 15 s, state carried over a service-worker restart.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HostError } from "../src/background/host.js";
import { PAGE_ASK_RETRY_MS } from "../src/background/settings.js";
import { Tracker, STORAGE_KEY } from "../src/background/tracker.js";
import { assertValidRequest, fakeClock, fakeEvent, fakeTimers, settle } from "./helpers.mjs";

const A = "https://example.com/a";
const SECRET = "https://secret.example/private";

function tab(over) {
  return { id: 1, windowId: 1, active: true, url: A, title: "A", incognito: false, audible: false,
    mutedInfo: { muted: false }, ...over };
}

function fakeApi({ tabs = [tab()], storage = {} } = {}) {
  const ev = () => fakeEvent();
  return {
    storage,
    tabs: {
      onActivated: ev(), onUpdated: ev(), onCreated: ev(), onRemoved: ev(), onReplaced: ev(),
      onAttached: ev(), onZoomChange: ev(),
      query: async () => tabs.map((t) => ({ ...t })),
      get: async (id) => {
        const t = tabs.find((x) => x.id === id);
        if (!t) throw new Error("no tab");
        return { ...t };
      },
      sendMessage: async () => undefined,
    },
    windows: {
      WINDOW_ID_NONE: -1,
      onFocusChanged: ev(),
      getLastFocused: async () => ({ id: 1, focused: true, incognito: false }),
    },
    idle: { setDetectionInterval: () => {}, onStateChanged: ev(), queryState: async () => "active" },
    storage: {
      session: {
        get: async (key) => ({ [key]: storage[key] }),
        set: async (items) => Object.assign(storage, structuredClone(items)),
      },
    },
  };
}

function fakeHost() {
  return {
    ready: true,
    fail: null,
    requests: [],
    isReady() {
      return this.ready;
    },
    async request(body) {
      this.requests.push(structuredClone(body));
      if (this.fail) throw this.fail;
      if (body.type === "visits") return { recorded: body.visits.length };
      return { results: body.segments.map((s) => ({ url: s.url, counted: true, flattrs_queued: 0 })) };
    },
  };
}

async function setup({ api = fakeApi(), host = fakeHost(), clock = fakeClock() } = {}) {
  const timers = fakeTimers();
  const tracker = new Tracker({ api, host, clock, timers });
  await tracker.start();
  await settle();
  return { api, host, clock, timers, tracker };
}

const sender = (t) => ({ tab: t, frameId: 0, url: t.url });
const seconds = (host) => host.requests.flatMap((r) => r.segments ?? []).reduce((n, s) => n + s.seconds, 0);

describe("tracker", () => {
  it("sends a closed tab's attention at once, valid for the host", async () => {
    const { host, clock, api, tracker } = await setup();
    tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(tab()));
    await settle();
    clock.at(10);
    api.tabs.onRemoved.fire(1, { windowId: 1, isWindowClosing: false });
    await settle();
    assert.equal(host.requests.length, 1);
    assertValidRequest(assert, { id: 1, ...host.requests[0] });
    assert.equal(host.requests[0].segments[0].url, A);
    assert.equal(seconds(host), 10);
  });

  it("sends every 15 s while the user is there", async () => {
    const { host, clock, timers, tracker } = await setup();
    tracker.contentMessage({ kind: "page:activity", event: "scroll" }, sender(tab()));
    await settle();
    clock.at(15);
    timers.advance(15_000);
    await settle();
    assert.equal(seconds(host), 15);
  });

  it("never stores or sends anything of a private tab", async () => {
    const priv = tab({ id: 2, windowId: 2, url: SECRET, title: "Secret", incognito: true, audible: true });
    const api = fakeApi({ tabs: [tab(), priv] });
    const { host, clock, timers, tracker } = await setup({ api });
    api.tabs.onCreated.fire(priv);
    api.tabs.onUpdated.fire(2, { url: SECRET, audible: true }, priv);
    api.windows.onFocusChanged.fire(2);
    api.tabs.onActivated.fire({ tabId: 2, windowId: 2 });
    assert.deepEqual(tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(priv)), { ok: false });
    assert.deepEqual(tracker.contentMessage({ kind: "page:meta", meta: {}, status: 200 }, sender(priv)), { ok: false });
    await settle();
    clock.at(100);
    await tracker.flush();
    timers.advance(1_000);
    await settle();
    const everything = JSON.stringify([api.storage, host.requests, tracker.machine.snapshot()]);
    assert.ok(!everything.includes("secret"), everything);
    assert.equal(await tracker.page(2), null);
  });

  it("keeps unsent attention across a service-worker restart", async () => {
    const storage = {};
    const clock = fakeClock();
    const host = fakeHost();
    host.ready = false;
    const first = await setup({ api: fakeApi({ storage }), host, clock });
    first.tracker.contentMessage({ kind: "page:activity", event: "key" }, sender(tab()));
    await settle();
    clock.at(10);
    await first.tracker.flush(); // the host is not there: kept
    first.timers.advance(1_000);
    await settle();
    assert.equal(storage[STORAGE_KEY].outbox.length, 1);
    // The worker restarts; the attention window opened at 0 is still open until 15.
    clock.at(40);
    host.ready = true;
    const second = await setup({ api: fakeApi({ storage }), host, clock });
    await second.tracker.flush();
    assert.equal(seconds(host), 15);
  });

  it("keeps a batch whose outcome is unknown and resends it under the same id", async () => {
    const { host, clock, tracker } = await setup();
    tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(tab()));
    await settle();
    clock.at(10);
    host.fail = new HostError("host_crashed", "gone", { sent: false });
    await tracker.flush();
    assert.equal(tracker.outbox.size, 1);
    host.fail = new HostError("storage_error", "disk full", { sent: true });
    await tracker.flush();
    assert.equal(tracker.outbox.size, 1);
    host.fail = new HostError("timeout", "no answer", { sent: true });
    await tracker.flush();
    assert.equal(tracker.outbox.size, 1, "the host may have recorded it: resend, never drop");
    const ids = host.requests.map((r) => r.batch);
    assert.ok(typeof ids[0] === "string" && ids.every((b) => b === ids[0]), ids.join());
    host.fail = new HostError("invalid_request", "refused", { sent: true, answered: true });
    await tracker.flush();
    assert.equal(tracker.outbox.size, 0, "refused by the host for good: dropped");
  });

  it("sends a browser title cut mid-emoji as well-formed text", async () => {
    const long = tab({ title: `${"x".repeat(1023)}\u{1F600}` });
    const { host, clock, tracker } = await setup({ api: fakeApi({ tabs: [long] }) });
    tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(long));
    await settle();
    clock.at(10);
    await tracker.flush();
    assertValidRequest(assert, { id: 1, ...host.requests[0] });
    assert.equal(host.requests[0].segments[0].title, "x".repeat(1023));
  });

  it("a segment the host refused alone costs the batch nothing: settled, not resent", async () => {
    const host = fakeHost();
    host.request = async function (body) {
      this.requests.push(structuredClone(body));
      return { results: body.segments.map((s, i) => i === 0
        ? { url: null, site: null, counted: false, reason: "invalid", error: "title: not well-formed" }
        : { url: s.url, site: "example.com", counted: true, flattrs_queued: 0 }) };
    };
    const warned = [];
    const warn = console.warn;
    console.warn = (...args) => warned.push(args.join(" "));
    try {
      const { clock, tracker } = await setup({ host });
      tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(tab()));
      await settle();
      clock.at(10);
      await tracker.flush();
      assert.equal(tracker.outbox.size, 0);
      await tracker.flush();
      assert.equal(host.requests.length, 1);
    } finally {
      console.warn = warn;
    }
    assert.ok(warned.some((w) => w.includes("title: not well-formed")), warned.join("\n"));
  });

  it("takes metadata and the load status only for the page the tab shows", async () => {
    const { host, clock, tracker } = await setup();
    tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(tab()));
    const meta = { payment_url: null, flattr_id: "alice", canonical_url: null };
    tracker.contentMessage({ kind: "page:meta", meta: { ...meta, flattr_id: "bob" } },
      { tab: tab(), frameId: 0, url: "https://example.com/other" });
    tracker.contentMessage({ kind: "page:meta", meta }, sender(tab()));
    tracker.contentMessage({ kind: "page:activity", event: "click" }, { ...sender(tab()), frameId: 3 });
    await settle();
    clock.at(5);
    await tracker.flush();
    assert.equal(host.requests[0].segments[0].meta.flattr_id, "alice");
    tracker.contentMessage({ kind: "page:meta", meta, status: 404 }, sender(tab()));
    await settle();
    clock.at(12);
    await tracker.flush();
    assert.equal(seconds(host), 5, "an error page earns nothing");
  });

  it("reads fresh metadata from the content script's world after a same-document navigation", async () => {
    const api = fakeApi();
    const B = "https://example.com/app/b";
    const calls = [];
    let answer = { url: `${B}#top`, meta: { payment_url: null, flattr_id: "bob", canonical_url: null } };
    api.scripting = {
      executeScript: async (details) => {
        calls.push({ ...details, func: typeof details.func });
        return [{ frameId: 0, result: answer }];
      },
    };
    const { host, clock, tracker } = await setup({ api });
    tracker.contentMessage({ kind: "page:meta", meta: { flattr_id: "alice" } }, sender(tab()));
    api.tabs.onUpdated.fire(1, { url: B }, tab({ url: B })); // history.pushState
    api.tabs.onUpdated.fire(1, { status: "complete" }, tab({ url: B }));
    await settle();
    // The page moved on before answering: not B's metadata.
    answer = { url: "https://example.com/elsewhere", meta: { ...answer.meta, flattr_id: "mallory" } };
    api.tabs.onUpdated.fire(1, { status: "complete" }, tab({ url: B }));
    tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(tab({ url: B })));
    await settle();
    clock.at(5);
    await tracker.flush();
    const segment = host.requests.flatMap((r) => r.segments ?? []).find((s) => s.url === B);
    assert.equal(segment.meta.flattr_id, "bob");
    assert.deepEqual(calls[0], { target: { tabId: 1, frameIds: [0] }, injectImmediately: true,
      func: "function", args: ["__flattrCompanionMeta"] });
    assert.equal(calls.length, 2);
  });

  it("learns a loaded page's status and metadata from one call into its world", async () => {
    const api = fakeApi();
    const calls = [];
    const answers = [{ url: A, meta: { flattr_id: "alice" }, status: 200 }];
    api.scripting = {
      executeScript: async (details) => {
        calls.push(details.args);
        return [{ frameId: 0, result: answers.shift() ?? null }];
      },
    };
    const changed = [];
    const host = fakeHost();
    const clock = fakeClock();
    const timers = fakeTimers();
    const tracker = new Tracker({ api, host, clock, timers, onPageChanged: (id) => changed.push(id) });
    await tracker.start();
    api.tabs.onUpdated.fire(1, { status: "complete" }, tab());
    await settle();
    assert.deepEqual(calls, [["__flattrCompanionMeta"]], "one call, nothing else asked");
    assert.equal(changed.at(-1), 1, "the popup and toolbar learn the metadata");
    clock.at(5); // no interaction: the 2xx load alone opened the attention window
    await tracker.flush();
    const segments = host.requests.flatMap((r) => r.segments ?? []);
    assert.deepEqual(segments.map((s) => [s.url, s.seconds, s.meta.flattr_id]), [[A, 5, "alice"]]);

    // An error page earns nothing, whatever happens on it.
    const B = "https://example.com/missing";
    api.tabs.onUpdated.fire(1, { url: B, status: "loading" }, tab({ url: B }));
    answers.push({ url: B, meta: {}, status: 404 });
    api.tabs.onUpdated.fire(1, { status: "complete" }, tab({ url: B }));
    await settle();
    tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(tab({ url: B })));
    await settle();
    clock.at(10);
    await tracker.flush();
    assert.ok(!host.requests.flatMap((r) => r.segments ?? []).some((s) => s.url === B));
  });

  it("never asks a page of a private window", async () => {
    const priv = tab({ id: 2, windowId: 2, url: SECRET, incognito: true });
    const api = fakeApi({ tabs: [tab(), priv] });
    const asked = [];
    api.scripting = {
      executeScript: async (details) => {
        asked.push(details.target.tabId);
        return [{ frameId: 0, result: { url: SECRET, meta: { flattr_id: "x" }, status: 200 } }];
      },
    };
    await setup({ api });
    api.tabs.onUpdated.fire(2, { status: "complete" }, priv);
    api.tabs.onUpdated.fire(1, { status: "complete" }, tab());
    await settle();
    assert.deepEqual(asked, [1]);
  });

  it("asks a page that did not answer yet once more, a little later", async () => {
    const api = fakeApi();
    const answers = [null, { url: A, meta: { flattr_id: "alice" }, status: 200 }];
    let calls = 0;
    api.scripting = {
      executeScript: async () => {
        calls += 1;
        return [{ frameId: 0, result: answers.shift() ?? null }];
      },
    };
    const { host, clock, timers, tracker } = await setup({ api });
    api.tabs.onUpdated.fire(1, { status: "complete" }, tab());
    await settle();
    assert.equal(calls, 1);
    timers.advance(PAGE_ASK_RETRY_MS);
    await settle();
    assert.equal(calls, 2);
    timers.advance(PAGE_ASK_RETRY_MS * 10);
    await settle();
    assert.equal(calls, 2, "only once");
    clock.at(5);
    await tracker.flush();
    const segments = host.requests.flatMap((r) => r.segments ?? []);
    assert.deepEqual(segments.map((s) => s.meta.flattr_id), ["alice"]);
  });

  it("a navigation sends the previous page's segment right away", async () => {
    const { api, host, clock, tracker } = await setup();
    tracker.contentMessage({ kind: "page:activity", event: "click" }, sender(tab()));
    await settle();
    clock.at(6);
    const next = tab({ url: "https://example.com/b", title: "B" });
    api.tabs.onUpdated.fire(1, { url: next.url, status: "loading" }, next);
    await settle();
    const attention = host.requests.filter((r) => r.type === "attention");
    assert.equal(attention.length, 1);
    assert.deepEqual(attention[0].segments.map((s) => [s.url, s.seconds]), [[A, 6]]);
  });

  it("sends each top-level navigation as a visit, never a private one or a hash change", async () => {
    const priv = tab({ id: 2, windowId: 2, url: SECRET, incognito: true });
    const api = fakeApi({ tabs: [tab(), priv] });
    const { host, clock } = await setup({ api });
    const B = "https://news.example.org/today";
    clock.at(5);
    api.tabs.onUpdated.fire(1, { url: B, status: "loading" }, tab({ url: B }));
    await settle();
    clock.at(6);
    api.tabs.onUpdated.fire(1, { url: `${B}#comments` }, tab({ url: `${B}#comments` }));
    api.tabs.onUpdated.fire(2, { url: `${SECRET}/2`, status: "loading" }, { ...priv, url: `${SECRET}/2` });
    api.tabs.onUpdated.fire(1, { url: "chrome://settings/" }, tab({ url: "chrome://settings/" }));
    await settle();
    const sent = host.requests.filter((r) => r.type === "visits");
    assert.equal(sent.length, 1);
    assertValidRequest(assert, { id: 1, ...sent[0] });
    assert.deepEqual(sent[0].visits, [{ url: B, visited_at: clock() - 1, private: false }]);
    assert.ok(!JSON.stringify(host.requests).includes("secret.example"));
  });

  it("keeps visits while the host is away and sends them later", async () => {
    const host = fakeHost();
    host.ready = false;
    const api = fakeApi();
    const { tracker, storage } = { ...(await setup({ api, host })), storage: api.storage };
    const B = "https://news.example.org/today";
    api.tabs.onUpdated.fire(1, { url: B, status: "loading" }, tab({ url: B }));
    await settle();
    assert.equal(host.requests.length, 0);
    host.ready = true;
    await tracker.flush();
    const sent = host.requests.filter((r) => r.type === "visits");
    assert.deepEqual(sent.map((r) => r.visits.map((v) => v.url)), [[B]]);
    await tracker.flush();
    assert.equal(host.requests.filter((r) => r.type === "visits").length, 1);
    assert.ok(storage);
  });

  it("counts one visit whichever update carries the new URL (Firefox and Chromium order)", async () => {
    const { api, host } = await setup();
    const B = "https://news.example.org/today";
    api.tabs.onUpdated.fire(1, { status: "loading" }, tab({ url: B })); // Firefox: URL in the tab
    api.tabs.onUpdated.fire(1, { url: B }, tab({ url: B }));
    api.tabs.onUpdated.fire(1, { status: "complete" }, tab({ url: B }));
    api.tabs.onUpdated.fire(1, { title: "Today" }, tab({ url: B, title: "Today" }));
    await settle();
    const urls = host.requests.filter((r) => r.type === "visits").flatMap((r) => r.visits.map((v) => v.url));
    assert.deepEqual(urls, [B]);
  });
});

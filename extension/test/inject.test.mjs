// Content scripts for tabs open before the extension started (install, update, re-enable).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import vm from "node:vm";
import {
  ATTENTION_SCRIPT,
  FLATTR_SCRIPT,
  IMPOSSIBLE,
  INJECTED,
  Injector,
  PRESENT,
} from "../src/background/inject.js";
import { LIVE_KEY } from "../src/background/pagecall.js";

function tab(over) {
  return { id: 1, url: "https://blog.example.com/post", incognito: false, status: "complete", ...over };
}

/** Tabs whose top frame's content-script world holds a live copy (`answering`), one left behind by
 *  an update (`orphaned`), or nothing; `func`s run in that world as executeScript runs them. */
function fakeApi({ answering = [], orphaned = [], scripting = true, failInject = false } = {}) {
  const session = {};
  const world = (tabId) => {
    const live = answering.includes(tabId) || (orphaned.includes(tabId) ? false : null);
    return vm.createContext(live === null ? {} : { [LIVE_KEY]: () => live });
  };
  const api = {
    injected: [],
    pinged: [],
    tabs: {
      list: [],
      query: async () => api.tabs.list,
    },
    storage: {
      session: {
        get: async (key) => ({ [key]: session[key] }),
        set: async (items) => Object.assign(session, items),
      },
    },
  };
  if (scripting) {
    api.scripting = {
      executeScript: async (details) => {
        if (failInject) throw new Error("Cannot access contents of the page.");
        if (details.func) {
          const { tabId, frameIds } = details.target;
          api.pinged.push([tabId, ...details.args, frameIds]);
          const call = `(${details.func})(...${JSON.stringify(details.args)})`;
          return [{ frameId: 0, result: vm.runInContext(call, world(tabId)) }];
        }
        api.injected.push(details);
        return [];
      },
    };
  }
  return api;
}

describe("injector", () => {
  it("leaves a page whose content script runs alone, asking its world in the top frame", async () => {
    const api = fakeApi({ answering: [1] });
    assert.equal(await new Injector({ api }).ensure(tab()), PRESENT);
    assert.deepEqual(api.pinged, [[1, LIVE_KEY, [0]]]);
    assert.deepEqual(api.injected, []);
  });

  it("injects a fresh copy where only one orphaned by an update is left", async () => {
    const api = fakeApi({ orphaned: [1] });
    assert.equal(await new Injector({ api }).ensure(tab()), INJECTED);
    assert.deepEqual(api.injected.map((d) => d.files), [[ATTENTION_SCRIPT]]);
  });

  it("injects the content scripts into the top frame of a page without them", async () => {
    const api = fakeApi();
    const told = [];
    const injector = new Injector({ api, onInjected: (t) => told.push(t.id) });
    assert.equal(await injector.ensure(tab()), INJECTED);
    assert.equal(await injector.ensure(tab({ id: 2, url: "https://flattr.com/oauth/ext" })), INJECTED);
    assert.deepEqual(api.injected, [
      { target: { tabId: 1, frameIds: [0] }, files: [ATTENTION_SCRIPT] },
      { target: { tabId: 2, frameIds: [0] }, files: [FLATTR_SCRIPT, ATTENTION_SCRIPT] },
    ]);
    assert.deepEqual(told, [1, 2], "the background asks the new copy about the page: it says nothing itself");
    await injector.ensure(tab({ id: 3, discarded: true }));
    assert.deepEqual(told, [1, 2]);
  });

  it("says when it cannot: no scripting, a protected page, a discarded or private tab", async () => {
    assert.equal(await new Injector({ api: fakeApi({ scripting: false }) }).ensure(tab()), IMPOSSIBLE);
    assert.equal(await new Injector({ api: fakeApi({ failInject: true }) }).ensure(tab()), IMPOSSIBLE);
    const api = fakeApi();
    const injector = new Injector({ api });
    assert.equal(await injector.ensure(tab({ discarded: true })), IMPOSSIBLE);
    assert.equal(await injector.ensure(tab({ incognito: true })), IMPOSSIBLE);
    assert.equal(await injector.ensure(tab({ url: "chrome://settings/" })), IMPOSSIBLE);
    assert.deepEqual(api.pinged, []); // nothing of a private tab is even asked
    assert.equal(await injector.ensure(tab({ status: "loading" })), PRESENT); // the browser will
    assert.deepEqual(api.injected, []);
  });

  it("sweeps the open tabs once per browser session", async () => {
    const api = fakeApi({ answering: [2] });
    api.tabs.list = [tab(), tab({ id: 2 }), tab({ id: 3, incognito: true }), tab({ id: 4, url: "about:blank" })];
    const injector = new Injector({ api });
    assert.equal(await injector.sweep(), 1);
    assert.deepEqual(api.injected.map((d) => d.target.tabId), [1]);
    assert.equal(await injector.sweep(), 0); // a restarted service worker does not sweep again
    assert.equal(api.injected.length, 1);
  });
});

// The flattr.com handshake, background side: sender checks, detail type checks, the token and
// subscription requests, and the sign-in tab rule (close it, keep its window).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkSender,
  FlattrSite,
  parseSubscription,
  parseToken,
  parseTrigger,
} from "../src/background/handshake.js";
import { HostError } from "../src/background/host.js";
import { SignIn } from "../src/background/signin.js";
import { assertValidRequest, settle } from "./helpers.mjs";

const ID = "pceboilfpeijfppedbhfdflpddadaoml";

function sender(over = {}) {
  return {
    id: ID,
    frameId: 0,
    url: "https://flattr.com/dashboard",
    tab: { id: 5, windowId: 1, incognito: false },
    ...over,
  };
}

describe("who may send a token", () => {
  it("accepts the top frame of a normal tab on https://flattr.com", () => {
    const r = checkSender(sender(), ID);
    assert.equal(r.ok, true);
    assert.equal(r.pageUrl, "https://flattr.com/dashboard");
    assert.equal(checkSender(sender({ origin: "https://flattr.com" }), ID).ok, true);
  });

  const refused = {
    "a sub-frame": { frameId: 3 },
    "plain http": { url: "http://flattr.com/" },
    "another port": { url: "https://flattr.com:8443/" },
    "a subdomain": { url: "https://evil.flattr.com/" },
    "a look-alike host": { url: "https://flattr.com.evil.example/" },
    "credentials in the URL": { url: "https://user:pw@flattr.com/" },
    "a private window": { tab: { id: 5, windowId: 1, incognito: true } },
    "no tab": { tab: undefined },
    "another extension": { id: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
    "an origin that disagrees": { origin: "https://evil.example" },
    "no URL": { url: undefined },
  };
  for (const [what, over] of Object.entries(refused)) {
    it(`refuses ${what}`, () => {
      assert.equal(checkSender(sender(over), ID).ok, false);
    });
  }
});

describe("details are type-checked", () => {
  it("a token without subscription works (the original's test page)", () => {
    assert.deepEqual(parseToken({ accessToken: "FOO" }), { token: "FOO", subscription: null });
  });

  it("keeps a valid subscription and ignores a malformed one", () => {
    assert.deepEqual(parseToken({ accessToken: "T", subscription: { active: true } }), {
      token: "T",
      subscription: { active: true },
    });
    for (const subscription of [{ active: "yes" }, "active", null, [], { }]) {
      assert.deepEqual(parseToken({ accessToken: "T", subscription }), { token: "T", subscription: null });
    }
  });

  it("refuses unusable tokens", () => {
    for (const detail of [null, undefined, 42, "nonsense", [], {}, { accessToken: 7 },
      { accessToken: "" }, { accessToken: "x".repeat(4097) }, { accessToken: ["T"] }]) {
      assert.equal(parseToken(detail), null, JSON.stringify(detail));
    }
  });

  it("accepts a JSON string detail", () => {
    assert.deepEqual(parseToken('{"accessToken":"T","subscription":{"active":false}}'), {
      token: "T",
      subscription: { active: false },
    });
    assert.equal(parseTrigger('{"action":"authentication"}'), true);
  });

  it("flattr-trigger means something only with action authentication", () => {
    assert.equal(parseTrigger({ action: "authentication" }), true);
    for (const d of [{ action: "other" }, {}, null, "authentication", { action: ["authentication"] }]) {
      assert.equal(parseTrigger(d), false);
    }
  });

  it("flattr-subscription needs subscription.active as a boolean", () => {
    assert.deepEqual(parseSubscription({ subscription: { active: false } }), { active: false });
    for (const d of [{ active: true }, { subscription: { active: 1 } }, { subscription: null }, null]) {
      assert.equal(parseSubscription(d), null);
    }
  });
});

function site({ fail = null } = {}) {
  const requests = [];
  const closed = [];
  const host = {
    async request(body) {
      requests.push(body);
      if (fail) throw fail;
      if (body.type === "token") {
        return { signed_in: true, username: "alice", subscription_active: true, signed_out_reason: null };
      }
      return { signed_in: true };
    },
  };
  const flattr = new FlattrSite({
    host,
    info: { id: ID, version: "0.1.0", build: "chromium-0.1.0" },
    closeSignInTab: async (tab) => {
      closed.push(tab);
    },
  });
  return { flattr, requests, closed };
}

describe("token and subscription to the host", () => {
  it("hello answers build, id and version only to a trusted page", () => {
    const { flattr } = site();
    assert.deepEqual(flattr.hello(sender()), {
      ok: true,
      build: "chromium-0.1.0",
      id: ID,
      version: "0.1.0",
    });
    assert.equal(flattr.hello(sender({ frameId: 1 })).ok, false);
  });

  it("sends the token with page_url = the sender's URL and answers the page", async () => {
    const { flattr, requests, closed } = site();
    const answer = await flattr.token({ accessToken: "FOO" }, sender());
    assert.deepEqual(answer, { ok: true, authenticated: true, answer: true });
    assert.equal(requests.length, 1);
    assert.deepEqual(requests[0], { type: "token", token: "FOO", page_url: "https://flattr.com/dashboard" });
    assertValidRequest(assert, { id: 1, ...requests[0] });
    await settle();
    assert.deepEqual(closed, []);
  });

  it("closes the extension's sign-in tab instead of answering", async () => {
    const { flattr, requests, closed } = site();
    const s = sender({ url: "https://flattr.com/oauth/ext?state=1#done" });
    const answer = await flattr.token({ accessToken: "T", subscription: { active: true } }, s);
    assert.equal(answer.answer, false);
    assert.equal(answer.authenticated, true);
    assertValidRequest(assert, { id: 2, ...requests[0] });
    await settle();
    assert.deepEqual(closed, [s.tab]);
  });

  it("does not close a page that only looks like the sign-in page", async () => {
    const { flattr, closed } = site();
    for (const url of ["https://flattr.com/oauth/extension", "https://flattr.com/oauth/ext/x"]) {
      const answer = await flattr.token({ accessToken: "T" }, sender({ url }));
      assert.equal(answer.answer, true);
    }
    await settle();
    assert.deepEqual(closed, []);
  });

  it("answers authenticated: false when the host refuses, and keeps the tab", async () => {
    const { flattr, closed } = site({ fail: new HostError("host_missing", "not installed") });
    const answer = await flattr.token({ accessToken: "T" }, sender({ url: "https://flattr.com/oauth/ext" }));
    assert.equal(answer.authenticated, false);
    assert.equal(answer.answer, true);
    assert.equal(answer.error.code, "host_missing");
    await settle();
    assert.deepEqual(closed, []);
  });

  it("never sends a token from an untrusted sender or a malformed detail", async () => {
    const { flattr, requests } = site();
    assert.equal((await flattr.token({ accessToken: "T" }, sender({ frameId: 2 }))).ok, false);
    assert.equal((await flattr.token({ accessToken: "T" }, sender({ url: "https://evil.example/" }))).ok, false);
    const bad = await flattr.token({ accessToken: 12 }, sender());
    assert.deepEqual(bad, { ok: true, authenticated: false, answer: true });
    assert.equal(requests.length, 0);
  });

  it("forwards a subscription change from flattr.com", async () => {
    const { flattr, requests } = site();
    assert.equal((await flattr.subscription({ subscription: { active: false } }, sender())).ok, true);
    assert.deepEqual(requests[0], { type: "subscription", active: false, page_url: "https://flattr.com/dashboard" });
    assertValidRequest(assert, { id: 3, ...requests[0] });
    assert.equal((await flattr.subscription({ subscription: {} }, sender())).ok, false);
    assert.equal((await flattr.subscription({ subscription: { active: true } },
      sender({ tab: { id: 1, incognito: true } }))).ok, false);
    assert.equal(requests.length, 1);
  });
});

function fakeTabsApi({ tabs = [], windows = [{ id: 1, incognito: false, focused: true }] } = {}) {
  const log = [];
  let nextId = 100;
  const api = {
    tabs: {
      async query(q) {
        return tabs.filter((t) => (q.windowId === undefined || t.windowId === q.windowId) &&
          (q.url === undefined || t.url.startsWith(q.url.replace(/\*$/, ""))));
      },
      async update(id, props) {
        log.push(["update", id, props]);
      },
      async create(props) {
        const tab = { id: nextId++, windowId: props.windowId ?? 1, url: props.url ?? "chrome://newtab/" };
        tabs.push(tab);
        log.push(["create", props]);
        return tab;
      },
      async remove(id) {
        log.push(["remove", id]);
      },
    },
    windows: {
      async getLastFocused() {
        return windows.find((w) => w.focused) ?? windows[0];
      },
      async getAll() {
        return windows;
      },
      async update(id, props) {
        log.push(["focus", id, props]);
      },
      async create(props) {
        log.push(["window", props]);
        return { id: 9, tabs: [{ id: 99 }] };
      },
    },
  };
  return { api, log };
}

describe("the Sign-in button", () => {
  it("focuses an existing sign-in tab", async () => {
    const { api, log } = fakeTabsApi({
      tabs: [
        { id: 1, windowId: 1, url: "https://flattr.com/oauth/extension", incognito: false },
        { id: 2, windowId: 3, url: "https://flattr.com/oauth/ext?x=1", incognito: true },
        { id: 3, windowId: 2, url: "https://flattr.com/oauth/ext#top", incognito: false },
      ],
    });
    const tab = await new SignIn({ api }).open();
    assert.equal(tab.id, 3);
    assert.deepEqual(log, [["update", 3, { active: true }], ["focus", 2, { focused: true }]]);
  });

  it("opens the sign-in page in a normal window, never a private one", async () => {
    const { api, log } = fakeTabsApi({
      windows: [{ id: 7, incognito: true, focused: true }, { id: 8, incognito: false }],
    });
    await new SignIn({ api }).open();
    assert.deepEqual(log[0], ["create", { windowId: 8, url: "https://flattr.com/oauth/ext", active: true }]);
    const only = fakeTabsApi({ windows: [{ id: 7, incognito: true, focused: true }] });
    await new SignIn({ api: only.api }).open();
    assert.equal(only.log[0][0], "window");
    assert.equal(only.log[0][1].incognito, false);
  });

  it("closes the tab, opening a new one first when it is the last of its window", async () => {
    const alone = fakeTabsApi({ tabs: [{ id: 4, windowId: 1, url: "https://flattr.com/oauth/ext" }] });
    await new SignIn({ api: alone.api }).close({ id: 4, windowId: 1 });
    assert.deepEqual(alone.log, [["create", { windowId: 1, active: true }], ["remove", 4]]);
    const crowd = fakeTabsApi({
      tabs: [{ id: 4, windowId: 1, url: "https://flattr.com/oauth/ext" }, { id: 6, windowId: 1, url: "x" }],
    });
    await new SignIn({ api: crowd.api }).close({ id: 4, windowId: 1 });
    assert.deepEqual(crowd.log, [["remove", 4]]);
  });
});

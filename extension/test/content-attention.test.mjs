// The attention content script, in a vm context: nothing touched or sent at load, trusted,
// throttled interactions, no key data, page metadata when asked, nothing in private windows.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import vm from "node:vm";
import { LIVE_KEY, META_KEY } from "../src/background/pagecall.js";
import * as S from "../src/background/settings.js";
import { EXT, fakeEvent } from "./helpers.mjs";

const CODE = readFileSync(join(EXT, "src/content/attention.js"), "utf8");
const PAYMENT = 'link[rel~="payment" i][href]';
const FLATTR_ID = 'meta[name="flattr:id" i][content]';
const FLATTR_TAGS = 'meta[name^="flattr:" i][content]';
const CANONICAL = 'link[rel~="canonical" i][href]';
const BUTTONS = 'a[href*="flattr.com/" i], [data-flattr-uid], [data-flattr-owner]';

function el(attrs) {
  return { ...attrs, getAttribute: (name) => attrs[name] ?? null };
}

/** A document whose nodes are `elements`: each node matches the selectors it is listed under, and
 *  document order is the order of first listing. A list of selectors (joined with ", ") selects the
 *  nodes of each selector it contains, once each, in document order. */
function fakeDocument(elements) {
  const order = [];
  const selectors = new Map();
  for (const [sel, nodes] of Object.entries(elements)) {
    for (const node of nodes) {
      if (!selectors.has(node)) {
        order.push(node);
        selectors.set(node, new Set());
      }
      selectors.get(node).add(sel);
      node.matches = (s) => selectors.get(node).has(s);
    }
  }
  const all = (query) => order.filter((n) => [...selectors.get(n)].some((s) => query === s || query.includes(s)));
  return {
    visibilityState: "visible",
    querySelectorAll: all,
    querySelector: (query) => all(query)[0] ?? null,
  };
}

/** `used` lists, in order, each use of the DOM, Navigation Timing or an extension binding
 *  (`chrome.runtime`, `chrome.extension`): what costs a page load in a real browser. */
function page({ href = "https://example.com/post", incognito = false, status = 200, elements = {} } = {}) {
  const listeners = new Map();
  const sent = [];
  const used = [];
  const clock = { t: 1_000_000 };
  const onMessage = fakeEvent();
  const tracked = (name, value) => ({ get: () => (used.push(name), value), enumerable: true });
  const bindings = {};
  Object.defineProperties(bindings, {
    runtime: tracked("chrome.runtime", { id: "ext", sendMessage: async (m) => sent.push(structuredClone(m)), onMessage }),
    extension: tracked("chrome.extension", { inIncognitoContext: incognito }),
  });
  const ctx = {
    location: { protocol: new URL(href).protocol, href },
    URL,
    Date: { now: () => clock.t },
    addEventListener: (type, fn) => listeners.set(type, [...(listeners.get(type) ?? []), fn]),
    removeEventListener: () => {},
    chrome: bindings,
  };
  const doc = fakeDocument(elements);
  Object.defineProperty(doc, "URL", { get: () => ctx.location.href }); // as in a top document
  Object.defineProperties(ctx, {
    document: tracked("document", doc),
    performance: tracked("performance", {
      getEntriesByType: () => (status === null ? [] : [{ responseStatus: status }]),
    }),
  });
  ctx.window = ctx;
  ctx.top = ctx;
  vm.createContext(ctx);
  vm.runInContext(CODE, ctx);
  const fire = (type, e = {}) => (listeners.get(type) ?? []).forEach((fn) => fn({ isTrusted: true, ...e }));
  return { ctx, sent, used, clock, fire, onMessage };
}

/** What the background gets when it calls the script's function (background/pagecall.js). */
const ask = (p) => structuredClone(p.ctx[META_KEY]());

describe("attention content script", () => {
  it("touches no extension API and no DOM at load, and sends nothing", () => {
    const p = page({ elements: { [FLATTR_ID]: [el({ name: "flattr:id", content: "alice" })] } });
    assert.deepEqual(p.used, []);
    assert.deepEqual(p.sent, []);
    assert.equal(typeof p.ctx[META_KEY], "function");
    assert.equal(typeof p.ctx[LIVE_KEY], "function");
  });

  it("gives the metadata when asked, and its load status in the first answer only", () => {
    const p = page({
      elements: {
        'link[rel~="payment" i][href]': [
          el({ href: "https://patreon.example/alice" }),
          el({ href: "https://flattr.com/submit/auto?user_id=alice&url=x" }),
        ],
        'meta[name="flattr:id" i][content]': [el({ content: "  alice  " })],
        'link[rel~="canonical" i][href]': [el({ href: "https://example.com/post-canonical" })],
      },
    });
    assert.deepEqual(ask(p), {
      meta: {
        payment_url: "https://flattr.com/submit/auto?user_id=alice&url=x",
        flattr_id: "alice",
        canonical_url: "https://example.com/post-canonical",
        button_url: null,
        flattr_params: null,
      },
      status: 200,
      url: "https://example.com/post",
    });
    const again = ask(p); // a same-document navigation is no new load
    assert.equal("status" in again, false);
    assert.equal(again.meta.flattr_id, "alice");
    assert.deepEqual(p.sent, []);
  });

  it("reads http payment links, the flattr: meta family and Flattr button markup", () => {
    const BUTTONS = 'a[href*="flattr.com/" i], [data-flattr-uid], [data-flattr-owner]';
    const p = page({
      elements: {
        'link[rel~="payment" i][href]': [el({ href: "http://flattr.com/submit/auto?url=x&user_id=al" })],
        'meta[name^="flattr:" i][content]': [
          el({ name: "flattr:id", content: "alice" }),
          el({ name: "flattr:Tags", content: " a,b " }),
          el({ name: "flattr:colour", content: "red" }),
          el({ name: "flattr:title", content: "x".repeat(S.MAX_FLATTR_PARAM_LENGTH + 1) }),
        ],
        [BUTTONS]: [
          el({ href: "https://flattr.com/about" }), // a link to flattr.com, not a button
          el({ href: "https://example.com/thing", "data-flattr-owner": "twitter:user:id:123",
            "data-flattr-category": "text" }),
          el({ href: "https://flattr.com/thing/1" }),
        ],
      },
    });
    const { meta } = ask(p);
    assert.equal(meta.payment_url, "http://flattr.com/submit/auto?url=x&user_id=al");
    assert.deepEqual({ ...meta.flattr_params }, { tags: "a,b" });
    const button = new URL(meta.button_url);
    assert.equal(`${button.origin}${button.pathname}`, "https://flattr.com/submit/auto");
    assert.deepEqual(Object.fromEntries(button.searchParams), {
      url: "https://example.com/thing", owner: "twitter:user:id:123", category: "text",
    });
  });

  it("takes the first of each kind in document order, a node counting for every kind it is", () => {
    const both = el({ rel: "canonical payment", href: "https://patreon.example/alice" });
    const idAndButton = el({ name: "flattr:id", content: "  ", "data-flattr-uid": "carol" });
    const badButton = el({ href: "javascript:void 0", "data-flattr-uid": "dave" });
    const p = page({
      elements: {
        [PAYMENT]: [both, el({ href: "https://flattr.com/submit/auto?user_id=alice&url=x" }),
          el({ href: "https://flattr.com/submit/auto?user_id=bob&url=x" })],
        [CANONICAL]: [both, el({ href: "https://example.com/later-canonical" })],
        [FLATTR_ID]: [idAndButton, el({ name: "flattr:id", content: "erin" })],
        [FLATTR_TAGS]: [
          idAndButton,
          el({ name: "FLATTR:title", content: "   " }),
          el({ name: "flattr:language", content: "en_GB" }),
          el({ name: "flattr:Title", content: "First title" }),
          el({ name: "flattr:title", content: "Second title" }),
        ],
        [BUTTONS]: [badButton, idAndButton, el({ href: "https://flattr.com/thing/2" })],
      },
    });
    const { meta } = ask(p);
    assert.equal(meta.payment_url, "https://flattr.com/submit/auto?user_id=alice&url=x");
    assert.equal(meta.canonical_url, "https://patreon.example/alice");
    assert.equal(meta.flattr_id, null, "the first flattr:id tag decides, even when empty");
    assert.deepEqual({ ...meta.flattr_params }, { language: "en_GB", title: "First title" });
    const button = new URL(meta.button_url);
    assert.deepEqual(Object.fromEntries(button.searchParams), { url: "https://example.com/post", user_id: "carol" });
  });

  it("takes a Flattr thing link as the button", () => {
    const BUTTONS = 'a[href*="flattr.com/" i], [data-flattr-uid], [data-flattr-owner]';
    const p = page({ elements: { [BUTTONS]: [el({ href: "http://flattr.com/thing/313733/gnu" })] } });
    assert.equal(ask(p).meta.button_url, "http://flattr.com/thing/313733/gnu");
  });

  it("reports an unknown status as null and rejects non-http canonical URLs", () => {
    const p = page({ status: null, elements: { 'link[rel~="canonical" i][href]': [el({ href: "javascript:x" })] } });
    const answer = ask(p);
    assert.equal(answer.status, null);
    assert.equal(answer.meta.canonical_url, null);
  });

  it("reports trusted interactions only, throttled, without any key data", () => {
    const p = page();
    p.fire("click");
    p.fire("click"); // same second: throttled
    p.fire("keydown", { key: "s", code: "KeyS" });
    p.fire("keydown", { repeat: true });
    p.fire("mousemove");
    p.fire("mousemove");
    p.fire("scroll", { isTrusted: false }); // synthetic
    p.clock.t += S.ACTIVITY_THROTTLE_MS;
    p.fire("click");
    p.fire("wheel");
    const events = p.sent.map((m) => m.event);
    assert.deepEqual(events, ["click", "key", "mouse", "click", "scroll"]);
    assert.ok(p.sent.every((m) => m.kind === "page:activity" && Object.keys(m).length === 2));
    assert.ok(!JSON.stringify(p.sent).includes("KeyS"));
  });

  it("says nothing while the page is hidden", () => {
    const p = page();
    p.ctx.document.visibilityState = "hidden";
    p.fire("click");
    assert.deepEqual(p.sent, []);
  });

  it("runs once when injected into a page with a live copy, again after an update", () => {
    const p = page();
    const first = p.ctx[META_KEY];
    vm.runInContext(CODE, p.ctx); // the background injected it although the declared copy runs
    assert.equal(p.ctx[META_KEY], first);
    p.ctx.chrome.runtime.id = undefined; // the extension was updated: that copy is orphaned
    vm.runInContext(CODE, p.ctx);
    assert.notEqual(p.ctx[META_KEY], first);
    p.ctx.chrome.runtime.id = "ext";
    assert.equal(ask(p).status, 200, "the new copy reports the load the background asks about");
    assert.deepEqual(p.sent, []);
  });

  it("tells the background when the page comes back from the back/forward cache", () => {
    const p = page({ elements: { [FLATTR_ID]: [el({ name: "flattr:id", content: "alice" })] } });
    p.fire("pageshow", { persisted: false });
    assert.deepEqual(p.sent, []);
    p.fire("pageshow", { persisted: true });
    assert.deepEqual(JSON.parse(JSON.stringify(p.sent)), [{
      kind: "page:meta",
      meta: { payment_url: null, flattr_id: "alice", canonical_url: null, button_url: null, flattr_params: null },
      status: 200,
      url: "https://example.com/post",
    }]);
  });

  it("gives the background fresh metadata through its world, without listening to messages", () => {
    const p = page({ elements: { [FLATTR_ID]: [el({ name: "flattr:id", content: "alice" })] } });
    assert.equal(p.onMessage.listeners.length, 0);
    p.ctx.location.href = "https://example.com/post#2"; // a same-document navigation
    const answer = ask(p);
    assert.equal(answer.url, "https://example.com/post#2");
    assert.equal(answer.meta.flattr_id, "alice");
    assert.equal(p.ctx[LIVE_KEY](), true);
    assert.deepEqual(p.used.filter((u) => u.startsWith("chrome.")), ["chrome.extension", "chrome.runtime"],
      "only the presence check uses the extension's bindings");
    p.ctx.chrome.runtime.id = undefined; // orphaned by an update: the injector puts a new copy
    assert.equal(p.ctx[LIVE_KEY](), false);
  });

  it("answers with the page's metadata without using an extension binding", () => {
    const p = page({ elements: { [CANONICAL]: [el({ href: "https://example.com/c" })] } });
    assert.equal(ask(p).meta.canonical_url, "https://example.com/c");
    assert.deepEqual(p.used.filter((u) => u.startsWith("chrome.")), []);
  });

  it("sends nothing at all from a private window, and stops at the first check", () => {
    const p = page({ incognito: true, elements: { [FLATTR_ID]: [el({ name: "flattr:id", content: "alice" })] } });
    p.fire("click");
    p.fire("pageshow", { persisted: true });
    p.clock.t += S.ACTIVITY_THROTTLE_MS;
    p.fire("keydown");
    assert.deepEqual(p.sent, []);
    assert.equal(p.onMessage.listeners.length, 0);
    assert.equal(p.ctx[META_KEY](), null);
    assert.equal(p.ctx[LIVE_KEY](), false);
    assert.ok(!p.used.includes("chrome.runtime"), "never even near sendMessage");
    assert.ok(!p.used.includes("performance"), "nor reads the page");
  });

  it("repeats the background's figures", () => {
    for (const name of ["MOUSE_THROTTLE_MS", "ACTIVITY_THROTTLE_MS", "MAX_URL_LENGTH", "MAX_FLATTR_ID_LENGTH",
      "MAX_FLATTR_PARAM_LENGTH"]) {
      const m = CODE.match(new RegExp(`const ${name} = (\\d+);`));
      assert.ok(m, `${name} is defined in attention.js`);
      assert.equal(Number(m[1]), S[name], name);
    }
    for (const [name, value] of Object.entries({ LIVE_KEY, META_KEY })) {
      assert.equal(CODE.match(new RegExp(`const ${name} = "([^"]+)";`))?.[1], value, name);
    }
    const flattr = readFileSync(join(EXT, "src/content/flattr.js"), "utf8");
    assert.equal(Number(flattr.match(/const MAX_TOKEN_LENGTH = (\d+);/)[1]), S.MAX_TOKEN_LENGTH);
  });
});

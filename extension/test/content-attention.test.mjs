// The attention content script, in a vm context: trusted, throttled interactions, no key data,
// page metadata, nothing in private windows.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import vm from "node:vm";
import * as S from "../src/background/settings.js";
import { EXT, fakeEvent } from "./helpers.mjs";

const CODE = readFileSync(join(EXT, "src/content/attention.js"), "utf8");

function el(attrs) {
  return { ...attrs, getAttribute: (name) => attrs[name] ?? null };
}

function page({ href = "https://example.com/post", incognito = false, status = 200, elements = {} } = {}) {
  const listeners = new Map();
  const sent = [];
  const clock = { t: 1_000_000 };
  const onMessage = fakeEvent();
  const ctx = {
    location: { protocol: new URL(href).protocol, href },
    document: {
      visibilityState: "visible",
      querySelectorAll: (sel) => elements[sel] ?? [],
      querySelector: (sel) => (elements[sel] ?? [])[0] ?? null,
    },
    performance: { getEntriesByType: () => (status === null ? [] : [{ responseStatus: status }]) },
    URL,
    Date: { now: () => clock.t },
    addEventListener: (type, fn) => listeners.set(type, [...(listeners.get(type) ?? []), fn]),
    removeEventListener: () => {},
    chrome: {
      runtime: { id: "ext", sendMessage: async (m) => sent.push(structuredClone(m)), onMessage },
      extension: { inIncognitoContext: incognito },
    },
  };
  ctx.window = ctx;
  ctx.top = ctx;
  vm.createContext(ctx);
  vm.runInContext(CODE, ctx);
  const fire = (type, e = {}) => (listeners.get(type) ?? []).forEach((fn) => fn({ isTrusted: true, ...e }));
  return { ctx, sent, clock, fire, onMessage };
}

describe("attention content script", () => {
  it("reports the page's metadata and load status once loaded", () => {
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
    assert.deepEqual(JSON.parse(JSON.stringify(p.sent)), [{
      kind: "page:meta",
      meta: {
        payment_url: "https://flattr.com/submit/auto?user_id=alice&url=x",
        flattr_id: "alice",
        canonical_url: "https://example.com/post-canonical",
        button_url: null,
        flattr_params: null,
      },
      status: 200,
      url: "https://example.com/post",
    }]);
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
    const { meta } = p.sent[0];
    assert.equal(meta.payment_url, "http://flattr.com/submit/auto?url=x&user_id=al");
    assert.deepEqual({ ...meta.flattr_params }, { tags: "a,b" });
    const button = new URL(meta.button_url);
    assert.equal(`${button.origin}${button.pathname}`, "https://flattr.com/submit/auto");
    assert.deepEqual(Object.fromEntries(button.searchParams), {
      url: "https://example.com/thing", owner: "twitter:user:id:123", category: "text",
    });
  });

  it("takes a Flattr thing link as the button", () => {
    const BUTTONS = 'a[href*="flattr.com/" i], [data-flattr-uid], [data-flattr-owner]';
    const p = page({ elements: { [BUTTONS]: [el({ href: "http://flattr.com/thing/313733/gnu" })] } });
    assert.equal(p.sent[0].meta.button_url, "http://flattr.com/thing/313733/gnu");
  });

  it("reports an unknown status as null and rejects non-http canonical URLs", () => {
    const p = page({ status: null, elements: { 'link[rel~="canonical" i][href]': [el({ href: "javascript:x" })] } });
    assert.equal(p.sent[0].status, null);
    assert.equal(p.sent[0].meta.canonical_url, null);
  });

  it("reports trusted interactions only, throttled, without any key data", () => {
    const p = page();
    p.sent.length = 0;
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
    p.sent.length = 0;
    p.ctx.document.visibilityState = "hidden";
    p.fire("click");
    assert.deepEqual(p.sent, []);
  });

  it("runs once when injected into a page with a live copy, again after an update", () => {
    const p = page();
    const metas = () => p.sent.filter((m) => m.kind === "page:meta").length;
    vm.runInContext(CODE, p.ctx); // the background injected it although the declared copy runs
    assert.equal(metas(), 1);
    p.ctx.chrome.runtime.id = undefined; // the extension was updated: that copy is orphaned
    vm.runInContext(CODE, p.ctx);
    assert.equal(metas(), 2);
  });

  it("answers the background's request for fresh metadata", () => {
    const p = page();
    let answer = null;
    p.onMessage.fire({ kind: "page:get-meta" }, {}, (a) => {
      answer = a;
    });
    assert.equal(answer.url, "https://example.com/post");
    assert.ok("meta" in answer);
  });

  it("does nothing at all in a private window", () => {
    const p = page({ incognito: true });
    p.fire("click");
    assert.deepEqual(p.sent, []);
    assert.equal(p.onMessage.listeners.length, 0);
  });

  it("repeats the background's figures", () => {
    for (const name of ["MOUSE_THROTTLE_MS", "ACTIVITY_THROTTLE_MS", "MAX_URL_LENGTH", "MAX_FLATTR_ID_LENGTH",
      "MAX_FLATTR_PARAM_LENGTH"]) {
      const m = CODE.match(new RegExp(`const ${name} = (\\d+);`));
      assert.ok(m, `${name} is defined in attention.js`);
      assert.equal(Number(m[1]), S[name], name);
    }
    const flattr = readFileSync(join(EXT, "src/content/flattr.js"), "utf8");
    assert.equal(Number(flattr.match(/const MAX_TOKEN_LENGTH = (\d+);/)[1]), S.MAX_TOKEN_LENGTH);
  });
});

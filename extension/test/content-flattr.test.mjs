// The flattr.com content script, run in a vm context with a fake page and a fake extension API.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import vm from "node:vm";
import { EXT, fakeEvent, settle } from "./helpers.mjs";

const CODE = readFileSync(join(EXT, "src/content/flattr.js"), "utf8");
const INFO = { ok: true, build: "chromium-0.1.0", id: "pceboilfpeijfppedbhfdflpddadaoml", version: "0.1.0" };

function page({
  href = "https://flattr.com/",
  top = true,
  storage = "ok",
  incognito = false,
  hello = INFO,
  tokenAnswer = { ok: true, authenticated: true, answer: true },
  firefox = false,
} = {}) {
  const url = new URL(href);
  const document = new EventTarget();
  const seen = [];
  for (const type of ["flattr-installed", "flattr-authenticate", "flattr-authenticated", "flattr-uninstalled"]) {
    // JSON round trip: objects made inside the vm context have another realm's prototypes.
    document.addEventListener(type, (e) => seen.push([type, JSON.parse(JSON.stringify(e.detail))]));
  }
  const store = new Map();
  const sessionStorage = {
    setItem: (k, v) => store.set(k, String(v)),
    removeItem: (k) => store.delete(k),
  };
  const sent = [];
  const port = { onDisconnect: fakeEvent() };
  const runtime = {
    id: INFO.id,
    async sendMessage(msg) {
      sent.push(structuredClone(msg));
      if (msg.kind === "flattr:hello") return hello;
      if (msg.kind === "flattr:token") return tokenAnswer;
      return { ok: true };
    },
    connect: () => port,
  };
  const clones = [];
  const ctx = {
    document,
    location: { protocol: url.protocol, hostname: url.hostname, port: url.port, href },
    CustomEvent,
    JSON,
    setInterval: () => 1,
    clearInterval: () => {},
    chrome: { runtime, extension: { inIncognitoContext: incognito } },
  };
  if (firefox) {
    ctx.cloneInto = (obj, win) => {
      clones.push([obj, win]);
      return { cloned: structuredClone(obj) };
    };
  }
  ctx.window = ctx;
  ctx.top = top ? ctx : {};
  document.defaultView = ctx;
  if (storage === "ok") ctx.sessionStorage = sessionStorage;
  else {
    Object.defineProperty(ctx, "sessionStorage", {
      get() {
        throw new Error("SecurityError: The operation is insecure.");
      },
    });
  }
  vm.createContext(ctx);
  vm.runInContext(CODE, ctx);
  const fire = (type, detail) => document.dispatchEvent(new CustomEvent(type, { detail }));
  return { ctx, seen, sent, store, port, runtime, fire, clones };
}

describe("flattr.com content script", () => {
  it("asks the background, then sets the marker and dispatches flattr-installed", async () => {
    const p = page();
    await settle();
    assert.deepEqual(p.sent, [{ kind: "flattr:hello" }]);
    assert.equal(p.store.get("extension"), "0.1.0");
    assert.deepEqual(p.seen, [["flattr-installed", null]]);
  });

  for (const [what, options] of Object.entries({
    "plain http": { href: "http://flattr.com/" },
    "another host": { href: "https://evil.example/" },
    "a subdomain": { href: "https://www.flattr.com/" },
    "another port": { href: "https://flattr.com:8443/" },
    "a frame": { top: false },
    "a private window": { incognito: true },
  })) {
    it(`stays silent in ${what}`, async () => {
      const p = page(options);
      await settle();
      p.fire("flattr-trigger", { action: "authentication" });
      await settle();
      assert.deepEqual(p.sent, []);
      assert.deepEqual(p.seen, []);
      assert.equal(p.store.size, 0);
    });
  }

  it("stays silent when the background refuses", async () => {
    const p = page({ hello: { ok: false } });
    await settle();
    p.fire("flattr-trigger", { action: "authentication" });
    await settle();
    assert.deepEqual(p.seen, []);
  });

  it("survives blocked sessionStorage", async () => {
    const p = page({ storage: "blocked" });
    await settle();
    assert.deepEqual(p.seen, [["flattr-installed", null]]);
  });

  it("answers flattr-trigger authentication with build, id and version; ignores other actions", async () => {
    const p = page();
    await settle();
    p.fire("flattr-trigger", { action: "other" });
    p.fire("flattr-trigger", "garbage");
    p.fire("flattr-trigger", { action: "authentication" });
    await settle();
    assert.deepEqual(p.seen.slice(1), [
      ["flattr-authenticate", { build: "chromium-0.1.0", id: INFO.id, version: "0.1.0" }],
    ]);
  });

  it("in Firefox, clones details into the page", async () => {
    const p = page({ firefox: true });
    await settle();
    p.fire("flattr-trigger", { action: "authentication" });
    await settle();
    assert.equal(p.clones.length, 1);
    assert.equal(p.clones[0][1], p.ctx);
    assert.deepEqual(p.seen[1][1], { cloned: { build: "chromium-0.1.0", id: INFO.id, version: "0.1.0" } });
  });

  it("forwards a token without subscription and answers flattr-authenticated", async () => {
    const p = page();
    await settle();
    p.fire("flattr-token", { accessToken: "FOO" });
    await settle();
    assert.deepEqual(p.sent[1], { kind: "flattr:token", detail: { accessToken: "FOO" } });
    assert.deepEqual(p.seen.at(-1), ["flattr-authenticated", { authenticated: true }]);
  });

  it("forwards only the fields it knows, type-checked", async () => {
    const p = page();
    await settle();
    p.fire("flattr-token", { accessToken: "T", subscription: { active: true, extra: 1 }, other: "x" });
    p.fire("flattr-token", { accessToken: "T", subscription: { active: "yes" } });
    await settle();
    assert.deepEqual(p.sent[1].detail, { accessToken: "T", subscription: { active: true } });
    assert.deepEqual(p.sent[2].detail, { accessToken: "T" });
  });

  it("answers authenticated: false to an unusable token without bothering the background", async () => {
    const p = page();
    await settle();
    p.fire("flattr-token", { accessToken: 42 });
    p.fire("flattr-token", null);
    await settle();
    assert.equal(p.sent.length, 1);
    assert.deepEqual(p.seen.slice(1), [
      ["flattr-authenticated", { authenticated: false }],
      ["flattr-authenticated", { authenticated: false }],
    ]);
  });

  it("says nothing when the background closes the sign-in tab", async () => {
    const p = page({ tokenAnswer: { ok: true, authenticated: true, answer: false } });
    await settle();
    p.fire("flattr-token", { accessToken: "T" });
    await settle();
    assert.equal(p.seen.filter(([t]) => t === "flattr-authenticated").length, 0);
  });

  it("forwards flattr-subscription and drops malformed ones", async () => {
    const p = page();
    await settle();
    p.fire("flattr-subscription", { subscription: { active: false } });
    p.fire("flattr-subscription", { subscription: {} });
    p.fire("flattr-subscription", '{"subscription":{"active":true}}');
    await settle();
    assert.deepEqual(p.sent.slice(1), [
      { kind: "flattr:subscription", detail: { subscription: { active: false } } },
      { kind: "flattr:subscription", detail: { subscription: { active: true } } },
    ]);
  });

  it("dispatches flattr-uninstalled and cleans up when the extension goes away", async () => {
    const p = page();
    await settle();
    p.port.onDisconnect.fire(); // the worker stopped: the extension is still there
    assert.equal(p.seen.filter(([t]) => t === "flattr-uninstalled").length, 0);
    delete p.runtime.id; // disabled or updated
    p.port.onDisconnect.fire();
    assert.deepEqual(p.seen.at(-1), ["flattr-uninstalled", null]);
    assert.equal(p.store.has("extension"), false);
    p.fire("flattr-trigger", { action: "authentication" });
    await settle();
    assert.equal(p.seen.filter(([t]) => t === "flattr-authenticate").length, 0, "listeners removed");
  });
});

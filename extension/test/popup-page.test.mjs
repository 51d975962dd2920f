// The popup page as the build ships it (src/popup/popup.html bundled by tools/bundle.mjs), run
// against a fake DOM and browser API: what it shows first, and in what order it asks for things.
import assert from "node:assert/strict";
import { join } from "node:path";
import { runInNewContext } from "node:vm";
import { describe, it } from "node:test";
import { LAST_STATUS_KEY } from "../src/common/laststatus.js";
import { BUNDLED_PAGES, builtReplacements } from "../tools/build.mjs";
import { bundlePage } from "../tools/bundle.mjs";
import { EXT } from "./helpers.mjs";

const POPUP = "src/popup/popup.html";
const KEPT = {
  host: { state: "ready", hostVersion: "0.1.0" },
  account: { signed_in: true, username: "alice", subscription_active: true },
  queue: { pending: 0, in_flight: 0, failed: 0 },
  flattrsToday: 3,
};
const TAB = { id: 7, incognito: false, url: "https://example.com/a", title: "<b>An article</b>" };

class FakeElement {
  constructor(log, tag, id = "") {
    Object.assign(this, { log, tag, id, hidden: false, textContent: "", dataset: {}, attributes: {}, children: [] });
  }

  setAttribute(name, value) {
    this.attributes[name] = String(value);
    if (this.id === "main" && name === "aria-busy" && value === "false") this.log.push("painted");
  }

  getAttribute(name) {
    return this.attributes[name] ?? null;
  }

  addEventListener(type) {
    this.log.push(`listen ${this.id || this.tag} ${type}`);
  }

  replaceChildren(...children) {
    this.children = children;
  }

  append(...children) {
    this.children.push(...children);
  }
}

/** The popup's script run in its own global scope; `log` says what it did, in order. */
function openPopup({ stored = { [LAST_STATUS_KEY]: KEPT }, tabs = [TAB] } = {}) {
  const log = [];
  const elements = new Map();
  const document = {
    getElementById(id) {
      if (!elements.has(id)) elements.set(id, new FakeElement(log, "div", id));
      return elements.get(id);
    },
    createElement: (tag) => new FakeElement(log, tag),
  };
  const asked = (what, answer) => () => {
    log.push(what);
    return answer;
  };
  const chrome = {
    storage: { session: { get: asked("storage.session.get", Promise.resolve(stored)) } },
    tabs: { query: asked("tabs.query", Promise.resolve(tabs)) },
    runtime: {
      // A cold worker: the answer takes long, and the test only looks before it.
      sendMessage: (message) => {
        log.push(`send ${message.kind}`);
        return new Promise(() => {});
      },
      onMessage: { addListener: asked("listen bg:changed") },
    },
  };
  const noTimer = () => 0;
  const script = bundlePage(join(EXT, POPUP), EXT).scripts["src/popup/popup.js"];
  runInNewContext(script, {
    chrome, document, window: {}, navigator: {}, setTimeout: noTimer, clearTimeout: noTimer,
    setInterval: noTimer,
  });
  return { log, $: (id) => document.getElementById(id) };
}

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe("the built popup page", () => {
  it("is built as one script without imports and one inline stylesheet", () => {
    assert.deepEqual(BUNDLED_PAGES, [POPUP]);
    const built = builtReplacements();
    const html = built.get(POPUP).toString();
    assert.doesNotMatch(html, /<link rel="stylesheet"/);
    assert.equal(html.match(/<script\b/g).length, 1);
    assert.match(html, /<\/main>[^]*<script src="popup.js"><\/script>\n<\/body>/); // classic, last
    assert.match(html, /<style>[^]*--accent:[^]*\nmain \{[^]*<\/style>/); // base.css, then popup.css
    assert.doesNotMatch(built.get("src/popup/popup.js").toString(), /^\s*(import|export)\b/m);
  });

  it("paints the kept status first: both reads at once, before any wiring or the background", async () => {
    const { log, $ } = openPopup();
    await settled();
    assert.deepEqual(log.slice(0, 2), ["storage.session.get", "tabs.query"]);
    const painted = log.indexOf("painted");
    for (const after of ["listen sign-in click", "listen bg:changed", "send ui:state"]) {
      assert.ok(log.indexOf(after) > painted, `${after} after the first paint: ${log}`);
    }
    assert.equal($("main").getAttribute("aria-busy"), "false");
    assert.equal($("main").dataset.status, "last-known");
    assert.equal($("loading").textContent, "Updating…");
    assert.equal($("loading").hidden, false);
    assert.equal($("account-title").textContent, "Signed in as alice");
    // A hostile title stays text (and the page's own status follows with the live answer).
    assert.equal($("page-title").textContent, "<b>An article</b>");
    assert.equal($("summary").textContent, "3");
  });

  it("without a kept status, stays busy until the background answers", async () => {
    const { log, $ } = openPopup({ stored: {} });
    await settled();
    assert.ok(!log.includes("painted"));
    assert.ok(log.includes("send ui:state"));
    assert.equal($("main").getAttribute("aria-busy"), null);
  });
});

// Attention sensing, page side: reports that the user interacts with this page (click, key press,
// mouse movement, scrolling), and tells the background, when it asks, the creator metadata the
// page declares and how its load went. Never key contents, never which element, never synthetic
// (untrusted) events; nothing at all from private windows.
// At load it only registers its listeners and the two functions the background calls: it touches
// no extension API and no DOM then, as each first use of them costs every page load (see
// docs/benchmarks.md). A classic script (content scripts cannot be modules): figures repeat
// settings.js, a test checks.
(() => {
  "use strict";

  const api = globalThis.browser ?? globalThis.chrome;
  const MOUSE_THROTTLE_MS = 1000; // = settings.MOUSE_THROTTLE_MS
  const ACTIVITY_THROTTLE_MS = 1000; // = settings.ACTIVITY_THROTTLE_MS
  const MAX_URL_LENGTH = 8192; // = settings.MAX_URL_LENGTH
  const MAX_FLATTR_ID_LENGTH = 256; // = settings.MAX_FLATTR_ID_LENGTH
  const MAX_FLATTR_PARAM_LENGTH = 1024; // = settings.MAX_FLATTR_PARAM_LENGTH
  const FLATTR_HOST = "flattr.com";
  const AUTO_SUBMIT_PATH = "/submit/auto";
  const THING_PATH = /^\/thing\/\d+(\/|$)/;
  // The flattr:* meta tags and data-flattr-* attributes that describe the thing.
  const FLATTR_PARAMS = ["title", "description", "language", "tags", "category", "hidden"];
  // The creator declarations; of each kind the first in document order counts.
  const PAYMENT = 'link[rel~="payment" i][href]';
  const FLATTR_ID = 'meta[name="flattr:id" i][content]';
  const FLATTR_TAGS = 'meta[name^="flattr:" i][content]';
  const CANONICAL = 'link[rel~="canonical" i][href]';
  // Flattr button markup: links to flattr.com and the embedded button's data attributes.
  const BUTTON = 'a[href*="flattr.com/" i], [data-flattr-uid], [data-flattr-owner]';
  // All of them in one query: the script's first DOM calls in its world are what cost at load.
  const DECLARATIONS = [PAYMENT, FLATTR_ID, FLATTR_TAGS, CANONICAL, BUTTON].join(", ");
  const KIND = { activity: "page:activity", meta: "page:meta" };

  if (window.top !== window) return;
  if (location.protocol !== "http:" && location.protocol !== "https:") return;

  // Injected into a page where a live copy already runs (src/background/inject.js): one is
  // enough. A copy left behind by an update is not live: its runtime is gone. The background
  // calls these two in this world (scripting.executeScript, src/background/pagecall.js).
  const LIVE_KEY = "__flattrCompanionAttention"; // = pagecall.LIVE_KEY
  const META_KEY = "__flattrCompanionMeta"; // = pagecall.META_KEY
  if (typeof globalThis[LIVE_KEY] === "function" && globalThis[LIVE_KEY]()) return;

  let stopped = false;
  let loadReported = false;
  const lastSent = Object.create(null);

  /** Whether the script must say nothing: it stopped, or the page is in a private window (asked
   *  before anything would leave the page, not at load; there the script stops for good). */
  function silenced() {
    if (stopped) return true;
    let incognito = true;
    try {
      incognito = api.extension?.inIncognitoContext !== false;
    } catch {
      incognito = true; // the extension went away
    }
    if (incognito) stop();
    return incognito;
  }

  function live() {
    if (silenced()) return false;
    try {
      return Boolean(api.runtime?.id);
    } catch {
      return false;
    }
  }
  globalThis[LIVE_KEY] = live;

  function send(message) {
    if (silenced()) return;
    try {
      const p = api.runtime.sendMessage(message);
      if (p && typeof p.catch === "function") p.catch(() => {});
    } catch {
      stop(); // the extension went away (updated, disabled)
    }
  }

  // --- interactions -----------------------------------------------------------------------------

  function report(kind) {
    if (document.visibilityState !== "visible") return;
    const now = Date.now();
    const gap = kind === "mouse" ? MOUSE_THROTTLE_MS : ACTIVITY_THROTTLE_MS;
    if (now - (lastSent[kind] ?? -Infinity) < gap) return;
    lastSent[kind] = now;
    send({ kind: KIND.activity, event: kind });
  }

  const handlers = {
    click: (e) => e.isTrusted && report("click"),
    keydown: (e) => e.isTrusted && !e.repeat && report("key"),
    mousemove: (e) => e.isTrusted && report("mouse"),
    scroll: (e) => e.isTrusted && report("scroll"),
    wheel: (e) => e.isTrusted && report("scroll"),
  };
  const options = { capture: true, passive: true };
  for (const [type, fn] of Object.entries(handlers)) window.addEventListener(type, fn, options);

  function stop() {
    stopped = true;
    for (const [type, fn] of Object.entries(handlers)) {
      window.removeEventListener(type, fn, options);
    }
  }

  // --- metadata ---------------------------------------------------------------------------------

  function httpUrl(value) {
    if (typeof value !== "string" || value.length > MAX_URL_LENGTH) return null;
    try {
      const u = new URL(value, location.href);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch {
      return null;
    }
  }

  /** An element's `href` property: already resolved and serialized by the browser, so only its
   *  scheme is checked here (the background parses it again): this world needs no URL parser. */
  function resolvedHttpUrl(value) {
    if (typeof value !== "string" || value.length > MAX_URL_LENGTH) return null;
    return /^https?:\/\//.test(value) ? value : null;
  }

  /** A link to flattr.com (http or https: Flattr's own examples use both) on `path`. */
  function flattrLink(value, isPath) {
    if (typeof value !== "string" || !value.toLowerCase().includes(FLATTR_HOST)) return null;
    const href = httpUrl(value);
    if (!href) return null;
    const u = new URL(href);
    return u.hostname === FLATTR_HOST && u.port === "" && isPath(u.pathname) ? href : null;
  }

  const isAutoSubmit = (path) => path === AUTO_SUBMIT_PATH;

  function text(value, max) {
    if (typeof value !== "string") return "";
    const trimmed = value.trim();
    return trimmed.length <= max ? trimmed : "";
  }

  /** A Flattr button node as an auto-submit URL or a thing link, or null. */
  function buttonUrl(node) {
    const who = text(node.getAttribute("data-flattr-uid"), MAX_FLATTR_ID_LENGTH);
    const owner = text(node.getAttribute("data-flattr-owner"), MAX_FLATTR_ID_LENGTH);
    if (who || owner) {
      // The embedded button: its href is the thing's URL (the page itself when absent).
      const thing = httpUrl(node.getAttribute("href") || location.href);
      if (!thing) return null;
      const submit = new URL(`https://${FLATTR_HOST}${AUTO_SUBMIT_PATH}`);
      submit.searchParams.set("url", thing);
      submit.searchParams.set(who ? "user_id" : "owner", who || owner);
      for (const key of FLATTR_PARAMS) {
        const value = text(node.getAttribute(`data-flattr-${key}`), MAX_FLATTR_PARAM_LENGTH);
        if (value) submit.searchParams.set(key, value);
      }
      return submit.href;
    }
    return flattrLink(node.href, (p) => isAutoSubmit(p) || THING_PATH.test(p));
  }

  /** One pass in document order. Of each kind the first node decides, except that payment links
   *  and buttons that are not Flattr's are passed over, and each flattr: parameter is taken from
   *  the first tag that gives it a value. A node may be of several kinds. */
  function readMeta() {
    let payment = null;
    let idTag = null;
    let canonical = null;
    let button = null;
    const params = {};
    for (const node of document.querySelectorAll(DECLARATIONS)) {
      if (payment === null && node.matches(PAYMENT)) payment = flattrLink(node.href, isAutoSubmit);
      if (idTag === null && node.matches(FLATTR_ID)) idTag = node;
      if (node.matches(FLATTR_TAGS)) {
        const key = String(node.getAttribute("name")).slice("flattr:".length).toLowerCase();
        const value = text(node.getAttribute("content"), MAX_FLATTR_PARAM_LENGTH);
        if (FLATTR_PARAMS.includes(key) && value && !(key in params)) params[key] = value;
      }
      if (canonical === null && node.matches(CANONICAL)) canonical = node;
      if (button === null && node.matches(BUTTON)) button = buttonUrl(node);
    }
    let flattrId = idTag ? idTag.getAttribute("content").trim() : "";
    if (flattrId === "" || flattrId.length > MAX_FLATTR_ID_LENGTH) flattrId = null;
    return {
      payment_url: payment,
      flattr_id: flattrId,
      canonical_url: canonical ? resolvedHttpUrl(canonical.href) : null,
      button_url: button,
      flattr_params: Object.keys(params).length > 0 ? params : null,
    };
  }

  /** The main document's HTTP status where the browser tells it (Navigation Timing), else null. */
  function loadStatus() {
    try {
      const nav = performance.getEntriesByType("navigation")[0];
      const status = nav ? nav.responseStatus : undefined;
      return Number.isInteger(status) && status > 0 ? status : null;
    } catch {
      return null;
    }
  }

  // What the background asks once the tab has loaded (and after a same-document navigation, or
  // an injection): the metadata, and with the first answer of this copy the load status. Asked
  // through executeScript, not sent at load: a runtime.onMessage listener, or one sendMessage,
  // alone costs each page load more than the script's whole budget. No extension binding here
  // either (the first use of one costs the page more than reading it): the background asks only
  // tabs of normal windows, and a copy orphaned by an update still reads this same page.
  globalThis[META_KEY] = () => {
    if (stopped) return null;
    const answer = { meta: readMeta(), url: document.URL };
    if (!loadReported) answer.status = loadStatus();
    loadReported = true;
    return answer;
  };

  // Back/forward cache: the page is shown again without a new load, and the background may not
  // ask: say so (this costs nothing at load).
  window.addEventListener("pageshow", (e) => {
    if (!e.persisted || silenced()) return;
    loadReported = true;
    send({ kind: KIND.meta, meta: readMeta(), status: loadStatus(), url: location.href });
  });
})();

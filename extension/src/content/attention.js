// Attention sensing, page side: reports that the user interacts with this page (click, key press,
// mouse movement, scrolling) and the creator metadata the page declares. Never key contents,
// never which element, never synthetic (untrusted) events; nothing at all in private windows.
// A classic script (content scripts cannot be modules): figures repeat settings.js, a test checks.
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
  // Flattr button markup: links to flattr.com and the embedded button's data attributes.
  const BUTTON_SELECTOR = 'a[href*="flattr.com/" i], [data-flattr-uid], [data-flattr-owner]';
  const KIND = { activity: "page:activity", meta: "page:meta", getMeta: "page:get-meta" };

  try {
    if (api.extension?.inIncognitoContext) return;
  } catch {
    return;
  }
  if (window.top !== window) return;
  if (location.protocol !== "http:" && location.protocol !== "https:") return;

  // Injected into a page where a live copy already runs (src/background/inject.js): one is
  // enough. A copy left behind by an update is not live: its runtime is gone.
  const LIVE_KEY = "__flattrCompanionAttention";
  if (typeof globalThis[LIVE_KEY] === "function" && globalThis[LIVE_KEY]()) return;

  let stopped = false;
  const lastSent = Object.create(null);
  globalThis[LIVE_KEY] = () => {
    try {
      return !stopped && Boolean(api.runtime?.id);
    } catch {
      return false;
    }
  };

  function send(message) {
    if (stopped) return;
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

  /** A link to flattr.com (http or https: Flattr's own examples use both) on `path`. */
  function flattrLink(value, isPath) {
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

  /** The first Flattr button in document order, as an auto-submit URL or a thing link. */
  function readButton() {
    for (const node of document.querySelectorAll(BUTTON_SELECTOR)) {
      const who = text(node.getAttribute("data-flattr-uid"), MAX_FLATTR_ID_LENGTH);
      const owner = text(node.getAttribute("data-flattr-owner"), MAX_FLATTR_ID_LENGTH);
      if (who || owner) {
        // The embedded button: its href is the thing's URL (the page itself when absent).
        const thing = httpUrl(node.getAttribute("href") || location.href);
        if (!thing) continue;
        const submit = new URL(`https://${FLATTR_HOST}${AUTO_SUBMIT_PATH}`);
        submit.searchParams.set("url", thing);
        submit.searchParams.set(who ? "user_id" : "owner", who || owner);
        for (const key of FLATTR_PARAMS) {
          const value = text(node.getAttribute(`data-flattr-${key}`), MAX_FLATTR_PARAM_LENGTH);
          if (value) submit.searchParams.set(key, value);
        }
        return submit.href;
      }
      const href = flattrLink(node.href, (p) => isAutoSubmit(p) || THING_PATH.test(p));
      if (href) return href;
    }
    return null;
  }

  function readMeta() {
    let payment = null;
    for (const link of document.querySelectorAll('link[rel~="payment" i][href]')) {
      payment = flattrLink(link.href, isAutoSubmit);
      if (payment) break;
    }
    const idTag = document.querySelector('meta[name="flattr:id" i][content]');
    let flattrId = idTag ? idTag.getAttribute("content").trim() : "";
    if (flattrId === "" || flattrId.length > MAX_FLATTR_ID_LENGTH) flattrId = null;
    const params = {};
    for (const tag of document.querySelectorAll('meta[name^="flattr:" i][content]')) {
      const key = String(tag.getAttribute("name")).slice("flattr:".length).toLowerCase();
      const value = text(tag.getAttribute("content"), MAX_FLATTR_PARAM_LENGTH);
      if (FLATTR_PARAMS.includes(key) && value && !(key in params)) params[key] = value;
    }
    const canonical = document.querySelector('link[rel~="canonical" i][href]');
    return {
      payment_url: payment,
      flattr_id: flattrId,
      canonical_url: canonical ? httpUrl(canonical.href) : null,
      button_url: readButton(),
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

  function announce() {
    send({ kind: KIND.meta, meta: readMeta(), status: loadStatus(), url: location.href });
  }

  api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
    if (!msg || msg.kind !== KIND.getMeta || stopped) return false;
    sendResponse({ meta: readMeta(), url: location.href });
    return false;
  });

  // Back/forward cache: the page is shown again without a new load.
  window.addEventListener("pageshow", (e) => {
    if (e.persisted) announce();
  });

  announce();
})();

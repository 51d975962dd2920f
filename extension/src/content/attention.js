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
  const AUTO_SUBMIT = { origin: "https://flattr.com", path: "/submit/auto" };
  const KIND = { activity: "page:activity", meta: "page:meta", getMeta: "page:get-meta" };

  try {
    if (api.extension?.inIncognitoContext) return;
  } catch {
    return;
  }
  if (window.top !== window) return;
  if (location.protocol !== "http:" && location.protocol !== "https:") return;

  let stopped = false;
  const lastSent = Object.create(null);

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

  function readMeta() {
    let payment = null;
    for (const link of document.querySelectorAll('link[rel~="payment" i][href]')) {
      const href = httpUrl(link.href);
      if (!href) continue;
      const u = new URL(href);
      if (u.origin === AUTO_SUBMIT.origin && u.pathname === AUTO_SUBMIT.path) {
        payment = href;
        break;
      }
    }
    const idTag = document.querySelector('meta[name="flattr:id" i][content]');
    let flattrId = idTag ? idTag.getAttribute("content").trim() : "";
    if (flattrId === "" || flattrId.length > MAX_FLATTR_ID_LENGTH) flattrId = null;
    const canonical = document.querySelector('link[rel~="canonical" i][href]');
    return {
      payment_url: payment,
      flattr_id: flattrId,
      canonical_url: canonical ? httpUrl(canonical.href) : null,
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

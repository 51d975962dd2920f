// The flattr.com handshake, page side (docs/handshake.md). Runs only on
// https://flattr.com/* (manifest) and checks that again here, in the top frame of a normal window.
// A classic script (content scripts cannot be modules): it repeats the few names it needs.
//
//   page → ext: flattr-trigger {action: "authentication"}, flattr-token {accessToken,
//               subscription?}, flattr-subscription {subscription: {active}}
//   ext → page: flattr-installed, flattr-authenticate {build, id, version},
//               flattr-authenticated {authenticated}, flattr-uninstalled
//
// Page events are never trusted (isTrusted is false for CustomEvents): every detail is
// type-checked here and again in the background, which also checks the sender's URL and frame.
(() => {
  "use strict";

  const api = globalThis.browser ?? globalThis.chrome;
  const MARKER_KEY = "extension"; // sessionStorage key the page reads (docs/handshake.md)
  const MAX_TOKEN_LENGTH = 4096; // = settings.MAX_TOKEN_LENGTH
  const MAX_DETAIL_CHARS = 16384; // a JSON-string detail longer than this is junk
  const GONE_POLL_MS = 2000; // how often to look whether the extension went away
  const PORT_NAME = "flattr-page"; // = messages.FLATTR_PORT_NAME
  const KIND = { hello: "flattr:hello", token: "flattr:token", subscription: "flattr:subscription" };

  if (location.protocol !== "https:" || location.hostname !== "flattr.com" || location.port !== "") {
    return;
  }
  if (window.top !== window) return;
  try {
    if (api.extension?.inIncognitoContext) return; // nothing happens in private windows
  } catch {
    return;
  }

  // Injected into a page where a live copy already runs (src/background/inject.js): one is
  // enough. A copy left behind by an update is not live: its runtime is gone.
  const LIVE_KEY = "__flattrCompanionHandshake";
  if (typeof globalThis[LIVE_KEY] === "function" && globalThis[LIVE_KEY]()) return;
  globalThis[LIVE_KEY] = () => {
    try {
      return !gone && Boolean(api.runtime?.id);
    } catch {
      return false;
    }
  };

  let info = null; // {build, id, version} once the background said this page may know us
  let pollTimer = null;
  let port = null;
  let gone = false;

  // --- page I/O ---------------------------------------------------------------------------------

  /** Firefox: an object made here is invisible to page scripts unless cloned into the page. */
  function forPage(detail) {
    if (typeof cloneInto === "function") {
      try {
        return cloneInto(detail, document.defaultView); // eslint-disable-line no-undef
      } catch {
        return JSON.stringify(detail);
      }
    }
    return detail;
  }

  function dispatch(type, detail) {
    const init = detail === undefined ? {} : { detail: forPage(detail) };
    document.dispatchEvent(new CustomEvent(type, init));
  }

  /** The event's detail as a plain object (JSON strings accepted), or null. */
  function detailOf(event) {
    let d;
    try {
      d = event.detail;
      if (typeof d === "string") d = d.length <= MAX_DETAIL_CHARS ? JSON.parse(d) : null;
    } catch {
      return null;
    }
    return d !== null && typeof d === "object" && !Array.isArray(d) ? d : null;
  }

  function subscriptionOf(d) {
    try {
      const sub = d.subscription;
      return sub && typeof sub === "object" && typeof sub.active === "boolean"
        ? { active: sub.active }
        : null;
    } catch {
      return null;
    }
  }

  function setMarker(value) {
    // Reading window.sessionStorage throws when the user blocks site data: carry on without it.
    try {
      if (value === null) window.sessionStorage.removeItem(MARKER_KEY);
      else window.sessionStorage.setItem(MARKER_KEY, value);
    } catch {
      // the event still tells the page
    }
  }

  async function send(message) {
    try {
      return await api.runtime.sendMessage(message);
    } catch {
      if (extensionGone()) uninstall();
      return null;
    }
  }

  // --- page events ------------------------------------------------------------------------------

  function onTrigger(event) {
    const d = detailOf(event);
    if (!info || d === null || d.action !== "authentication") return; // other actions: ignored
    dispatch("flattr-authenticate", { build: info.build, id: info.id, version: info.version });
  }

  async function onToken(event) {
    const d = detailOf(event);
    let token = null;
    try {
      token = d ? d.accessToken : null;
    } catch {
      token = null;
    }
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      dispatch("flattr-authenticated", { authenticated: false });
      return;
    }
    const detail = { accessToken: token };
    const sub = subscriptionOf(d);
    if (sub) detail.subscription = sub;
    const answer = await send({ kind: KIND.token, detail });
    if (gone) return;
    // The background closes the tab of an extension-started sign-in: then nothing is said.
    if (answer && answer.answer === false) return;
    dispatch("flattr-authenticated", { authenticated: Boolean(answer && answer.authenticated === true) });
  }

  function onSubscription(event) {
    const d = detailOf(event);
    const sub = d ? subscriptionOf(d) : null;
    if (sub) send({ kind: KIND.subscription, detail: { subscription: sub } });
  }

  const listeners = [
    ["flattr-trigger", onTrigger],
    ["flattr-token", onToken],
    ["flattr-subscription", onSubscription],
  ];

  // --- the extension going away (disabled, updated, removed) ------------------------------------

  function extensionGone() {
    try {
      return !api.runtime || !api.runtime.id;
    } catch {
      return true; // Firefox: the dead wrapper throws
    }
  }

  function uninstall() {
    if (gone) return;
    gone = true;
    if (pollTimer !== null) clearInterval(pollTimer);
    for (const [type, fn] of listeners) document.removeEventListener(type, fn);
    setMarker(null);
    dispatch("flattr-uninstalled");
  }

  function watch() {
    try {
      port = api.runtime.connect({ name: PORT_NAME });
      port.onDisconnect.addListener(() => {
        port = null;
        // The worker may only have been stopped: then runtime.id is still there and we keep
        // polling instead of reconnecting (which would wake the worker again and again).
        if (extensionGone()) uninstall();
      });
    } catch {
      uninstall();
      return;
    }
    pollTimer = setInterval(() => {
      if (extensionGone()) uninstall();
    }, GONE_POLL_MS);
  }

  // --- start ------------------------------------------------------------------------------------

  async function start() {
    const answer = await send({ kind: KIND.hello });
    if (!answer || answer.ok !== true || gone) return;
    info = { build: String(answer.build), id: String(answer.id), version: String(answer.version) };
    for (const [type, fn] of listeners) document.addEventListener(type, fn);
    setMarker(info.version);
    watch();
    dispatch("flattr-installed");
  }

  start();
})();

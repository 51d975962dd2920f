// Message kinds between the extension's own parts (runtime.sendMessage). The popup/options ↔
// background messages are described in docs/extension.md; content scripts cannot import modules
// and spell the same strings.

// How to install the host: the background's "missing" state carries it, the popup shows it.
export const INSTALL_COMMAND = "pipx install flattr-companion && flattr-host install";

// Popup / options → background (answer: {ok: true, ...} or {ok: false, error: {code, message}}).
export const UI = Object.freeze({
  STATE: "ui:state",
  SIGN_IN: "ui:sign-in",
  FLATTR_NOW: "ui:flattr-now",
  SET_SITE: "ui:set-site",
  SITES: "ui:sites",
  SET_MODE: "ui:set-mode",
  SET_VISIT_FLATTRS: "ui:set-visit-flattrs",
  HISTORY: "ui:history",
  EXPORT: "ui:export",
  SIGN_OUT: "ui:sign-out",
  FLUSH: "ui:flush",
  OPEN_DASHBOARD: "ui:open-dashboard",
});

// Background → popup / options: "something changed, fetch ui:state again".
export const BG_CHANGED = "bg:changed";

// flattr.com content script → background.
export const FLATTR = Object.freeze({
  HELLO: "flattr:hello",
  TOKEN: "flattr:token",
  SUBSCRIPTION: "flattr:subscription",
});

// Attention content script → background. `page:meta` only for a page back from the back/forward
// cache: otherwise the background asks the script's world (background/pagecall.js).
export const PAGE = Object.freeze({
  ACTIVITY: "page:activity",
  META: "page:meta",
});

export const ACTIVITY_EVENTS = Object.freeze(["click", "key", "mouse", "scroll"]);

// Port the flattr.com content script opens only to learn when the extension goes away.
export const FLATTR_PORT_NAME = "flattr-page";

// The background half of the flattr.com handshake (docs/handshake.md), hardened:
// a token or subscription is accepted only from the top frame of a normal (non-private) tab whose
// URL is exactly on https://flattr.com, and every `detail` is type-checked here again even though
// the content script already did. The browser API and the host are injected.
import { FLATTR_ORIGIN, MAX_TOKEN_LENGTH, MAX_URL_LENGTH } from "./settings.js";
import { errorOf } from "./host.js";
import * as build from "./protocol.js";
import { isFlattrPage, isSignInPage } from "./urls.js";

/** A detail may arrive as a JSON string (pages that pre-serialise for Firefox). */
const MAX_DETAIL_CHARS = 16_384;

/** `{ok: true, pageUrl, tab}` when the message comes from where a token may come from. */
export function checkSender(sender, ownId) {
  if (!sender || typeof sender !== "object") return { ok: false, reason: "no sender" };
  if (ownId !== undefined && sender.id !== ownId) return { ok: false, reason: "foreign sender" };
  if (sender.frameId !== 0) return { ok: false, reason: "not the top frame" };
  const tab = sender.tab;
  if (!tab || !Number.isInteger(tab.id)) return { ok: false, reason: "not from a tab" };
  if (tab.incognito !== false) return { ok: false, reason: "private window" };
  const url = sender.url;
  if (typeof url !== "string" || url.length > MAX_URL_LENGTH || !isFlattrPage(url)) {
    return { ok: false, reason: "not https://flattr.com" };
  }
  // Chromium also reports the origin the browser vouches for; Firefox does not.
  if (sender.origin !== undefined && sender.origin !== FLATTR_ORIGIN) {
    return { ok: false, reason: "not https://flattr.com" };
  }
  return { ok: true, pageUrl: url, tab };
}

function asObject(detail) {
  if (typeof detail === "string") {
    if (detail.length > MAX_DETAIL_CHARS) return null;
    try {
      detail = JSON.parse(detail);
    } catch {
      return null;
    }
  }
  return detail !== null && typeof detail === "object" && !Array.isArray(detail) ? detail : null;
}

/** `flattr-trigger`: only `{action: "authentication"}` means anything. */
export function parseTrigger(detail) {
  const d = asObject(detail);
  return d !== null && d.action === "authentication";
}

/** `{subscription: {active: boolean}}` → `{active}`, anything else → null. */
export function parseSubscription(detail) {
  const d = asObject(detail);
  const sub = d === null ? null : asObject(d.subscription);
  return sub !== null && typeof sub.active === "boolean" ? { active: sub.active } : null;
}

/** `{accessToken, subscription?}` → `{token, subscription|null}`; null when the token is unusable. */
export function parseToken(detail) {
  const d = asObject(detail);
  if (d === null) return null;
  const token = d.accessToken;
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    return null;
  }
  // A missing or malformed subscription must not break sign-in (the original's test page sent none).
  return { token, subscription: parseSubscription(d) };
}

export class FlattrSite {
  /**
   * @param {object} o
   * @param {object} o.host  HostConnection
   * @param {object} o.info  `{id, version, build}` announced in flattr-authenticate
   * @param {(tab: object) => Promise<void>} o.closeSignInTab  signin.js
   */
  constructor({ host, info, closeSignInTab }) {
    this.host = host;
    this.info = info;
    this.closeSignInTab = closeSignInTab;
  }

  /** `flattr:hello`: may the content script announce the extension on this page? */
  hello(sender) {
    const check = checkSender(sender, this.info.id);
    if (!check.ok) return { ok: false, error: { code: "untrusted_origin", message: check.reason } };
    return { ok: true, build: this.info.build, id: this.info.id, version: this.info.version };
  }

  /**
   * `flattr:token` → host `token`. The answer tells the content script what to dispatch:
   * `{ok, authenticated, answer}`; `answer: false` when the sign-in tab is being closed.
   */
  async token(detail, sender) {
    const check = checkSender(sender, this.info.id);
    if (!check.ok) return { ok: false, error: { code: "untrusted_origin", message: check.reason } };
    const parsed = parseToken(detail);
    if (parsed === null) {
      return { ok: true, authenticated: false, answer: true };
    }
    let account;
    try {
      account = await this.host.request(
        build.token(parsed.token, parsed.subscription, check.pageUrl),
      );
    } catch (err) {
      return { ok: true, authenticated: false, answer: true, error: errorOf(err) };
    }
    const authenticated = account?.signed_in === true;
    if (authenticated && isSignInPage(check.pageUrl)) {
      // Signed in from the extension's button: close that tab, and say nothing to the page.
      queueMicrotask(() => {
        this.closeSignInTab(check.tab).catch(() => {});
      });
      return { ok: true, authenticated, answer: false };
    }
    return { ok: true, authenticated, answer: true };
  }

  /** `flattr:subscription` → host `subscription`. */
  async subscription(detail, sender) {
    const check = checkSender(sender, this.info.id);
    if (!check.ok) return { ok: false, error: { code: "untrusted_origin", message: check.reason } };
    const sub = parseSubscription(detail);
    if (sub === null) return { ok: false, error: { code: "invalid_detail", message: "no subscription.active" } };
    try {
      await this.host.request(build.subscription(sub.active, check.pageUrl));
      return { ok: true };
    } catch (err) {
      return { ok: false, error: errorOf(err) };
    }
  }
}

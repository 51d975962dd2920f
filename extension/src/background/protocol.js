// Builders for every request the extension sends to flattr-host (PROTOCOL.md). Each returns the
// message without its `id` (host.js numbers requests). The tests validate every builder's output
// against protocol.schema.json, so a field added here that the host does not know fails there.
import { MAX_HISTORY_LIMIT, MAX_TITLE_LENGTH, PROTOCOL_VERSION } from "./settings.js";
import { sanitizeMeta } from "./meta.js";
import { clip } from "../common/text.js";

export const MODES = Object.freeze(["all", "enabled", "metadata"]);
export const SITE_SETTINGS = Object.freeze(["enabled", "disabled", "default"]);

function title(value) {
  return typeof value === "string" && value !== "" ? clip(value, MAX_TITLE_LENGTH) : null;
}

export function hello(extension) {
  return {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    extension: {
      id: String(extension.id ?? ""),
      version: String(extension.version ?? ""),
      browser: String(extension.browser ?? ""),
    },
  };
}

/** `subscription` only when flattr.com said something valid about it. */
export function token(accessToken, subscription, pageUrl) {
  const msg = { type: "token", token: accessToken, page_url: pageUrl };
  if (subscription && typeof subscription.active === "boolean") {
    msg.subscription = { active: subscription.active };
  }
  return msg;
}

export function subscription(active, pageUrl) {
  return { type: "subscription", active, page_url: pageUrl };
}

export function signOut() {
  return { type: "sign_out" };
}

/** `batch`: an id kept across resends, so that the host records a batch only once. */
export function attention(segments, batch = null) {
  return batch ? { type: "attention", segments, batch } : { type: "attention", segments };
}

/** Top-level navigations `{url, visited_at}` of normal windows, oldest first. */
export function visits(list) {
  return {
    type: "visits",
    visits: list.map((v) => ({ url: v.url, visited_at: v.visited_at, private: false })),
  };
}

export function setVisitFlattrs(enabled) {
  return { type: "set_visit_flattrs", enabled: Boolean(enabled) };
}

export function flattrNow(page) {
  return {
    type: "flattr_now",
    url: page.url,
    title: title(page.title),
    meta: sanitizeMeta(page.meta),
    private: false,
  };
}

export function pageStatus(page) {
  return { type: "page_status", url: page.url, meta: sanitizeMeta(page.meta), private: false };
}

export function setSite(site, setting) {
  return { type: "set_site", site, setting };
}

export function sites() {
  return { type: "sites" };
}

export function setMode(mode) {
  return { type: "set_mode", mode };
}

export function status() {
  return { type: "status" };
}

export function history(before, limit) {
  const msg = { type: "history" };
  if (Number.isInteger(before)) msg.before = before;
  if (Number.isInteger(limit)) msg.limit = Math.min(Math.max(limit, 1), MAX_HISTORY_LIMIT);
  return msg;
}

export function exportPage(cursor) {
  return typeof cursor === "string" ? { type: "export", cursor } : { type: "export" };
}

export function tick(force = false) {
  return { type: "tick", force: Boolean(force) };
}

const DASHBOARD_PAGES = ["account", "queue", "history", "creators", "settings"];

/** Start the desktop dashboard (or bring the open one to the front) on `page`, if one is named. */
export function openDashboard(page) {
  return DASHBOARD_PAGES.includes(page) ? { type: "open_dashboard", page } : { type: "open_dashboard" };
}

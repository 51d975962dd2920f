// The options page's view: `ui:sites`, `ui:history`, `ui:state` and `ui:export` answers → what to
// show. Pure functions (no DOM, no browser API); times relative to an injected `now` (unix
// seconds). Site names, titles and URLs are hostile input: cleaned here, rendered as text only.
import {
  MAX_TITLE_CHARS,
  MAX_URL_CHARS,
  cleanText,
  formatRelative,
  plural,
  safeHref,
} from "../common/view.js";

export const MODES = [
  {
    value: "all",
    label: "All public sites",
    description: "Every public web page counts, except the built-in never-count list and sites " +
      "you turned off.",
  },
  {
    value: "enabled",
    label: "Only sites I enabled",
    description: "Nothing counts until you enable a site (here or with the switch in the popup).",
  },
  {
    value: "metadata",
    label: "Only pages with Flattr metadata",
    description: "Only pages whose creators declare a Flattr account in the page count.",
  },
];

// The host's built-in categories (sites.py CATEGORY_DETAIL), as headings.
export const CATEGORY_LABELS = {
  banking: "Banking and payment",
  search: "Search pages",
  webmail: "Webmail",
  sign_in: "Sign-in pages",
  intranet: "Workplace intranet tools",
  platform: "Home, search and settings pages of big platforms",
  flattr: "flattr.com itself",
};

const REASON_LABELS = {
  attention: "Attention",
  audio: "Listening",
  manual: "Flattr button",
  visits: "Daily visits",
};

// Longest site name the host accepts (DNS limit; SetSiteRequest.site maxLength).
export const MAX_SITE_CHARS = 253;
// Keys never written to an export file, whatever the host sends (the host already omits tokens).
const SECRET_KEY = /token|secret|password|authorization|cookie/i;
const EXPORT_FORMAT = "flattr-companion-export";
const EXPORT_VERSION = 1;

export function categoryLabel(category) {
  if (typeof category !== "string" || !category) return "";
  return CATEGORY_LABELS[category] ?? cleanText(category.replace(/_/g, " "), 60);
}

/** The three modes as radio buttons. */
export function modeView(mode) {
  const known = MODES.some((m) => m.value === mode);
  return MODES.map((m) => ({ ...m, checked: known ? m.value === mode : m.value === "all" }));
}

function siteState(entry, mode) {
  const builtin = categoryLabel(entry.builtin);
  if (entry.setting === "enabled") {
    return `Counts: you enabled it${builtin ? ` (built-in list: ${builtin})` : ""}`;
  }
  if (entry.setting === "disabled") return "Off: you turned it off";
  if (builtin) return `Built-in list (${builtin}): some or all pages never count`;
  if (mode === "enabled") return "Does not count: not enabled";
  if (mode === "metadata") return "Counts on pages with Flattr metadata";
  return "Counts (default)";
}

/** The user's sites, with their state, counts and what can be done. */
export function siteRows(sites, mode) {
  if (!Array.isArray(sites)) return [];
  return sites
    .filter((entry) => typeof entry?.site === "string" && entry.site)
    .map((entry) => {
      const setting = ["enabled", "disabled"].includes(entry.setting) ? entry.setting : "default";
      const today = Number.isInteger(entry.flattrs_today) ? entry.flattrs_today : 0;
      const total = Number.isInteger(entry.flattrs_total) ? entry.flattrs_total : 0;
      return {
        site: cleanText(entry.site, MAX_URL_CHARS),
        // The exact name goes back in `ui:set-site`; it is never shown.
        key: entry.site,
        setting,
        state: siteState({ ...entry, setting }, mode),
        category: categoryLabel(entry.builtin),
        today,
        total,
        counts: `${today} today, ${total} in total`,
        actions: {
          enable: setting !== "enabled",
          disable: setting !== "disabled",
          reset: setting !== "default",
        },
      };
    });
}

/** "google.* / /search" → "google.* — /, /search"; "paypal.com" stays. */
function ruleText(rule) {
  const text = cleanText(rule, MAX_URL_CHARS);
  const [host, ...paths] = text.split(" ");
  return paths.length ? `${host} — only ${paths.join(", ")}` : host;
}

/** The built-in never-count list by category. */
export function builtinView(builtin) {
  if (!builtin || typeof builtin !== "object") return [];
  return Object.entries(builtin)
    .filter(([, rules]) => Array.isArray(rules))
    .map(([category, rules]) => ({
      category,
      label: categoryLabel(category),
      summary: `${categoryLabel(category)} (${plural(rules.length, "entry", "entries")})`,
      entries: rules.filter((r) => typeof r === "string").map(ruleText),
    }));
}

function historyState(item, now) {
  switch (item.state) {
    case "pending":
      return { text: "Waiting to be sent", tone: "info" };
    case "in_flight":
      return { text: "Sending", tone: "info" };
    case "delivered": {
      const when = formatRelative(item.delivered_at, now);
      return { text: when ? `Delivered ${when}` : "Delivered", tone: "ok" };
    }
    case "failed":
      return { text: "Failed; will be retried", tone: "warn" };
    case "rejected":
      return { text: "Refused by Flattr", tone: "error" };
    default:
      return { text: cleanText(item.state, 40), tone: "info" };
  }
}

function isoTime(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "";
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

/** One history entry; `title` falls back to the page URL. */
export function historyItem(item, now) {
  const page = cleanText(item.page_url, MAX_URL_CHARS);
  const url = cleanText(item.url, MAX_URL_CHARS);
  const state = historyState(item, now);
  const error = item.state === "rejected" || item.state === "failed" ? cleanText(item.error) : "";
  return {
    id: item.id,
    title: cleanText(item.title, MAX_TITLE_CHARS) || page || url,
    page,
    href: safeHref(item.page_url),
    // Where the flattr went when it is not the page itself (the creator's Flattr URL).
    target: url && url !== page ? `Sent to ${url}` : "",
    site: cleanText(item.site, MAX_URL_CHARS),
    reason: REASON_LABELS[item.reason] ?? cleanText(item.reason, 40),
    state: state.text,
    tone: state.tone,
    when: formatRelative(item.created_at, now),
    datetime: isoTime(item.created_at),
    error,
  };
}

/** Accumulated history pages → rows and whether there is more. */
export function historyView(items, nextBefore, now) {
  const rows = (Array.isArray(items) ? items : [])
    .filter((item) => item && typeof item === "object")
    .map((item) => historyItem(item, now));
  const more = Number.isInteger(nextBefore);
  return {
    rows,
    more,
    nextBefore: more ? nextBefore : null,
    empty: rows.length === 0 ? "No flattrs yet." : "",
  };
}

/**
 * What the user typed in "add a site" → `{site}` (a lower-case host name) or `{error}`. Accepts a
 * pasted URL. The host decides the registrable domain and refuses names that are not public.
 */
export function parseSiteInput(text) {
  const raw = typeof text === "string" ? text.trim() : "";
  if (!raw) return { error: "Type a site, for example example.com." };
  if (raw.length > MAX_SITE_CHARS + 20) return { error: "That is too long for a site name." };
  let url;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    return { error: "That is not a site name, for example example.com." };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { error: "Only web sites (http and https) can be added." };
  }
  const host = url.hostname.replace(/\.$/, "").toLowerCase();
  if (!host.includes(".") || host.length > MAX_SITE_CHARS) {
    return { error: "That is not a site name, for example example.com." };
  }
  return { site: host };
}

/** A copy of `value` without any key that looks like a secret (defence in depth). */
export function stripSecrets(value) {
  if (Array.isArray(value)) return value.map(stripSecrets);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !SECRET_KEY.test(key))
        .map(([key, item]) => [key, stripSecrets(item)]),
    );
  }
  return value;
}

/** The `ui:export` data as a file: name and JSON text. */
export function exportFile(data, now) {
  const date = isoTime(now).slice(0, 10) || "export";
  const body = {
    format: EXPORT_FORMAT,
    version: EXPORT_VERSION,
    exported_at: isoTime(now) || null,
    data: stripSecrets(data ?? {}),
  };
  return {
    filename: `flattr-companion-export-${date}.json`,
    type: "application/json",
    text: `${JSON.stringify(body, null, 2)}\n`,
  };
}

/** Account section: who is signed in, and whether sign-out / sign-in make sense. */
export function accountSection(account) {
  if (account?.signed_in) {
    const username = cleanText(account.username, 80);
    return {
      signedIn: true,
      text: username ? `Signed in to Flattr as ${username}.` : "Signed in to Flattr.",
      canSignOut: true,
      canSignIn: false,
    };
  }
  const why = {
    token_rejected: "Flattr rejected the token — sign in again.",
    user: "You signed out.",
  }[account?.signed_out_reason] ?? "You are not signed in to Flattr.";
  return { signedIn: false, text: why, canSignOut: false, canSignIn: true };
}

export const SIGN_OUT_CONFIRM =
  "Sign out of Flattr on this computer? Nothing is flattred while you are signed out. Flattrs " +
  "not sent yet stay queued and go out when you sign in again with the same account; your " +
  "history and site settings stay.";

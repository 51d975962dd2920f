// The popup's view: the background's `ui:state` answer → what to show, in words.
// Pure functions only (no DOM, no browser API) so that `node --test` covers every state; times are
// relative to an injected `now` (unix seconds). Page titles and URLs are hostile input: they are
// cleaned here and rendered with textContent only (popup.js).

import { INSTALL_COMMAND } from "../common/messages.js";
import { clip } from "../common/text.js";
// For people without pipx: what pipx does, by hand.
export const INSTALL_ALTERNATIVE =
  "Without pipx: pip install flattr-companion inside a Python virtual environment, then run " +
  "flattr-host install from that environment.";
export const FLATTR_HOME = "https://flattr.com/";
export const SUBSCRIPTION_URL = "https://flattr.com/settings/account/subscription";

// Display limits: a hostile page can make its title as long as it likes.
export const MAX_TITLE_CHARS = 120;
export const MAX_URL_CHARS = 160;
export const MAX_MESSAGE_CHARS = 300;
// Closer to `now` than this reads as "now".
const NOW_WINDOW_SECONDS = 5;
const MINUTE = 60;
const HOUR = 3600;
const DAY = 86400;
// Hours shown with minutes below this ("in 1 h 20 min"); above it, whole hours.
const HOURS_WITH_MINUTES = 10;

// Holds that `ui:flush` (tick force) lifts; the server's rate limit it cannot (the schema's
// `flush_lifts`, checked by the tests).
export const FLUSH_LIFTS = new Set(["backoff", "subscription_inactive", "refused"]);
// Holds whose cause the last error explains.
const STUCK_HOLDS = new Set(["backoff", "rate_limited", "subscription_inactive", "refused"]);
// Reasons for which the site switch cannot help: the page is not a public web page.
const NOT_A_SITE = new Set([
  "private",
  "not_http",
  "invalid",
  "ip_address",
  "localhost",
  "intranet",
]);
// Reasons "Flattr now" overrides: an explicit flattr ignores the mode (host ledger.manual_flattr).
const MODE_REASONS = new Set(["not_enabled", "no_metadata"]);

// C0/C1 controls and bidi overrides (a title could reorder the text around it).
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** A string fit to show: no control or bidi characters, one line, at most `max` characters. */
export function cleanText(value, max = MAX_MESSAGE_CHARS) {
  if (typeof value !== "string") return "";
  const text = value.replace(UNSAFE_CHARS, " ").replace(/\s+/g, " ").trim();
  return text.length > max ? `${clip(text, max - 1)}…` : clip(text, max);
}

/** The URL only when it is http(s) (never javascript:, data:, …), for an href; else null. */
export function safeHref(value) {
  if (typeof value !== "string") return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
}

export function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function count(value) {
  return Number.isInteger(value) && value > 0 ? value : 0;
}

/** "in 4 min", "3 h ago", "now"; "" when `at` is not a time. */
export function formatRelative(at, now) {
  if (!isNumber(at) || !isNumber(now)) return "";
  const diff = at - now;
  const abs = Math.abs(diff);
  if (abs < NOW_WINDOW_SECONDS) return "now";
  let span;
  if (abs < MINUTE) {
    span = `${Math.round(abs)} s`;
  } else if (Math.round(abs / MINUTE) < MINUTE) {
    span = `${Math.round(abs / MINUTE)} min`;
  } else if (abs < DAY - HOUR / 2) {
    let hours = Math.floor(abs / HOUR);
    let minutes = Math.round((abs % HOUR) / MINUTE);
    if (minutes === MINUTE) {
      hours += 1;
      minutes = 0;
    }
    span = minutes && hours < HOURS_WITH_MINUTES ? `${hours} h ${minutes} min` : `${hours} h`;
  } else {
    span = plural(Math.max(1, Math.round(abs / DAY)), "day", "days");
  }
  return diff > 0 ? `in ${span}` : `${span} ago`;
}

/** Seconds of attention in words: "42 s", "1 min 36 s", "1 h 5 min". */
export function formatDuration(seconds) {
  const s = isNumber(seconds) && seconds > 0 ? Math.round(seconds) : 0;
  if (s < MINUTE) return `${s} s`;
  if (s < HOUR) {
    const rest = s % MINUTE;
    return rest ? `${Math.floor(s / MINUTE)} min ${rest} s` : `${s / MINUTE} min`;
  }
  const minutes = Math.floor((s % HOUR) / MINUTE);
  return minutes ? `${Math.floor(s / HOUR)} h ${minutes} min` : `${Math.floor(s / HOUR)} h`;
}

/** An error answer `{code, message, command?}` (host or background) in words. */
export function errorText(error) {
  const code = typeof error?.code === "string" ? error.code : "";
  const message = cleanText(error?.message);
  switch (code) {
    case "signed_out":
      return "Sign in to Flattr first.";
    case "not_counted":
      return `This page cannot be flattred${message ? `: ${message}` : ""}.`;
    case "upgrade_required":
      return "The Flattr Companion helper needs an update (see the command below).";
    case "storage_error":
      return "The helper could not save to its database on this computer; nothing was changed.";
    case "settings_invalid":
      return `The helper's settings file needs fixing; nothing was changed${message ? `: ${message}` : "."}`;
    case "internal_error":
      return "The helper hit a bug; nothing was changed. Details are in its log file.";
    case "untrusted_origin":
      return "Refused: account changes are accepted from flattr.com only.";
    case "reply_too_large":
      return "The answer was too large; try again with less at once.";
    default:
      return message || "Something went wrong; please try again.";
  }
}

/** Words for the answer to `ui:flattr-now`. */
export function flattrNowText(answer) {
  if (answer?.ok) {
    const url = cleanText(answer.url, MAX_URL_CHARS);
    return url ? `Flattred ${url}. It goes out with the next batch.` : "Flattred.";
  }
  return errorText(answer?.error);
}

// ---- sections -------------------------------------------------------------------------------

/** The helper program's state; null when it is ready. */
export function hostView(host) {
  const state = host?.state ?? "connecting";
  if (state === "ready") return null;
  const message = cleanText(host?.message);
  const command = cleanText(host?.command, 1000) || null;
  switch (state) {
    case "missing":
      return {
        state,
        tone: "error",
        headline: "Install the Flattr Companion helper",
        sentences: [
          "Flattr Companion keeps your attention and flattrs in a small program on this computer " +
            "(flattr-host), and the browser cannot find it.",
          "Run this command in a terminal, then reopen this popup:",
        ],
        command: INSTALL_COMMAND,
        alternative: INSTALL_ALTERNATIVE,
        detail: message ? `The browser said: ${message}` : "",
      };
    case "outdated":
      if (command) {
        const version = cleanText(host?.hostVersion, 40);
        return {
          state,
          tone: "error",
          headline: "Update the Flattr Companion helper",
          sentences: [
            `The helper program on this computer${version ? ` (version ${version})` : ""} is too ` +
              "old for this extension.",
            "Run this command in a terminal, then reopen this popup:",
          ],
          command,
          alternative: "",
          detail: message,
        };
      }
      return {
        state,
        tone: "error",
        headline: "Update the extension",
        sentences: [
          message ||
            "This extension is older than the helper program on this computer. Update it from " +
              "your browser's extensions page.",
        ],
        command: null,
        alternative: "",
        detail: "",
      };
    case "misconfigured":
      return {
        state,
        tone: "error",
        headline: "Fix the Flattr Companion helper's settings",
        sentences: [
          "The helper program on this computer will not work with its settings file as it is. " +
            "Correct the file, or run this command in a terminal to go back to the defaults, " +
            "then reopen this popup:",
        ],
        command,
        alternative: "",
        detail: message,
      };
    case "crashed":
      return {
        state,
        tone: "error",
        headline: "The Flattr Companion helper stopped",
        sentences: [
          "It is restarted automatically. Everything it had confirmed is saved on this computer.",
          "If this keeps happening, reinstall it:",
        ],
        command: command || INSTALL_COMMAND,
        alternative: command ? "" : INSTALL_ALTERNATIVE,
        detail: message ? `Last message: ${message}` : "",
      };
    default:
      return {
        state: "connecting",
        tone: "info",
        headline: "Connecting to the Flattr Companion helper…",
        sentences: ["This takes a moment after the browser starts."],
        command: null,
        alternative: "",
        detail: "",
      };
  }
}

/** Signed in or not, and why. */
export function accountView(account) {
  if (account?.signed_in) {
    const username = cleanText(account.username, 80);
    return {
      signedIn: true,
      headline: username ? `Signed in as ${username}` : "Signed in to Flattr",
      sentences: [],
      signIn: false,
    };
  }
  const reason = account?.signed_out_reason ?? null;
  const why = {
    token_rejected: "Flattr rejected the token — sign in again.",
    user: "You signed out.",
  }[reason] ?? "You are not signed in to Flattr.";
  return {
    signedIn: false,
    reason,
    headline: "Signed out",
    sentences: [why, "Attention is still noted, but nothing is flattred until you sign in."],
    signIn: true,
  };
}

/** The subscription: only when signed in. */
export function subscriptionView(account) {
  if (!account?.signed_in) return null;
  if (account.subscription_active === true) {
    return { active: true, tone: "ok", text: "Subscription active.", link: null };
  }
  if (account.subscription_active === false) {
    return {
      active: false,
      tone: "warn",
      text: "Flattrs are recorded but not paid out until your subscription is active.",
      link: { href: SUBSCRIPTION_URL, text: "Choose subscription" },
    };
  }
  return {
    active: null,
    tone: "info",
    text: "Subscription state not known yet; it updates when you visit flattr.com.",
    link: { href: FLATTR_HOME, text: "Open flattr.com" },
  };
}

function progressView(page) {
  const seconds = isNumber(page.seconds_today) ? Math.max(0, page.seconds_today) : 0;
  const next = isNumber(page.next_threshold) ? page.next_threshold : null;
  const kind = page.audio_page ? "Audio page: " : "";
  if (next === null) {
    return {
      value: 1,
      percent: 100,
      label: `${kind}no more automatic flattrs for this page today.`,
      detail: `${formatDuration(seconds)} of attention today.`,
    };
  }
  // The host's `progress` runs from the previous threshold to the next, so the bar starts again
  // after each flattr; without it, seconds today / next threshold.
  const raw = isNumber(page.progress) ? page.progress : next > 0 ? seconds / next : 0;
  const value = Math.min(1, Math.max(0, raw));
  return {
    value,
    percent: Math.round(value * 100),
    label: `${kind}next flattr after ${formatDuration(next - seconds)} more attention.`,
    detail: `${formatDuration(seconds)} of ${formatDuration(next)} today.`,
  };
}

function siteSwitch(decision) {
  const site = cleanText(decision.site, MAX_URL_CHARS);
  if (!site || NOT_A_SITE.has(decision.reason)) return null;
  // Off when the user disabled it, the built-in list blocks it, or the mode leaves it out:
  // switching on enables it explicitly; switching off disables it.
  const off = decision.reason === "disabled" || decision.reason === "blocked" ||
    decision.reason === "not_enabled";
  return {
    site,
    checked: !off,
    label: `Count ${site}`,
    setting: off ? "enabled" : "disabled",
  };
}

/** "N flattrs today on this site", expanded: each page (its title, else its URL) and count. */
export function todayPages(pages) {
  if (!Array.isArray(pages)) return [];
  return pages
    .filter((p) => p && typeof p === "object" && count(p.flattrs) > 0)
    .map((p) => {
      const url = cleanText(p.url, MAX_URL_CHARS);
      const name = cleanText(p.title, MAX_TITLE_CHARS) || url;
      return { text: `${name} — ${plural(count(p.flattrs), "flattr", "flattrs")}`, title: url };
    });
}

/** Who the page's flattrs go to, when the page names a creator (page_status `creator`). */
export function creatorText(creator) {
  if (!creator || typeof creator !== "object") return "";
  const name = cleanText(creator.name, 80);
  if (!name) return "Goes to the creator this page names on Flattr";
  if (creator.kind === "thing") return `Goes to Flattr thing ${name}`;
  if (creator.kind === "owner") return `Goes to ${name} on Flattr (they claim it there)`;
  return `Goes to ${name} on Flattr`;
}

/** This tab: nothing recorded (private, not a web page), or its progress and switches. */
export function pageView(state, context = {}) {
  const tab = state?.tab ?? null;
  const page = state?.page ?? null;
  const title = cleanText(tab?.title, MAX_TITLE_CHARS);
  const incognito = context.incognito === true || tab?.incognito === true ||
    tab?.private === true || page?.decision?.reason === "private";
  if (incognito) {
    return {
      kind: "private",
      headline: "Private window",
      sentences: ["Nothing is recorded in private windows."],
    };
  }
  if (!page) {
    if (tab === null || safeHref(tab?.url) === null) {
      return {
        kind: "not_http",
        headline: title || "This page",
        sentences: ["Nothing is recorded on this page: only web pages (http and https) count."],
      };
    }
    return {
      kind: "unavailable",
      headline: title || "This page",
      sentences: ["This page's status is not available right now."],
    };
  }
  const decision = page.decision ?? { counts: false };
  const reason = typeof decision.reason === "string" ? decision.reason : null;
  const site = cleanText(decision.site, MAX_URL_CHARS);
  const signedIn = state?.account?.signed_in === true;
  const sentences = [];
  if (tab?.reload === true) sentences.push("Reload this page to count it.");
  if (!decision.counts) {
    const detail = cleanText(decision.detail);
    sentences.push(detail ? `Not counting: ${detail}.` : "Attention on this page does not count.");
  }
  const todaySite = count(page.flattrs_today_site);
  const todayUrl = count(page.flattrs_today_url);
  const canFlattr = decision.counts === true || MODE_REASONS.has(reason);
  let flattrHint = "";
  if (!canFlattr) flattrHint = "This page cannot be flattred.";
  else if (!signedIn) flattrHint = "Sign in to flattr this page.";
  return {
    kind: "status",
    headline: title || site || "This page",
    site,
    counts: decision.counts === true,
    reason,
    sentences,
    progress: decision.counts ? progressView(page) : null,
    today: site
      ? `${plural(todaySite, "flattr", "flattrs")} today on this site` +
        (todayUrl ? ` (this page: ${todayUrl})` : "")
      : "",
    todayPages: todayPages(page.pages_today),
    creator: creatorText(page.creator),
    flattrsTodaySite: todaySite,
    flattrsTodayUrl: todayUrl,
    flattrNow: { visible: canFlattr, enabled: canFlattr && signedIn, hint: flattrHint },
    siteSwitch: siteSwitch({ ...decision, reason }),
  };
}

/** Why the queue is not sending, in words. */
export function holdText(queue, now) {
  const hold = queue?.hold;
  if (!hold) return "";
  // next_retry_at is when the host will send again (Retry-After may end a rate-limit hold long
  // before the window's reset); the reset only stands in when it is missing.
  const until = formatRelative(
    hold === "rate_limited" ? queue.next_retry_at ?? queue.rate_limit_reset : queue.next_retry_at,
    now,
  );
  const when = until && until !== "now" ? ` ${until}` : " soon";
  switch (hold) {
    case "backoff":
      return `Sending failed; retrying automatically${when}.`;
    case "rate_limited":
      return `Flattr's rate limit was reached; sending resumes${when}.`;
    case "signed_out":
      return "Waiting for you to sign in; queued flattrs are kept until then.";
    case "subscription_inactive":
      return "Paused: the Flattr subscription is not active. Queued flattrs are kept.";
    case "refused":
      return "Held: Flattr refused the request, and trying again by itself would not help. "
        + "Queued flattrs are kept; press Retry now or sign in again once the cause is fixed.";
    case "waiting_for_account":
      return "Some flattrs belong to another Flattr account; they go out when it signs in again.";
    default:
      return `Waiting (${cleanText(hold, 40)}).`;
  }
}

/** Queue health: what waits, what failed, when the next try is, the last error. */
export function queueView(queue, now) {
  if (!queue) return null;
  const pending = count(queue.pending) + count(queue.in_flight);
  const failed = count(queue.failed);
  const rejected = count(queue.rejected);
  const other = count(queue.waiting_other_account);
  const lines = [];
  if (pending) lines.push(`${plural(pending, "flattr", "flattrs")} waiting to be sent.`);
  if (failed) {
    const waits = failed === 1 ? "waits" : "wait";
    const then = queue.hold === "refused" ? `${waits} for you to retry` : "will be retried";
    lines.push(`${plural(failed, "flattr", "flattrs")} failed and ${then}.`);
  }
  if (rejected) lines.push(`${plural(rejected, "flattr was", "flattrs were")} refused by Flattr.`);
  if (other) {
    lines.push(`${plural(other, "flattr belongs", "flattrs belong")} to another Flattr account.`);
  }
  const hold = holdText(queue, now);
  const nextRetry = pending + failed > 0 && !queue.hold ? formatRelative(queue.next_retry_at, now)
    : "";
  if (nextRetry) lines.push(nextRetry === "now" ? "Sending now." : `Next try ${nextRetry}.`);
  let lastError = "";
  const errorWords = cleanText(queue.last_error);
  // A stale error (from before a sign-out, say) is not news: only while something is stuck.
  if (errorWords && (failed || STUCK_HOLDS.has(queue.hold))) {
    const when = formatRelative(queue.last_error_at, now);
    lastError = `Last error${when ? ` (${when})` : ""}: ${errorWords}`;
  }
  const lastDelivery = formatRelative(queue.last_delivery_at, now);
  const stuck = failed > 0 || ["backoff", "rate_limited", "refused"].includes(queue.hold);
  const tone = stuck ? "warn" : queue.hold ? "info" : "ok";
  let headline = "All flattrs sent.";
  if (failed) headline = "Some flattrs could not be sent yet.";
  else if (pending || other) headline = "Flattrs waiting to be sent.";
  const retryable = failed > 0 || (pending > 0 && ["backoff", "refused"].includes(queue.hold));
  // A retry cannot skip a rate limit, a missing sign-in or another process's run: say why.
  const canFlush = !queue.hold || FLUSH_LIFTS.has(queue.hold);
  return {
    tone,
    headline,
    lines,
    hold,
    lastError,
    lastDelivery: lastDelivery ? `Last delivery ${lastDelivery}.` : "",
    pending,
    failed,
    nextRetry,
    retry: { visible: retryable, enabled: retryable && canFlush, hint: canFlush ? "" : hold },
  };
}

/** A badge-like summary: short text and a tone. */
export function summarize(state) {
  const host = state?.host?.state ?? "connecting";
  if (host === "connecting") return { text: "…", tone: "info", label: "Connecting" };
  if (host !== "ready") return { text: "!", tone: "error", label: "Helper needs attention" };
  if (!state.account?.signed_in) return { text: "Sign in", tone: "warn", label: "Signed out" };
  const queue = state.queue ?? {};
  if (count(queue.failed) > 0) return { text: "!", tone: "warn", label: "Flattrs failed" };
  const decision = state.page?.decision;
  if (decision && !decision.counts && decision.reason === "disabled") {
    return { text: "Off", tone: "off", label: "Site off" };
  }
  const today = isNumber(state.flattrsToday)
    ? state.flattrsToday
    : count(state.page?.flattrs_today_site);
  const where = isNumber(state.flattrsToday) ? "today" : "today here";
  const label = `${plural(today, "flattr", "flattrs")} ${where}`;
  return { text: String(today), tone: "ok", label };
}

/**
 * The whole popup. `context`: `{now, incognito}` — `now` in unix seconds, `incognito` from the
 * popup's own tabs.query (the background also reports `tab.incognito` when it knows).
 */
export function popupView(state, context = {}) {
  const now = isNumber(context.now) ? context.now : 0;
  if (state?.ok === false || state === null || typeof state !== "object") {
    // The background itself did not answer `ui:state`.
    return {
      summary: { text: "!", tone: "error", label: "Not answering" },
      host: {
        state: "unavailable",
        tone: "error",
        headline: "Flattr Companion is not answering",
        sentences: [errorText(state?.error), "Close this popup and open it again."],
        command: cleanText(state?.error?.command, 1000) || null,
        detail: "",
      },
      account: null,
      subscription: null,
      page: null,
      queue: null,
    };
  }
  const host = hostView(state?.host);
  const ready = host === null;
  return {
    summary: summarize(state),
    host,
    account: ready ? accountView(state?.account) : null,
    subscription: ready ? subscriptionView(state?.account) : null,
    page: ready ? pageView(state, context) : null,
    queue: ready ? queueView(state?.queue, now) : null,
  };
}

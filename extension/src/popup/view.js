// The popup's view: the background's `ui:state` answer → what to show, in words.
// Pure functions only (no DOM, no browser API) so that `node --test` covers every state; times are
// relative to an injected `now` (unix seconds). Page titles and URLs are hostile input: they are
// cleaned here and rendered with textContent only (popup.js).

import {
  MAX_TITLE_CHARS,
  MAX_URL_CHARS,
  cleanText,
  count,
  errorText,
  formatDuration,
  formatRelative,
  hostView,
  isNumber,
  plural,
  safeHref,
} from "../common/view.js";

export const FLATTR_HOME = "https://flattr.com/";
export const SUBSCRIPTION_URL = "https://flattr.com/settings/account/subscription";

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

/** Words for the answer to `ui:flattr-now`. */
export function flattrNowText(answer) {
  if (answer?.ok) {
    const url = cleanText(answer.url, MAX_URL_CHARS);
    return url ? `Flattred ${url}. It goes out with the next batch.` : "Flattred.";
  }
  return errorText(answer?.error);
}

// ---- sections -------------------------------------------------------------------------------

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
    if (context.lastKnown === true) {
      // The last status is kept without any page: this one's comes with the live answer.
      return { kind: "updating", headline: title || "This page", sentences: ["Its status follows in a moment."] };
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
 * The whole popup. `context`: `{now, incognito, lastKnown}` — `now` in unix seconds, `incognito`
 * from the popup's own tabs.query (the background also reports `tab.incognito` when it knows),
 * `lastKnown` while `state` is the stored last status rather than the background's answer.
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

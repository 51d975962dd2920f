// What the popup and the options page both show: the host card's view, error codes and times in
// words, and the cleaning of hostile text. Pure functions (no DOM, no browser API); times relative
// to an injected `now` (unix seconds).

import { INSTALL_COMMAND } from "./messages.js";
import { clip } from "./text.js";

// For people without pipx: what pipx does, by hand.
export const INSTALL_ALTERNATIVE =
  "Without pipx: pip install flattr-companion inside a Python virtual environment, then run " +
  "flattr-host install from that environment.";

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

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

export function count(value) {
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

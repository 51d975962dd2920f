// The popup's view model for every state the popup must put into words (node --test, no DOM).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  INSTALL_ALTERNATIVE,
  cleanText,
  errorText,
  formatDuration,
  formatRelative,
  safeHref,
} from "../src/common/view.js";
import { FLUSH_LIFTS, creatorText, flattrNowText, holdText, popupView, todayPages } from "../src/popup/view.js";
import { INSTALL_COMMAND } from "../src/common/messages.js";
import { SCHEMA, assertShape, assertTextOnlyPage } from "./helpers.mjs";

const NOW = 1_732_550_000;
const TOKEN = "tok_SECRET_5f3a9c";

// ---- fixtures, checked against the host's schema so that a renamed field fails here ----------


const READY = { state: "ready", hostVersion: "0.1.0" };
const SIGNED_IN = {
  signed_in: true,
  username: "alice",
  subscription_active: true,
  signed_out_reason: null,
};
const QUIET_QUEUE = {
  pending: 0,
  in_flight: 0,
  failed: 0,
  rejected: 0,
  delivered: 12,
  waiting_other_account: 0,
  next_retry_at: null,
  hold: null,
  last_error: null,
  last_error_at: null,
  last_delivery_at: NOW - 600,
  rate_limit_remaining: 95,
  rate_limit_reset: null,
};
const COUNTING_PAGE = {
  decision: {
    counts: true,
    site: "example.org",
    url: "https://example.org/post",
    reason: null,
    detail: "attention here counts for example.org",
  },
  seconds_today: 70,
  audio_page: false,
  next_threshold: 96,
  progress: (70 - 50) / (96 - 50),
  flattrs_today_url: 1,
  flattrs_today_site: 3,
};
const TAB = { url: "https://example.org/post", title: "A good post" };

function state(overrides = {}) {
  return {
    ok: true,
    host: READY,
    account: SIGNED_IN,
    queue: QUIET_QUEUE,
    page: COUNTING_PAGE,
    tab: TAB,
    mode: "all",
    ...overrides,
  };
}

function notCounting(reason, detail, site = "example.org") {
  return {
    decision: { counts: false, site, url: `https://${site}/`, reason, detail },
    seconds_today: 0,
    next_threshold: 50,
    progress: 0,
    flattrs_today_url: 0,
    flattrs_today_site: 0,
  };
}

/** Every string anywhere in a view model. */
function strings(value, out = []) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => strings(v, out));
  return out;
}

function allText(view) {
  return strings(view).join("\n");
}

test("fixtures have the host's shapes", () => {
  assertShape("AccountState", SIGNED_IN);
  assertShape("QueueState", QUIET_QUEUE);
  assertShape("PageStatus", COUNTING_PAGE);
  assertShape("Decision", COUNTING_PAGE.decision);
  assertShape("PageStatus", notCounting("disabled", "x"));
});

// ---- the helper program ----------------------------------------------------------------------

test("host missing: the exact install command and nothing else", () => {
  const view = popupView(
    state({ host: { state: "missing", message: "Specified native messaging host not found." },
      account: null, queue: null, page: null }),
    { now: NOW },
  );
  assert.equal(view.host.state, "missing");
  assert.equal(view.host.command, "pipx install flattr-companion && flattr-host install");
  assert.match(view.host.alternative, /pip install flattr-companion inside a Python virtual environment/);
  assert.equal(view.host.command, INSTALL_COMMAND);
  assert.match(view.host.headline, /install/i);
  assert.match(view.host.detail, /not found/);
  assert.equal(view.account, null);
  assert.equal(view.page, null);
  assert.equal(view.queue, null);
  assert.deepEqual(view.summary.text, "!");
});

test("host outdated: the command from the host", () => {
  const command = "pipx upgrade flattr-companion && flattr-host install";
  const view = popupView(
    state({ host: { state: "outdated", command, hostVersion: "0.0.9", message: "protocol 0" } }),
    { now: NOW },
  );
  assert.equal(view.host.command, command);
  assert.match(view.host.headline, /update/i);
  assert.match(allText(view.host), /0\.0\.9/);
  assert.equal(view.account, null);
});

test("host outdated without a command: the extension is the old one", () => {
  const view = popupView(
    state({ host: { state: "outdated", message: "Update the extension: the host speaks 2" } }),
    { now: NOW },
  );
  assert.equal(view.host.command, null);
  assert.match(view.host.sentences.join(" "), /Update the extension/);
});

test("host misconfigured: the settings file's problem and the command that sets it aside", () => {
  const command = "mv /h/settings.json /h/settings.json.broken";
  const message = '/h/settings.json is not usable: line 1, column 2: unknown setting "colour"';
  const view = popupView(state({ host: { state: "misconfigured", command, message } }), {
    now: NOW,
  });
  assert.equal(view.host.tone, "error");
  assert.match(view.host.headline, /settings/);
  assert.equal(view.host.command, command);
  assert.equal(view.host.detail, message);
  assert.equal(view.account, null);
  assert.match(errorText({ code: "settings_invalid", message }), /settings file needs fixing.*line 1/);
});

test("host crashed and connecting", () => {
  const crashed = popupView(state({ host: { state: "crashed", message: "exit code 1" } }), {
    now: NOW,
  });
  assert.match(crashed.host.headline, /stopped/);
  assert.match(crashed.host.sentences.join(" "), /restarted automatically/);
  assert.match(crashed.host.detail, /exit code 1/);
  assert.equal(crashed.host.command, INSTALL_COMMAND);
  assert.equal(crashed.host.alternative, INSTALL_ALTERNATIVE);
  const connecting = popupView(state({ host: { state: "connecting" } }), { now: NOW });
  assert.match(connecting.host.headline, /Connecting/);
  assert.equal(connecting.host.command, null);
  assert.equal(connecting.summary.text, "…");
  const unknown = popupView(state({ host: null }), { now: NOW });
  assert.equal(unknown.host.state, "connecting");
});

test("the background not answering is said, not thrown", () => {
  const view = popupView(
    { ok: false, error: { code: "no_background", message: "The background is not running" } },
    { now: NOW },
  );
  assert.match(view.host.headline, /not answering/);
  assert.match(view.host.sentences[0], /background is not running/);
});

// ---- account and subscription ----------------------------------------------------------------

test("signed out on purpose", () => {
  const account = { signed_in: false, signed_out_reason: "user" };
  assertShape("AccountState", account);
  const view = popupView(state({ account }), { now: NOW });
  assert.equal(view.account.signedIn, false);
  assert.equal(view.account.signIn, true);
  assert.equal(view.account.sentences[0], "You signed out.");
  assert.equal(view.subscription, null);
  assert.equal(view.summary.label, "Signed out");
  // The page still shows, but flattring needs an account.
  assert.equal(view.page.flattrNow.enabled, false);
  assert.match(view.page.flattrNow.hint, /Sign in/);
});

test("signed out because Flattr rejected the token", () => {
  const account = { signed_in: false, username: "alice", signed_out_reason: "token_rejected" };
  const view = popupView(state({ account }), { now: NOW });
  assert.equal(view.account.sentences[0], "Flattr rejected the token — sign in again.");
  assert.equal(view.account.signIn, true);
});

test("never signed in", () => {
  const view = popupView(state({ account: { signed_in: false } }), { now: NOW });
  assert.match(view.account.sentences[0], /not signed in/);
});

test("subscription inactive: recorded but not paid out, with Choose subscription", () => {
  const view = popupView(state({ account: { ...SIGNED_IN, subscription_active: false } }), {
    now: NOW,
  });
  assert.equal(view.subscription.active, false);
  assert.equal(
    view.subscription.text,
    "Flattrs are recorded but not paid out until your subscription is active.",
  );
  assert.deepEqual(view.subscription.link, {
    href: "https://flattr.com/settings/account/subscription",
    text: "Choose subscription",
  });
  assert.equal(view.account.headline, "Signed in as alice");
});

test("subscription active and unknown", () => {
  assert.equal(popupView(state(), { now: NOW }).subscription.active, true);
  const unknown = popupView(state({ account: { ...SIGNED_IN, subscription_active: null } }), {
    now: NOW,
  });
  assert.equal(unknown.subscription.active, null);
  assert.match(unknown.subscription.text, /not known/);
});

// ---- this page -------------------------------------------------------------------------------

test("page counting: progress to the next flattr, flattr now, today here, switch on", () => {
  const view = popupView(state(), { now: NOW });
  const page = view.page;
  assert.equal(page.kind, "status");
  assert.equal(page.headline, "A good post");
  assert.equal(page.counts, true);
  assert.deepEqual(page.sentences, []);
  assert.ok(Math.abs(page.progress.value - 20 / 46) < 1e-9);
  assert.equal(page.progress.percent, 43);
  assert.equal(page.progress.label, "next flattr after 26 s more attention.");
  assert.equal(page.progress.detail, "1 min 10 s of 1 min 36 s today.");
  assert.equal(page.today, "3 flattrs today on this site (this page: 1)");
  assert.deepEqual(page.flattrNow, { visible: true, enabled: true, hint: "" });
  assert.deepEqual(page.siteSwitch, {
    site: "example.org",
    checked: true,
    label: "Count example.org",
    setting: "disabled",
  });
  assert.deepEqual(view.summary, { text: "3", tone: "ok", label: "3 flattrs today here" });
});

test("progress without the host's fraction falls back to seconds / next threshold", () => {
  const page = { ...COUNTING_PAGE, progress: undefined, seconds_today: 25, next_threshold: 50 };
  const view = popupView(state({ page }), { now: NOW });
  assert.equal(view.page.progress.value, 0.5);
});

test("audio page and the last threshold of the day", () => {
  const audio = popupView(state({ page: { ...COUNTING_PAGE, audio_page: true } }), { now: NOW });
  assert.match(audio.page.progress.label, /^Audio page: /);
  const done = popupView(state({ page: { ...COUNTING_PAGE, next_threshold: null } }), {
    now: NOW,
  });
  assert.match(done.page.progress.label, /no more automatic flattrs/);
});

test("page not counting: the host's reason, switch off, flattr now when it can help", () => {
  const detail = "you disabled example.org: nothing is recorded there (change it in the options)";
  const view = popupView(state({ page: notCounting("disabled", detail) }), { now: NOW });
  assert.equal(view.page.counts, false);
  assert.equal(view.page.sentences[0], `Not counting: ${detail}.`);
  assert.equal(view.page.progress, null);
  assert.equal(view.page.siteSwitch.checked, false);
  assert.equal(view.page.siteSwitch.setting, "enabled");
  assert.equal(view.page.flattrNow.visible, false);
  assert.equal(view.summary.text, "Off");

  const blocked = popupView(
    state({ page: notCounting("blocked", "banking and payment sites never count", "paypal.com") }),
    { now: NOW },
  );
  assert.equal(blocked.page.siteSwitch.checked, false);
  assert.equal(blocked.page.flattrNow.visible, false);

  // Mode "only sites I enabled": the switch enables it, and the Flattr button works anyway.
  const mode = popupView(
    state({ page: notCounting("not_enabled", "only sites you enabled count") }),
    { now: NOW },
  );
  assert.equal(mode.page.siteSwitch.checked, false);
  assert.equal(mode.page.siteSwitch.setting, "enabled");
  assert.deepEqual(mode.page.flattrNow, { visible: true, enabled: true, hint: "" });

  const meta = popupView(state({ page: notCounting("no_metadata", "no Flattr metadata") }), {
    now: NOW,
  });
  assert.equal(meta.page.siteSwitch.checked, true);
  assert.equal(meta.page.flattrNow.enabled, true);
});

test("an IP address or intranet page has no site switch", () => {
  const page = notCounting("ip_address", "pages addressed by an IP number never count", null);
  const view = popupView(state({ page, tab: { url: "http://10.0.0.1/", title: "Router" } }), {
    now: NOW,
  });
  assert.equal(view.page.siteSwitch, null);
  assert.equal(view.page.today, "");
  assert.match(view.page.sentences[0], /IP number/);
});

test("private window: nothing is recorded", () => {
  for (const [s, context] of [
    [state({ page: null, tab: null }), { now: NOW, incognito: true }],
    [state({ page: null, tab: { ...TAB, incognito: true } }), { now: NOW }],
    [state({ page: notCounting("private", "private windows never count", null) }), { now: NOW }],
  ]) {
    const view = popupView(s, context);
    assert.equal(view.page.kind, "private");
    assert.equal(view.page.sentences[0], "Nothing is recorded in private windows.");
    assert.equal(view.page.flattrNow, undefined);
  }
});

test("non-http page: nothing is recorded", () => {
  for (const tab of [null, { url: "chrome://extensions/", title: "Extensions" },
    { url: "about:addons" }, { title: "New Tab" }]) {
    const view = popupView(state({ page: null, tab }), { now: NOW });
    assert.equal(view.page.kind, "not_http");
    assert.match(view.page.sentences[0], /Nothing is recorded on this page/);
  }
  const unknown = popupView(state({ page: null, tab: TAB }), { now: NOW });
  assert.equal(unknown.page.kind, "unavailable");
});

// ---- queue -----------------------------------------------------------------------------------

test("a quiet queue", () => {
  const view = popupView(state(), { now: NOW });
  assert.equal(view.queue.headline, "All flattrs sent.");
  assert.equal(view.queue.retry.visible, false);
  assert.equal(view.queue.lastDelivery, "Last delivery 10 min ago.");
  assert.equal(view.queue.tone, "ok");
});

test("queue with failures: backoff, next retry in words, last error, Retry now", () => {
  const queue = {
    ...QUIET_QUEUE,
    pending: 2,
    failed: 3,
    next_retry_at: NOW + 240,
    hold: "backoff",
    last_error: "Could not reach the Flattr API (ConnectError): connection refused",
    last_error_at: NOW - 30,
  };
  assertShape("QueueState", queue);
  const view = popupView(state({ queue }), { now: NOW });
  const q = view.queue;
  assert.equal(q.tone, "warn");
  assert.equal(q.headline, "Some flattrs could not be sent yet.");
  assert.deepEqual(q.lines, [
    "2 flattrs waiting to be sent.",
    "3 flattrs failed and will be retried.",
  ]);
  assert.equal(q.hold, "Sending failed; retrying automatically in 4 min.");
  assert.equal(
    q.lastError,
    "Last error (30 s ago): Could not reach the Flattr API (ConnectError): connection refused",
  );
  assert.deepEqual(q.retry, { visible: true, enabled: true, hint: "" });
  assert.equal(view.summary.text, "!");
});

test("queue failed without a hold says when the next try is", () => {
  const queue = { ...QUIET_QUEUE, failed: 1, next_retry_at: NOW + 90 };
  const q = popupView(state({ queue }), { now: NOW }).queue;
  assert.ok(q.lines.includes("Next try in 2 min."));
  assert.equal(q.nextRetry, "in 2 min");
});

test("rate limited: when it resumes, and Retry now cannot skip it", () => {
  const queue = {
    ...QUIET_QUEUE,
    pending: 5,
    failed: 1,
    hold: "rate_limited",
    next_retry_at: NOW + 700,
    rate_limit_remaining: 0,
    rate_limit_reset: NOW + 720,
    last_error: "Too many requests; waiting for the rate limit to reset",
    last_error_at: NOW - 60,
  };
  const q = popupView(state({ queue }), { now: NOW }).queue;
  assert.equal(q.hold, "Flattr's rate limit was reached; sending resumes in 12 min.");
  assert.equal(q.retry.visible, true);
  assert.equal(q.retry.enabled, false);
  assert.equal(q.retry.hint, q.hold);
  assert.match(q.lastError, /Too many requests/);
});

test("rate limited by a Retry-After: resumes when the host says, not at the window's reset", () => {
  const queue = {
    ...QUIET_QUEUE,
    pending: 1,
    hold: "rate_limited",
    next_retry_at: NOW + 120,
    rate_limit_remaining: 999,
    rate_limit_reset: NOW + 3600,
  };
  const q = popupView(state({ queue }), { now: NOW }).queue;
  assert.equal(q.hold, "Flattr's rate limit was reached; sending resumes in 2 min.");
  const noTime = holdText({ ...queue, next_retry_at: null }, NOW);
  assert.equal(noTime, "Flattr's rate limit was reached; sending resumes in 1 h.");
});

test("a flush lifts the holds the host lifts on a flush", () => {
  assert.deepEqual([...FLUSH_LIFTS].sort(), [...SCHEMA.flush_lifts].sort());
});

test("the error codes put into words are the host's", () => {
  const view = readFileSync(new URL("../src/common/view.js", import.meta.url), "utf8");
  const body = view.slice(view.indexOf("export function errorText"), view.indexOf("export function hostView"));
  const codes = [...body.matchAll(/case "(\w+)":/g)].map((m) => m[1]);
  assert.ok(codes.length > 5);
  for (const code of codes) assert.ok(SCHEMA.$defs.ErrorBody.properties.code.enum.includes(code), code);
});

test("every hold code in words", () => {
  const q = (hold, extra = {}) => holdText({ ...QUIET_QUEUE, hold, ...extra }, NOW);
  assert.match(q("signed_out"), /sign in/);
  assert.match(q("subscription_inactive"), /subscription is not active/);
  assert.match(q("refused"), /Flattr refused the request/);
  assert.match(q("waiting_for_account"), /another Flattr account/);
  for (const hold of SCHEMA.$defs.QueueState.properties.hold.anyOf[0].enum) {
    assert.doesNotMatch(q(hold), /^Waiting \(/, `${hold} has its own words`);
  }
  assert.equal(q("backoff", { next_retry_at: null }),
    "Sending failed; retrying automatically soon.");
  assert.equal(q("something_new"), "Waiting (something_new).");
  assert.equal(q(null), "");
});

test("signed out with queued flattrs: kept until sign-in, no pointless retry", () => {
  const queue = { ...QUIET_QUEUE, pending: 4, hold: "signed_out" };
  const view = popupView(state({ account: { signed_in: false, signed_out_reason: "user" }, queue }),
    { now: NOW });
  assert.match(view.queue.hold, /kept until then/);
  assert.equal(view.queue.retry.visible, false);
});

test("subscription inactive hold: Retry now is allowed (a flush lifts it)", () => {
  const queue = { ...QUIET_QUEUE, failed: 2, hold: "subscription_inactive" };
  const q = popupView(state({ queue }), { now: NOW }).queue;
  assert.equal(q.retry.enabled, true);
});

test("refused hold: kept, in words, with the last error, and Retry now lifts it", () => {
  const queue = {
    ...QUIET_QUEUE,
    pending: 2,
    failed: 1,
    hold: "refused",
    next_retry_at: null,
    last_error: "The Flattr API answered 403 (insufficient_scope): Missing the scope",
    last_error_at: NOW - 20,
  };
  assertShape("QueueState", queue);
  const q = popupView(state({ queue }), { now: NOW }).queue;
  assert.match(q.hold, /^Held: Flattr refused the request/);
  assert.match(q.hold, /press Retry now or sign in again/);
  assert.ok(q.lines.includes("1 flattr failed and waits for you to retry."), q.lines.join("|"));
  assert.match(q.lastError, /insufficient_scope/);
  assert.equal(q.tone, "warn");
  assert.deepEqual(q.retry, { visible: true, enabled: true, hint: "" });
  // Held before anything failed (the token's check was refused): Retry is still offered.
  const early = popupView(state({ queue: { ...queue, failed: 0 } }), { now: NOW }).queue;
  assert.equal(early.retry.visible, true);
});

// ---- words and safety ------------------------------------------------------------------------

test("relative times and durations", () => {
  assert.equal(formatRelative(NOW + 240, NOW), "in 4 min");
  assert.equal(formatRelative(NOW + 2, NOW), "now");
  assert.equal(formatRelative(NOW - 42, NOW), "42 s ago");
  assert.equal(formatRelative(NOW + 3599, NOW), "in 1 h");
  assert.equal(formatRelative(NOW + 4800, NOW), "in 1 h 20 min");
  assert.equal(formatRelative(NOW - 5 * 3600, NOW), "5 h ago");
  assert.equal(formatRelative(NOW - 12 * 3600 - 60, NOW), "12 h ago");
  assert.equal(formatRelative(NOW + 3 * 86400, NOW), "in 3 days");
  assert.equal(formatRelative(NOW - 86400, NOW), "1 day ago");
  assert.equal(formatRelative(null, NOW), "");
  assert.equal(formatDuration(42), "42 s");
  assert.equal(formatDuration(96), "1 min 36 s");
  assert.equal(formatDuration(120), "2 min");
  assert.equal(formatDuration(3900), "1 h 5 min");
  assert.equal(formatDuration(-1), "0 s");
});

test("error answers in words", () => {
  assert.equal(errorText({ code: "signed_out", message: "x" }), "Sign in to Flattr first.");
  assert.match(errorText({ code: "not_counted", message: "you disabled a.org" }), /a\.org/);
  assert.match(errorText({ code: "storage_error", message: "disk I/O" }), /nothing was changed/);
  assert.equal(errorText({ code: "timeout", message: "The host did not answer in 10 s" }),
    "The host did not answer in 10 s");
  assert.match(errorText(undefined), /went wrong/);
  assert.equal(flattrNowText({ ok: true, url: "https://example.org/post" }),
    "Flattred https://example.org/post. It goes out with the next batch.");
  assert.equal(flattrNowText({ ok: false, error: { code: "signed_out", message: "" } }),
    "Sign in to Flattr first.");
});

test("hostile titles are cleaned: no control or bidi characters, bounded length", () => {
  assert.equal(cleanText("a\u202Eevil\u0000\nline"), "a evil line");
  assert.equal(cleanText("x".repeat(500), 10), `${"x".repeat(9)}…`);
  assert.equal(cleanText(`${"x".repeat(8)}\u{1F600}yz`, 10), `${"x".repeat(8)}…`); // never half an emoji
  assert.equal(cleanText({ toString: () => "<b>" }), "");
  assert.equal(safeHref("javascript:alert(1)"), null);
  assert.equal(safeHref("data:text/html,<b>x</b>"), null);
  assert.equal(safeHref("https://example.org/a b"), "https://example.org/a%20b");
  const view = popupView(state({ tab: { url: TAB.url, title: "t".repeat(1000) } }), { now: NOW });
  assert.ok(view.page.headline.length <= 120);
});

const ALL_STATES = [
  state(),
  state({ host: { state: "missing" } }),
  state({ host: { state: "outdated", command: "pip install -U flattr-companion" } }),
  state({ host: { state: "crashed" } }),
  state({ account: { signed_in: false, signed_out_reason: "token_rejected" } }),
  state({ account: { ...SIGNED_IN, subscription_active: false } }),
  state({ page: notCounting("blocked", "banking and payment sites never count") }),
  state({ page: null, tab: null }),
  state({ queue: { ...QUIET_QUEUE, failed: 2, hold: "backoff", next_retry_at: NOW + 60,
    last_error: "The Flattr API answered 500" } }),
];

test("no view model contains the token, even when the state carries one by mistake", () => {
  for (const s of ALL_STATES) {
    const leaky = {
      ...s,
      token: TOKEN,
      account: s.account && { ...s.account, token: TOKEN },
      queue: s.queue && { ...s.queue, token: TOKEN },
      tab: s.tab && { ...s.tab, token: TOKEN },
    };
    const json = JSON.stringify(popupView(leaky, { now: NOW }));
    assert.ok(!json.includes(TOKEN), json);
  }
});

test("the view never produces markup; hostile input stays plain text", () => {
  for (const s of ALL_STATES) {
    const view = popupView(s, { now: NOW });
    for (const text of strings(view)) assert.doesNotMatch(text, /<[a-z!/]/i, text);
    assert.ok(!/html/i.test(JSON.stringify(Object.keys(view))));
  }
  const hostile = '<img src=x onerror="alert(1)">';
  const view = popupView(
    state({
      tab: { url: TAB.url, title: hostile },
      page: { ...COUNTING_PAGE, decision: { ...COUNTING_PAGE.decision, counts: false,
        reason: "blocked", detail: hostile } },
    }),
    { now: NOW },
  );
  // Shown verbatim as text (popup.js uses textContent), never turned into anything else.
  assert.equal(view.page.headline, hostile);
  assert.equal(view.page.sentences[0], `Not counting: ${hostile}.`);
});

test("the popup renders with textContent only and loads no inline or external code", () => {
  assertTextOnlyPage("popup", /^https:\/\/flattr\.com\//);
});

test("the popup says who gets the flattr", () => {
  assert.equal(creatorText({ name: "alice", kind: "user", source: "flattr_meta" }), "Goes to alice on Flattr");
  assert.equal(creatorText({ name: "313733", kind: "thing" }), "Goes to Flattr thing 313733");
  assert.match(creatorText({ name: "twitter:user:id:1", kind: "owner" }), /^Goes to twitter:user:id:1 on Flattr/);
  assert.equal(creatorText(null), "");
  assert.equal(creatorText({ name: "a\u202eb\n", kind: "user" }).includes("\u202e"), false);
});

test("today's flattrs on the site expand to its pages and counts", () => {
  const pages = todayPages([
    { url: "https://example.org/a", title: "A post", flattrs: 2 },
    { url: "https://example.org/", title: null, flattrs: 1 },
    { url: "https://example.org/z", title: "gone", flattrs: 0 },
    "junk",
  ]);
  assert.deepEqual(pages, [
    { text: "A post — 2 flattrs", title: "https://example.org/a" },
    { text: "https://example.org/ — 1 flattr", title: "https://example.org/" },
  ]);
  assert.deepEqual(todayPages(undefined), []);
});

test("the popup links: create an account beside Sign in, the Flattr dashboard in the footer", () => {
  const html = readFileSync(new URL("../src/popup/popup.html", import.meta.url), "utf8");
  assert.match(html, /id="sign-in-row"[^]*id="sign-in"[^]*<a id="sign-up" href="https:\/\/flattr\.com\/signup"[^>]*>Create a Flattr account</);
  assert.match(html, /<footer[^]*<a id="dashboard" href="https:\/\/flattr\.com\/dashboard"[^>]*>flattr\.com dashboard</);
});

test("a page open since before the extension started and not injectable: reload to count it", () => {
  const view = popupView(state({ tab: { url: "https://example.org/a", title: "A", reload: true } }), { now: NOW });
  assert.equal(view.page.sentences[0], "Reload this page to count it.");
});

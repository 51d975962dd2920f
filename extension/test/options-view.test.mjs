// The options page's view models (node --test, no DOM).
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  CATEGORY_LABELS,
  MODES,
  SIGN_OUT_CONFIRM,
  accountSection,
  builtinView,
  exportFile,
  historyItem,
  historyView,
  modeView,
  parseSiteInput,
  siteRows,
  stripSecrets,
} from "../src/options/view.js";
import { SCHEMA as schema, assertShape, assertTextOnlyPage } from "./helpers.mjs";

const NOW = 1_732_550_000;
const TOKEN = "tok_SECRET_5f3a9c";


const SITES = {
  mode: "all",
  sites: [
    { site: "example.org", setting: "enabled", builtin: null, flattrs_today: 2, flattrs_total: 40 },
    { site: "noisy.example", setting: "disabled", builtin: null, flattrs_today: 0,
      flattrs_total: 3 },
    { site: "paypal.com", setting: "enabled", builtin: "banking", flattrs_today: 0,
      flattrs_total: 0 },
    { site: "github.com", setting: "default", builtin: "platform", flattrs_today: 1,
      flattrs_total: 9 },
  ],
  builtin: {
    banking: ["paypal.com", "paypal.me"],
    search: ["google.* / /search /webhp", "bing.com"],
    weird_new: ["a.example"],
  },
};

function strings(value, out = []) {
  if (typeof value === "string") out.push(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => strings(v, out));
  return out;
}

test("fixtures have the host's shapes", () => {
  assertShape("SitesResult", SITES);
  for (const entry of SITES.sites) assertShape("SiteEntry", entry);
  assert.deepEqual(MODES.map((m) => m.value), schema.$defs.SetModeRequest.properties.mode.enum);
});

test("mode: three radio buttons, the current one checked", () => {
  const view = modeView("enabled");
  assert.deepEqual(view.map((m) => [m.value, m.checked]), [
    ["all", false],
    ["enabled", true],
    ["metadata", false],
  ]);
  assert.deepEqual(view.map((m) => m.label), [
    "All public sites",
    "Only sites I enabled",
    "Only pages with Flattr metadata",
  ]);
  assert.equal(modeView("bogus").find((m) => m.checked).value, "all");
});

test("sites: state, counts, built-in category and the actions that make sense", () => {
  const rows = siteRows(SITES.sites, "all");
  assert.equal(rows.length, 4);
  const [enabled, disabled, paypal, github] = rows;
  assert.equal(enabled.state, "Counts: you enabled it");
  assert.equal(enabled.counts, "2 today, 40 in total");
  assert.deepEqual(enabled.actions, { enable: false, disable: true, reset: true });
  assert.equal(disabled.state, "Off: you turned it off");
  assert.deepEqual(disabled.actions, { enable: true, disable: false, reset: true });
  assert.equal(paypal.category, "Banking and payment");
  assert.match(paypal.state, /you enabled it \(built-in list: Banking and payment\)/);
  assert.match(github.state, /Built-in list \(Home, search and settings pages/);
  assert.deepEqual(github.actions, { enable: true, disable: true, reset: false });
  assert.equal(siteRows([{ site: "a.example", setting: "default" }], "enabled")[0].state,
    "Does not count: not enabled");
  assert.deepEqual(siteRows(null, "all"), []);
  assert.deepEqual(siteRows([{ setting: "enabled" }, null], "all"), []);
});

test("built-in never-count list by category, in words", () => {
  const groups = builtinView(SITES.builtin);
  assert.deepEqual(groups.map((g) => g.label), [
    "Banking and payment",
    "Search pages",
    "weird new",
  ]);
  assert.equal(groups[0].summary, "Banking and payment (2 entries)");
  assert.deepEqual(groups[1].entries, ["google.* — only /, /search, /webhp", "bing.com"]);
  assert.deepEqual(builtinView(null), []);
  for (const key of ["banking", "search", "webmail", "sign_in", "intranet", "platform", "flattr"]) {
    assert.ok(CATEGORY_LABELS[key], key);
  }
});

const ITEMS = [
  { id: 9, url: "https://flattr.com/submit/auto?user_id=x&url=https%3A%2F%2Fexample.org%2F",
    page_url: "https://example.org/post", site: "example.org", title: "A post", reason: "manual",
    state: "delivered", created_at: NOW - 7200, delivered_at: NOW - 7000, error: null },
  { id: 8, url: "https://example.org/b", page_url: "https://example.org/b", site: "example.org",
    title: null, reason: "attention", state: "rejected", created_at: NOW - 90_000,
    delivered_at: null, error: "url not allowed" },
  { id: 7, url: "javascript:alert(1)", page_url: "javascript:alert(1)", site: "evil.example",
    title: "<script>alert(1)</script>", reason: "audio", state: "pending", created_at: NOW - 30 },
];

test("history rows: words for reason and state, links only for http(s)", () => {
  for (const item of ITEMS) assertShape("HistoryItem", item);
  const view = historyView(ITEMS, 7, NOW);
  assert.equal(view.more, true);
  assert.equal(view.nextBefore, 7);
  const [delivered, rejected, pending] = view.rows;
  assert.equal(delivered.title, "A post");
  assert.equal(delivered.reason, "Flattr button");
  assert.equal(delivered.state, "Delivered 1 h 57 min ago");
  assert.equal(delivered.when, "2 h ago");
  assert.equal(delivered.href, "https://example.org/post");
  assert.match(delivered.target, /^Sent to https:\/\/flattr\.com\/submit\/auto/);
  assert.equal(delivered.datetime, new Date((NOW - 7200) * 1000).toISOString());
  assert.equal(rejected.title, "https://example.org/b");
  assert.equal(rejected.state, "Refused by Flattr");
  assert.equal(rejected.error, "url not allowed");
  assert.equal(rejected.target, "");
  assert.equal(rejected.when, "1 day ago");
  assert.equal(pending.href, null);
  assert.equal(pending.reason, "Listening");
  assert.equal(pending.state, "Waiting to be sent");
  // Hostile titles are text: shown as typed, rendered with textContent.
  assert.equal(pending.title, "<script>alert(1)</script>");

  const last = historyView(ITEMS.slice(0, 1), null, NOW);
  assert.equal(last.more, false);
  assert.equal(historyView([], null, NOW).empty, "No flattrs yet.");
  assert.equal(historyItem({ ...ITEMS[0], state: "failed", error: "boom" }, NOW).error, "boom");
});

test("add a site: names and pasted URLs; errors in words", () => {
  assert.deepEqual(parseSiteInput("Example.ORG"), { site: "example.org" });
  assert.deepEqual(parseSiteInput("  https://www.example.org/page?q=1#x "), {
    site: "www.example.org",
  });
  assert.deepEqual(parseSiteInput("blog.example.co.uk."), { site: "blog.example.co.uk" });
  assert.deepEqual(parseSiteInput("bücher.de"), { site: "xn--bcher-kva.de" });
  assert.match(parseSiteInput("").error, /Type a site/);
  assert.match(parseSiteInput("localhost").error, /not a site name/);
  assert.match(parseSiteInput("ftp://example.org").error, /Only web sites/);
  assert.match(parseSiteInput("exa mple.org").error, /not a site name/);
  assert.match(parseSiteInput(`${"a".repeat(300)}.com`).error, /too long/);
});

test("export: a JSON file of the user's data, never a token", () => {
  const data = {
    accounts: [{ id: 1, username: "alice", token: TOKEN, signed_out_reason: null }],
    sites: [{ site: "example.org", setting: "enabled" }],
    flattrs: [{ id: 1, url: "https://example.org/", nested: { access_token: TOKEN } }],
  };
  const file = exportFile(data, NOW);
  assert.equal(file.filename, `flattr-companion-export-${new Date(NOW * 1000).toISOString()
    .slice(0, 10)}.json`);
  assert.equal(file.type, "application/json");
  assert.ok(!file.text.includes(TOKEN));
  const parsed = JSON.parse(file.text);
  assert.equal(parsed.format, "flattr-companion-export");
  assert.equal(parsed.data.accounts[0].username, "alice");
  assert.deepEqual(parsed.data.sites, data.sites);
  assert.equal(parsed.data.flattrs[0].url, "https://example.org/");
  assert.deepEqual(stripSecrets([{ Authorization: "x", ok: 1 }]), [{ ok: 1 }]);
});

test("account and sign-out confirmation in words", () => {
  const signedIn = accountSection({ signed_in: true, username: "alice" });
  assert.deepEqual(signedIn, {
    signedIn: true,
    text: "Signed in to Flattr as alice.",
    canSignOut: true,
    canSignIn: false,
  });
  assert.equal(accountSection({ signed_in: false, signed_out_reason: "token_rejected" }).text,
    "Flattr rejected the token — sign in again.");
  assert.equal(accountSection({ signed_in: false, signed_out_reason: "user" }).text,
    "You signed out.");
  assert.equal(accountSection(null).canSignOut, false);
  assert.match(SIGN_OUT_CONFIRM, /stay queued/);
});

test("no view model contains the token or produces markup", () => {
  const leaky = SITES.sites.map((s) => ({ ...s, token: TOKEN }));
  const views = [
    modeView("all"),
    siteRows(leaky, "all"),
    builtinView(SITES.builtin),
    historyView(ITEMS.slice(0, 2).map((i) => ({ ...i, token: TOKEN })), null, NOW),
    accountSection({ signed_in: true, username: "alice", token: TOKEN }),
  ];
  for (const view of views) {
    const json = JSON.stringify(view);
    assert.ok(!json.includes(TOKEN), json);
    for (const text of strings(view)) assert.doesNotMatch(text, /<[a-z!/]/i, text);
  }
});

test("the options page renders with textContent only and loads no inline or external code", () => {
  assertTextOnlyPage("options");
});

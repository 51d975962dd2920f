// Every message the extension builds for the host validates against protocol.schema.json.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_SETTINGS } from "../src/background/attention.js";
import * as build from "../src/background/protocol.js";
import * as S from "../src/background/settings.js";
import { assertValidRequest, SCHEMA, SCHEMA_MAX_SEGMENT_SECONDS, validateRequest } from "./helpers.mjs";

const META = {
  payment_url: "https://flattr.com/submit/auto?user_id=alice&url=https%3A%2F%2Fexample.com%2F",
  flattr_id: "alice",
  canonical_url: "https://example.com/canonical",
};
const PAGE = { url: "https://example.com/post", title: "A post", meta: META };
const SEGMENT = {
  url: "https://example.com/post",
  title: "A post",
  seconds: 12.345,
  kind: "foreground",
  private: false,
  meta: META,
  started_at: 1_700_000_000.5,
};

const messages = {
  hello: build.hello({ id: "pceboilfpeijfppedbhfdflpddadaoml", version: "0.1.0", browser: "chromium" }),
  "token without subscription": build.token("FOO", null, "https://flattr.com/oauth/ext"),
  "token with subscription": build.token("FOO", { active: true }, "https://flattr.com/"),
  subscription: build.subscription(false, "https://flattr.com/"),
  sign_out: build.signOut(),
  attention: build.attention([SEGMENT, { ...SEGMENT, kind: "audio", title: null, started_at: null }]),
  attention_batch: build.attention([SEGMENT], "7d8f0a2e-batch"),
  visits: build.visits([{ url: "https://news.example.org/", visited_at: 1764400000.5 }]),
  set_visit_flattrs: build.setVisitFlattrs(false),
  flattr_now: build.flattrNow(PAGE),
  "flattr_now, no title or meta": build.flattrNow({ url: "https://example.com/" }),
  page_status: build.pageStatus(PAGE),
  set_site: build.setSite("example.com", "disabled"),
  sites: build.sites(),
  set_mode: build.setMode("metadata"),
  status: build.status(),
  history: build.history(),
  "history with before and limit": build.history(41, 500),
  export: build.exportPage(),
  "export with cursor": build.exportPage("flattrs:120"),
  tick: build.tick(),
  "tick force": build.tick(true),
  "open_dashboard": build.openDashboard(),
  "open_dashboard on a page": build.openDashboard("history"),
  "open_dashboard on an unknown page": build.openDashboard("nope"),
};

describe("requests against the host's schema", () => {
  it("protocol.js builds every request type the host knows", () => {
    const built = new Set(Object.values(messages).map((m) => m.type));
    assert.deepEqual([...built].sort(), Object.keys(SCHEMA.results).sort());
  });

  for (const [name, body] of Object.entries(messages)) {
    it(`${name} is valid`, () => {
      assertValidRequest(assert, { id: 7, ...body });
      assertValidRequest(assert, { id: "req-7", ...body });
    });
  }

  it("the validator catches what the host would refuse", () => {
    assert.equal(validateRequest({ id: 1, type: "status", extra: 1 }).ok, false);
    assert.equal(validateRequest({ id: 1, type: "attention", segments: [] }).ok, false);
    assert.equal(validateRequest({ id: 1, ...build.attention([{ ...SEGMENT, seconds: 3601 }]) }).ok, false);
    assert.equal(validateRequest({ id: 1, type: "nope" }).ok, false);
    assert.equal(validateRequest({ id: 1, ...build.attention([{ ...SEGMENT, title: "cut \ud83d" }]) }).ok, false);
  });

  it("a title is cut at a character boundary, never in the middle of an emoji", () => {
    const msg = build.flattrNow({ ...PAGE, title: `${"x".repeat(1023)}\u{1F600} and more` });
    assert.equal(msg.title, "x".repeat(1023));
    assertValidRequest(assert, { id: 1, ...msg });
    const whole = build.flattrNow({ ...PAGE, title: `${"x".repeat(1022)}\u{1F600} and more` });
    assert.equal(whole.title, `${"x".repeat(1022)}\u{1F600}`);
  });

  it("lone surrogates a page made are sent as U+FFFD", () => {
    const msg = build.flattrNow({ ...PAGE, title: "a\udc00b", meta: { ...META, flattr_id: "\ud800alice" } });
    assert.equal(msg.title, "a\ufffdb");
    assert.equal(msg.meta.flattr_id, "\ufffdalice");
    assertValidRequest(assert, { id: 1, ...msg });
    const url = build.pageStatus({ url: PAGE.url, meta: { ...META, canonical_url: "https://example.com/\ud800" } });
    assert.equal(url.meta.canonical_url, null);
  });

  it("a long title is cut to the schema's limit", () => {
    const msg = build.flattrNow({ ...PAGE, title: "x".repeat(5000) });
    assert.equal(msg.title.length, 1024);
    assertValidRequest(assert, { id: 1, ...msg });
  });

  it("button markup and the flattr: family reach the host valid, or not at all", () => {
    const meta = {
      payment_url: "http://flattr.com/submit/auto?url=https%3A%2F%2Fa.example%2F&user_id=al",
      button_url: "https://flattr.com/thing/12",
      flattr_params: { title: "T", colour: "red", tags: 5 },
    };
    const msg = build.pageStatus({ url: PAGE.url, meta });
    assert.equal(validateRequest({ id: 1, ...msg }).ok, true);
    assert.equal(msg.meta.payment_url, meta.payment_url);
    assert.deepEqual(msg.meta.flattr_params, { title: "T" });
    const bad = build.pageStatus({ url: PAGE.url, meta: { button_url: "https://flattr.com.evil.example/thing/1" } });
    assert.equal("button_url" in bad.meta, false);
  });

  it("invalid metadata never reaches the host", () => {
    const msg = build.pageStatus({ url: PAGE.url, meta: { payment_url: "ftp://x", flattr_id: "", canonical_url: 5 } });
    assert.deepEqual(msg.meta, { payment_url: null, flattr_id: null, canonical_url: null });
  });
});

describe("settings.js repeats the schema's limits", () => {
  const defs = SCHEMA.$defs;
  it("one figure for a segment's seconds: the schema's, which the host counts in full", () => {
    assert.equal(S.MAX_SEGMENT_SECONDS, SCHEMA_MAX_SEGMENT_SECONDS);
    assert.equal(DEFAULT_SETTINGS.maxSegmentSeconds, SCHEMA_MAX_SEGMENT_SECONDS);
  });

  it("the other limits", () => {
    assert.equal(S.MAX_URL_LENGTH, defs.Segment.properties.url.maxLength);
    assert.equal(S.MAX_TITLE_LENGTH, defs.Segment.properties.title.anyOf[0].maxLength);
    assert.equal(S.MAX_FLATTR_ID_LENGTH, defs.PageMeta.properties.flattr_id.anyOf[0].maxLength);
    assert.equal(S.MAX_SITE_LENGTH, defs.SetSiteRequest.properties.site.maxLength);
    assert.equal(S.MAX_HISTORY_LIMIT, defs.HistoryRequest.properties.limit.maximum);
    assert.equal(S.MAX_TOKEN_LENGTH, defs.TokenRequest.properties.token.maxLength);
    assert.ok(S.MAX_BATCH_SEGMENTS <= defs.AttentionRequest.properties.segments.maxItems);
  });
});

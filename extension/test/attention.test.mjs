// The attention machine on scenario timelines with a fake clock (seconds from the start).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AttentionMachine, NO_WINDOW } from "../src/background/attention.js";
import { MAX_TITLE_LENGTH } from "../src/background/settings.js";
import { assertValidRequest, fakeClock, SCHEMA_MAX_SEGMENT_SECONDS } from "./helpers.mjs";

const A = "https://example.com/a";
const B = "https://example.com/b";
const W1 = 1;
const W2 = 2;

/** One focused window with tab 10 (active, A) and tab 11 (background, B). */
function setup() {
  const clock = fakeClock();
  const m = new AttentionMachine({ clock });
  m.tab({ id: 10, windowId: W1, active: true, url: A, title: "Page A", incognito: false });
  m.tab({ id: 11, windowId: W1, active: false, url: B, title: "Page B", incognito: false });
  m.focused(W1); // focusing selects the active tab: its window starts at 0
  return { m, clock };
}

function total(segments, url, kind) {
  return segments
    .filter((s) => s.url === url && (kind === undefined || s.kind === kind))
    .reduce((sum, s) => sum + s.seconds, 0);
}

describe("foreground attention", () => {
  it("counts while the user interacts at least every 15 s, then 15 s more", () => {
    const { m, clock } = setup();
    for (let t = 5; t <= 60; t += 5) {
      clock.at(t);
      m.activity(10);
    }
    clock.at(200);
    const segs = m.drain();
    assert.equal(total(segs, A), 75);
    assert.ok(segs.every((s) => s.kind === "foreground" && s.private === false));
    assert.equal(segs[0].title, "Page A");
    assert.equal(segs[0].started_at, 1_700_000_000);
  });

  it("gives a selected tab without interaction one window of 15 s", () => {
    const { m, clock } = setup();
    clock.at(100);
    assert.equal(total(m.drain(), A), 15);
  });

  it("stops counting after 15 s without events even when ticks keep coming", () => {
    const { m, clock } = setup();
    clock.at(10);
    m.activity(10); // until 25
    for (let t = 11; t < 60; t++) {
      clock.at(t);
      m.tick();
    }
    assert.equal(total(m.drain(), A), 25);
    assert.equal(m.counting(), false);
  });

  it("credits the elapsed seconds on each restart (drained between events)", () => {
    const { m, clock } = setup();
    clock.at(4);
    m.activity(10);
    assert.equal(total(m.drain(), A), 4);
    clock.at(10);
    m.activity(10);
    assert.equal(total(m.drain(), A), 6);
  });

  it("stops on idle and on a locked screen; input while locked does not count", () => {
    const { m, clock } = setup();
    clock.at(30);
    m.activity(10); // until 45
    clock.at(40);
    m.idleState("idle");
    clock.at(100);
    assert.equal(total(m.drain(), A), 15 + 10);
    m.idleState("locked");
    clock.at(110);
    m.activity(10);
    clock.at(200);
    assert.equal(total(m.drain(), A), 0);
    m.idleState("active");
    clock.at(210);
    m.activity(10);
    clock.at(300);
    assert.equal(total(m.drain(), A), 15);
  });

  it("input after the idle detector fired counts again at once", () => {
    const { m, clock } = setup();
    clock.at(20);
    m.idleState("idle");
    clock.at(30);
    m.activity(10);
    clock.at(100);
    assert.equal(total(m.drain(), A), 15 + 15);
  });

  it("moves to the newly selected tab: the old one stops at the switch", () => {
    const { m, clock } = setup();
    clock.at(5);
    m.activity(10);
    clock.at(12);
    m.activated(11, W1);
    clock.at(100);
    const segs = m.drain();
    assert.equal(total(segs, A), 12);
    assert.equal(total(segs, B), 15);
  });

  it("ignores interactions in a tab that is not the focused window's active tab", () => {
    const { m, clock } = setup();
    clock.at(20);
    m.drain();
    m.activity(11); // background tab
    clock.at(60);
    assert.equal(total(m.drain(), B), 0);
  });

  it("stops when the browser loses focus and counts the other window's tab when it gets it", () => {
    const { m, clock } = setup();
    m.tab({ id: 20, windowId: W2, active: true, url: "https://other.example/", incognito: false });
    clock.at(8);
    m.focused(NO_WINDOW);
    clock.at(9);
    m.activity(10); // mouse over an unfocused window: not attention
    clock.at(30);
    let segs = m.drain();
    assert.equal(total(segs, A), 8);
    m.focused(W2);
    clock.at(35);
    m.activity(10); // window 1 is not focused: ignored
    m.activity(20);
    clock.at(100);
    segs = m.drain();
    assert.equal(total(segs, A), 0);
    assert.equal(total(segs, "https://other.example/"), 20);
  });

  it("restarts the window on a zoom change and on a successful load, not on an unknown status", () => {
    const { m, clock } = setup();
    clock.at(14);
    m.zoomed(10); // until 29
    clock.at(28);
    m.loaded(10, 200); // until 43
    clock.at(42);
    m.loaded(10, null); // no restart
    clock.at(100);
    assert.equal(total(m.drain(), A), 43);
  });
});

describe("navigation and errors", () => {
  it("ends the old page's segment on navigation and counts the new page", () => {
    const { m, clock } = setup();
    clock.at(10);
    m.navigated(10, B);
    m.tab({ id: 10, title: "Page B" });
    m.loaded(10, 200); // until 25
    clock.at(100);
    const segs = m.drain();
    assert.equal(total(segs, A), 10);
    assert.equal(total(segs, B), 15);
    assert.equal(segs.find((s) => s.url === B).title, "Page B");
  });

  it("a fragment change is the same page", () => {
    const { m, clock } = setup();
    clock.at(5);
    m.navigated(10, `${A}#part-2`);
    clock.at(100);
    const segs = m.drain();
    assert.equal(segs.length, 1);
    assert.equal(segs[0].seconds, 15);
  });

  it("an error page (status >= 400) earns nothing, the next good load does", () => {
    const { m, clock } = setup();
    clock.at(3);
    m.navigated(10, "https://example.com/missing");
    clock.at(4);
    m.loaded(10, 404);
    clock.at(6);
    m.activity(10);
    clock.at(50);
    let segs = m.drain();
    assert.equal(total(segs, A), 3);
    assert.equal(total(segs, "https://example.com/missing"), 0);
    m.navigated(10, B);
    m.loaded(10, 200);
    clock.at(100);
    segs = m.drain();
    assert.equal(total(segs, B), 15);
  });

  it("pages that are not http(s) earn nothing", () => {
    const { m, clock } = setup();
    m.navigated(10, "chrome://newtab/");
    m.activity(10);
    clock.at(100);
    assert.deepEqual(m.drain(), []);
  });

  it("a closed tab's seconds are emitted and the tab forgotten", () => {
    const { m, clock } = setup();
    clock.at(7);
    m.closed(10);
    assert.equal(total(m.drain(), A), 7);
    assert.equal(m.knows(10), false);
  });
});

describe("audio", () => {
  it("an audible background tab earns while the user is idle, as an audio page after 20 s", () => {
    const { m, clock } = setup();
    m.idleState("idle");
    m.audio(11, true, false);
    clock.at(10);
    assert.deepEqual(m.drain(), [], "an audio run under 20 s is held back");
    clock.at(60);
    const segs = m.drain();
    assert.equal(total(segs, B, "audio"), 60);
    assert.equal(total(segs, A), 0);
  });

  it("several audible tabs earn at once, also with the screen locked", () => {
    const { m, clock } = setup();
    m.tab({ id: 12, windowId: W2, active: true, url: "https://radio.example/", incognito: false });
    m.idleState("locked");
    m.audio(11, true, false);
    m.audio(12, true, false);
    clock.at(30);
    const segs = m.drain();
    assert.equal(total(segs, B, "audio"), 30);
    assert.equal(total(segs, "https://radio.example/", "audio"), 30);
  });

  it("muting, silence, navigation and closing reset the run; a short run is ordinary attention", () => {
    const { m, clock } = setup();
    m.audio(11, true, false);
    clock.at(10);
    m.audio(11, true, true); // muted after 10 s
    clock.at(15);
    m.audio(11, true, false); // a new run
    clock.at(30);
    m.audio(11, false, false); // silent after 15 s: still under 20 s
    let segs = m.drain();
    assert.equal(total(segs, B, "foreground"), 25);
    assert.equal(total(segs, B, "audio"), 0);
    m.audio(11, true, false);
    clock.at(55); // 25 s of audio
    m.navigated(11, "https://example.com/c");
    clock.at(65);
    m.closed(11);
    segs = m.drain();
    assert.equal(total(segs, B, "audio"), 25);
    assert.equal(total(segs, "https://example.com/c", "foreground"), 10);
  });

  it("a foreground tab that also plays sound is credited once", () => {
    const { m, clock } = setup();
    m.audio(10, true, false);
    for (let t = 5; t <= 30; t += 5) {
      clock.at(t);
      m.activity(10);
    }
    clock.at(40);
    const segs = m.drain();
    assert.equal(total(segs, A), 40);
    assert.equal(total(segs, A, "audio"), 40);
  });

  it("never credits more than the gap limit after a suspend", () => {
    const { m, clock } = setup();
    m.audio(11, true, false);
    clock.at(3600);
    const segs = m.drain();
    assert.ok(total(segs, B) <= 150 + 15, `credited ${total(segs, B)}`);
  });
});

describe("private windows", () => {
  it("never stores a private tab, not even its URL", () => {
    const { m, clock } = setup();
    const secret = "https://secret.example/private-page";
    m.tab({ id: 30, windowId: 9, active: true, url: secret, title: "secret", incognito: true });
    m.audio(30, true, false);
    m.activity(30);
    m.focused(9);
    clock.at(60);
    assert.equal(m.knows(30), false);
    const segs = m.drain();
    assert.ok(!JSON.stringify(segs).includes("secret"));
    assert.ok(!JSON.stringify(m.snapshot()).includes("secret"));
    // Focus on the private window stopped the normal window's tab at once.
    assert.equal(total(segs, A), 0);
  });

  it("a known tab reported as private is dropped without emitting", () => {
    const { m, clock } = setup();
    clock.at(5);
    m.tab({ id: 10, incognito: true });
    clock.at(50);
    assert.deepEqual(m.drain(), []);
  });
});

describe("segments and persistence", () => {
  it("emits segments the host accepts", () => {
    const { m, clock } = setup();
    m.meta(10, {
      payment_url: "https://flattr.com/submit/auto?user_id=alice&url=https%3A%2F%2Fexample.com%2Fa",
      flattr_id: "alice",
      canonical_url: "https://example.com/a-canonical",
    });
    m.audio(11, true, false);
    clock.at(30);
    const segs = m.drain();
    assert.equal(segs.length, 2);
    assertValidRequest(assert, { id: 1, type: "attention", segments: segs });
    assert.equal(segs[0].meta.flattr_id, "alice");
  });

  it("drops metadata that is not what it claims", () => {
    const { m, clock } = setup();
    m.meta(10, {
      payment_url: "https://evil.example/submit/auto?x",
      flattr_id: 42,
      canonical_url: "javascript:alert(1)",
    });
    clock.at(30);
    const [seg] = m.drain();
    assert.deepEqual(seg.meta, { payment_url: null, flattr_id: null, canonical_url: null });
  });

  it("splits a stretch longer than the schema's 3600 s per segment", () => {
    const { m, clock } = setup();
    for (let t = 10; t <= 4000; t += 10) {
      clock.at(t);
      m.activity(10);
    }
    clock.at(5000);
    const segs = m.drain();
    assert.equal(total(segs, A), 4015);
    assert.ok(segs.every((s) => s.seconds <= SCHEMA_MAX_SEGMENT_SECONDS));
    assertValidRequest(assert, { id: 1, type: "attention", segments: segs });
  });

  it("cuts a long title at a character boundary: never half an emoji for the host", () => {
    const { m, clock } = setup();
    // The emoji's two UTF-16 units straddle the limit: slice() would keep a lone \ud83d.
    m.tab({ id: 10, title: `${"x".repeat(MAX_TITLE_LENGTH - 1)}\u{1F600} more` });
    clock.at(10);
    const [seg] = m.drain();
    assert.equal(seg.title, "x".repeat(MAX_TITLE_LENGTH - 1));
    assertValidRequest(assert, { id: 1, type: "attention", segments: [seg] });
  });

  it("sends lone surrogates from a page as U+FFFD, keeping whole emoji", () => {
    const { m, clock } = setup();
    m.tab({ id: 10, title: "\u{1F600} a\udc00b \ud83d" });
    m.meta(10, { flattr_id: "alice\ud800" });
    clock.at(10);
    const [seg] = m.drain();
    assert.equal(seg.title, "\u{1F600} a\ufffdb \ufffd");
    assert.equal(seg.meta.flattr_id, "alice\ufffd");
    assertValidRequest(assert, { id: 1, type: "attention", segments: [seg] });
  });

  it("resumes from a snapshot with the open window intact (service-worker restart)", () => {
    const { m, clock } = setup();
    clock.at(5);
    m.activity(10); // until 20
    m.audio(11, true, false);
    clock.at(8);
    const snap = JSON.parse(JSON.stringify(m.snapshot()));
    clock.at(12);
    const resumed = new AttentionMachine({ clock, snapshot: snap });
    clock.at(30);
    const segs = resumed.drain();
    assert.equal(total(segs, A), 20);
    assert.equal(total(segs, B, "audio"), 25);
  });
});

// The outbox: merging, in-flight items left alone, the cap, never anything private.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Outbox } from "../src/background/outbox.js";
import { SCHEMA_MAX_SEGMENT_SECONDS } from "./helpers.mjs";

const meta = { payment_url: null, flattr_id: null, canonical_url: null };
const seg = (over = {}) => ({
  url: "https://example.com/a", title: "A", seconds: 10, kind: "foreground", private: false, meta,
  started_at: 1000, ...over,
});

describe("outbox", () => {
  it("merges a continuing segment of the same page", () => {
    const o = new Outbox();
    o.add([seg(), seg({ started_at: 1015 }), seg({ kind: "audio" }), seg({ url: "https://example.com/b" })]);
    assert.equal(o.size, 3);
    assert.equal(o.items[0].seconds, 20);
    assert.equal(o.items[0].started_at, 1000);
  });

  it("does not merge into what is in flight, nor across the merge window", () => {
    const o = new Outbox();
    o.add([seg()]);
    o.peek(); // sealed: in flight
    o.add([seg()]);
    assert.equal(o.size, 2);
    o.add([seg({ started_at: 1000 + 3600 })]);
    assert.equal(o.size, 3);
  });

  it("merges up to the schema's maximum, then starts a new segment: no second is lost", () => {
    const o = new Outbox();
    // The host away for a long listen: 100 slices of 150 s of one page.
    o.add(Array.from({ length: 100 }, () => seg({ seconds: 150, started_at: null })));
    const lengths = o.items.map((s) => s.seconds);
    assert.equal(lengths.reduce((a, b) => a + b, 0), 15_000);
    assert.ok(lengths.every((s) => s <= SCHEMA_MAX_SEGMENT_SECONDS), String(lengths));
    assert.equal(o.size, Math.ceil(15_000 / SCHEMA_MAX_SEGMENT_SECONDS));
  });

  it("keeps at most `max` segments, dropping the oldest", () => {
    const o = new Outbox({ max: 3 });
    o.add([1, 2, 3, 4, 5].map((i) => seg({ url: `https://example.com/${i}` })));
    assert.deepEqual(o.items.map((s) => s.url.slice(-1)), ["3", "4", "5"]);
  });

  it("batches under an id kept across resends and restarts, and settles from the front", () => {
    let n = 0;
    const o = new Outbox({ batch: 2, newId: () => `id-${++n}` });
    o.add([1, 2, 3].map((i) => seg({ url: `https://example.com/${i}` })));
    const first = o.peek();
    assert.equal(first.segments.length, 2);
    assert.deepEqual(o.peek(), first, "no answer yet: the same batch, the same id");
    const restored = new Outbox({ items: o.toJSON(), sealed: o.sealed, batch: 2 });
    assert.deepEqual(restored.peek(), first, "a restarted worker resends it unchanged");
    o.settle();
    assert.equal(o.items[0].url, "https://example.com/3");
    assert.equal(o.peek().id, "id-2");
  });

  it("never drops the sealed batch to make room", () => {
    const o = new Outbox({ max: 3, batch: 2 });
    o.add([1, 2].map((i) => seg({ url: `https://example.com/${i}` })));
    o.peek();
    o.add([3, 4, 5].map((i) => seg({ url: `https://example.com/${i}` })));
    assert.deepEqual(o.items.map((s) => s.url.slice(-1)), ["1", "2", "5"]);
  });

  it("refuses private segments, even from a restored state", () => {
    const o = new Outbox({ items: [seg({ private: true }), seg()] });
    o.add([seg({ private: true, url: "https://secret.example/" })]);
    assert.equal(o.size, 1);
    assert.ok(!JSON.stringify(o).includes("secret"));
  });
});

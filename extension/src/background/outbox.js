// Segments waiting to be sent to the host, in order. Pure: tracker.js persists it in
// storage.session so a service-worker restart loses none, and sends it in small batches.
import {
  MAX_BATCH_SEGMENTS,
  MAX_OUTBOX_SEGMENTS,
  MAX_SEGMENT_SECONDS,
  MERGE_WINDOW_SECONDS,
  SECONDS_DECIMALS,
} from "./settings.js";

const SCALE = 10 ** SECONDS_DECIMALS;

function sameTarget(a, b) {
  return a.url === b.url && a.kind === b.kind && a.title === b.title &&
    a.meta.payment_url === b.meta.payment_url && a.meta.flattr_id === b.meta.flattr_id &&
    a.meta.canonical_url === b.meta.canonical_url;
}

export class Outbox {
  constructor({ items = [], max = MAX_OUTBOX_SEGMENTS, batch = MAX_BATCH_SEGMENTS } = {}) {
    this.items = Array.isArray(items) ? items.filter((s) => s && s.private === false) : [];
    this.max = max;
    this.batch = batch;
  }

  get size() {
    return this.items.length;
  }

  /**
   * Queue segments. One that continues a queued segment of the same page (same URL, kind, title
   * and metadata, started recently) is merged into it, so a long read is one segment, not forty.
   * Only the not-yet-sent part of the queue is merged into: `sealed` items are in flight.
   */
  add(segments, sealed = 0) {
    for (const seg of segments) {
      if (!seg || seg.private !== false) continue; // never anything private
      const into = this._mergeTarget(seg, sealed);
      if (into) {
        into.seconds = Math.round((into.seconds + seg.seconds) * SCALE) / SCALE;
      } else {
        this.items.push({ ...seg, meta: { ...seg.meta } });
      }
    }
    if (this.items.length > this.max) this.items.splice(0, this.items.length - this.max);
  }

  _mergeTarget(seg, sealed) {
    for (let i = this.items.length - 1; i >= sealed; i--) {
      const item = this.items[i];
      if (!sameTarget(item, seg)) continue;
      const recent = !Number.isFinite(item.started_at) || !Number.isFinite(seg.started_at) ||
        seg.started_at - item.started_at <= MERGE_WINDOW_SECONDS;
      return recent && item.seconds + seg.seconds <= MAX_SEGMENT_SECONDS ? item : null;
    }
    return null;
  }

  /** The next batch to send (not removed until the host has answered). */
  peek() {
    return this.items.slice(0, this.batch);
  }

  /** Drop the first `n` segments (sent and acknowledged, or refused for good). */
  remove(n) {
    this.items.splice(0, n);
  }

  toJSON() {
    return this.items;
  }
}

// Segments waiting to be sent to the host, in order. Pure: tracker.js persists it in
// storage.session so a service-worker restart loses none, and sends it in small batches.
// The batch being sent is sealed under an id until the host answers; a batch whose answer never
// came is resent with the same id, and the host records it only once.
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
  constructor({
    items = [], sealed = null, max = MAX_OUTBOX_SEGMENTS, batch = MAX_BATCH_SEGMENTS,
    newId = () => globalThis.crypto.randomUUID(),
  } = {}) {
    this.items = Array.isArray(items) ? items.filter((s) => s && s.private === false) : [];
    const count = Number.isInteger(sealed?.count) ? Math.min(sealed.count, this.items.length) : 0;
    this.sealed = typeof sealed?.id === "string" && count > 0 ? { id: sealed.id, count } : null;
    this.max = max;
    this.batch = batch;
    this.newId = newId;
  }

  get size() {
    return this.items.length;
  }

  /**
   * Queue segments. One that continues a queued segment of the same page (same URL, kind, title
   * and metadata, started recently) is merged into it, so a long read is one segment, not forty.
   * Only the not-yet-sent part of the queue is merged into: `sealed` items are in flight.
   */
  add(segments) {
    const sealed = this.sealed?.count ?? 0;
    for (const seg of segments) {
      if (!seg || seg.private !== false) continue; // never anything private
      const into = this._mergeTarget(seg, sealed);
      if (into) {
        into.seconds = Math.round((into.seconds + seg.seconds) * SCALE) / SCALE;
      } else {
        this.items.push({ ...seg, meta: { ...seg.meta } });
      }
    }
    if (this.items.length > this.max) {
      // Over the cap: drop the oldest, but never the sealed batch (it may already be recorded).
      this.items.splice(sealed, Math.min(this.items.length - this.max, this.items.length - sealed));
    }
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

  /** The next batch to send, `{id, segments}`: sealed until `settle()` (the host answered). */
  peek() {
    if (!this.sealed) {
      const count = Math.min(this.batch, this.items.length);
      this.sealed = count > 0 ? { id: this.newId(), count } : null;
    }
    return { id: this.sealed?.id ?? null, segments: this.items.slice(0, this.sealed?.count ?? 0) };
  }

  /** The sealed batch is done with (recorded, or refused for good): drop it. */
  settle() {
    this.items.splice(0, this.sealed?.count ?? 0);
    this.sealed = null;
  }

  toJSON() {
    return this.items;
  }
}

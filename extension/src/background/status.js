// The host's account, queue, mode and today's count, cached for the UI and the toolbar. Kept
// fresh by host events (signed_in, signed_out, subscription, queue), `status` after (re)connecting,
// and the alarm tick.
import * as build from "./protocol.js";
import { STATUS_REFRESH_DEBOUNCE_MS } from "./settings.js";
import { realTimers } from "./timers.js";

export class StatusCache {
  constructor({ host, onChange = () => {}, timers = realTimers }) {
    this.host = host;
    this.onChange = onChange;
    this.timers = timers;
    this.account = null;
    this.queue = null;
    this.mode = null;
    this.flattrsToday = null;
    this.visitFlattrs = null;
    this.timer = null;
  }

  /** What ui:state reports; nothing while the host is not ready (it would be stale). */
  view() {
    if (!this.host.isReady()) {
      return { account: null, queue: null, mode: null, flattrsToday: null, visitFlattrs: null };
    }
    return {
      account: this.account,
      queue: this.queue,
      mode: this.mode,
      flattrsToday: this.flattrsToday,
      visitFlattrs: this.visitFlattrs,
    };
  }

  async refresh() {
    if (!this.host.isReady()) return false;
    try {
      this.set(await this.host.request(build.status()));
      return true;
    } catch {
      return false;
    }
  }

  refreshSoon() {
    if (this.timer !== null) return;
    this.timer = this.timers.setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, STATUS_REFRESH_DEBOUNCE_MS);
  }

  set(result) {
    if (!result || typeof result !== "object") return;
    if (result.account) this.account = result.account;
    if (result.queue) this.queue = result.queue;
    if (typeof result.mode === "string") this.mode = result.mode;
    if (Number.isInteger(result.flattrs_today)) this.flattrsToday = result.flattrs_today;
    if (typeof result.visit_flattrs === "boolean") this.visitFlattrs = result.visit_flattrs;
    this.onChange();
  }

  /** A host event: update what it tells at once, then re-read the rest. */
  event(name, data) {
    if (name === "signed_in" || name === "signed_out") {
      this.account = { ...data };
    } else if (name === "subscription" && typeof data.active === "boolean") {
      if (this.account) this.account = { ...this.account, subscription_active: data.active };
    } else if (name === "queue") {
      this.queue = { ...(this.queue ?? {}), ...data };
    } else {
      return;
    }
    this.onChange();
    this.refreshSoon();
  }
}

// Keeps the host's last status in storage.session for the popup's first paint
// (common/laststatus.js says what is kept and why). Written whenever the status or the host's
// state changes, at once rather than debounced: the worker may be stopped right after.
import { LAST_STATUS_KEY, lastStatusOf } from "../common/laststatus.js";

export class LastStatusKeeper {
  /** @param {object} o  storage: storage.session (get/set) */
  constructor({ storage }) {
    this.storage = storage;
    this.written = null; // JSON of the last value written: unchanged views write nothing
  }

  /** `view`: `{host: host.info(), ...status.view()}`. Resolves once written (or skipped). */
  async save(view) {
    const value = lastStatusOf(view);
    if (value === null) return false;
    const json = JSON.stringify(value);
    if (json === this.written) return false;
    this.written = json;
    try {
      await this.storage.set({ [LAST_STATUS_KEY]: value });
      return true;
    } catch (err) {
      this.written = null;
      console.warn("could not keep the last status:", err?.message ?? err);
      return false;
    }
  }
}

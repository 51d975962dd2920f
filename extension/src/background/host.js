// The one native-messaging port to flattr-host: `hello` first, numbered requests with timeouts,
// events, and a clear state when the host is missing, too old or has crashed. Browser APIs are
// injected (connectNative, timers, clock), so the tests drive it with a fake port.
//
// States: connecting → ready; missing (the browser cannot start the host, or the host refused
// this extension); outdated (`upgrade_required`); misconfigured (`settings_invalid`: the host's
// settings file needs fixing); crashed (the port dropped: reconnect with back-off). Chrome ≥ 105 keeps the service worker alive while this port is open.
import { INSTALL_COMMAND } from "../common/messages.js";
import * as S from "./settings.js";
import * as build from "./protocol.js";
import { realTimers } from "./timers.js";

export const STATES = Object.freeze({
  CONNECTING: "connecting",
  READY: "ready",
  MISSING: "missing",
  OUTDATED: "outdated",
  MISCONFIGURED: "misconfigured",
  CRASHED: "crashed",
});

// What Chromium and Firefox say when the host cannot be started at all (not a crash): no
// manifest, a manifest that does not allow this extension, a path that is not executable.
const MISSING_PATTERNS = [
  /not found/i, // Chromium: "Specified native messaging host not found."
  /no such native application/i, // Firefox
  /forbidden/i, // Chromium: "Access to the specified native messaging host is forbidden."
  /failed to start/i, // Chromium: "Failed to start native messaging host."
  /invalid native messaging host name/i,
];
// Host errors after which it exits on purpose: reconnecting at once would not help.
export const FATAL_HOST_CODES = new Set(["forbidden_caller", "frame_too_large"]);

// States the user fixes at the computer: the popup looks again whenever it opens.
const USER_FIXABLE = new Set([STATES.MISSING, STATES.OUTDATED, STATES.MISCONFIGURED]);

/** `{code, message}` of any error, for an answer to the popup, options page or flattr.com. */
export function errorOf(err) {
  if (err && typeof err.toJSON === "function") return err.toJSON();
  return { code: err?.code ?? "internal_error", message: String(err?.message ?? err) };
}

export class HostError extends Error {
  /**
   * `sent`: whether the request reached the port (its outcome is then unknown on failure, unless
   * `answered`: the host itself replied with this error).
   */
  constructor(code, message, { command = null, sent = false, answered = false } = {}) {
    super(message);
    this.code = code;
    this.command = command;
    this.sent = sent;
    this.answered = answered;
  }

  toJSON() {
    const out = { code: this.code, message: this.message };
    if (this.command) out.command = this.command;
    return out;
  }
}

export function isMissingMessage(message) {
  return MISSING_PATTERNS.some((re) => re.test(message || ""));
}

export class HostConnection {
  /**
   * @param {object} o
   * @param {(name: string) => object} o.connectNative  runtime.connectNative
   * @param {(port: object) => string} o.disconnectReason  the error text inside onDisconnect
   * @param {{id, version, browser}} o.extension  sent in `hello`
   * @param {(event: string, data: object) => void} [o.onEvent]  host events
   * @param {(host: object) => void} [o.onState]  state changes
   */
  constructor({
    connectNative,
    disconnectReason = () => "",
    extension,
    onEvent = () => {},
    onState = () => {},
    timers = realTimers,
    now = () => Date.now(),
    settings = {},
  }) {
    this.connectNative = connectNative;
    this.disconnectReason = disconnectReason;
    this.extension = extension;
    this.onEvent = onEvent;
    this.onState = onState;
    this.timers = timers;
    this.now = now;
    this.s = {
      helloTimeout: S.HELLO_TIMEOUT_MS,
      requestTimeout: S.REQUEST_TIMEOUT_MS,
      base: S.RECONNECT_BASE_MS,
      factor: S.RECONNECT_FACTOR,
      max: S.RECONNECT_MAX_MS,
      stable: S.STABLE_CONNECTION_MS,
      missingRetry: S.MISSING_RETRY_MS,
      outdatedRetry: S.OUTDATED_RETRY_MS,
      retryNowMin: S.RETRY_NOW_MIN_MS,
      ...settings,
    };
    this.state = STATES.CONNECTING;
    this.message = null;
    this.command = null;
    this.hostVersion = null;
    this.capabilities = [];
    this.port = null;
    this.nextId = 1;
    this.helloId = null;
    this.helloTimer = null;
    this.retryTimer = null;
    this.retryAt = null;
    this.attempts = 0;
    this.readyAt = null;
    this.fatal = null; // a host error frame that explains the exit that follows
    this.pending = new Map(); // id → entry (sent, waiting for the reply)
    this.waiting = []; // entries queued until `hello` is answered
    this.stopped = false;
    this.lastConnectAt = null;
    this.waiters = [];
  }

  /** What the UI shows: `{state, message?, command?, hostVersion?}`. */
  info() {
    const out = { state: this.state };
    if (this.message) out.message = this.message;
    if (this.command) out.command = this.command;
    if (this.hostVersion) out.hostVersion = this.hostVersion;
    return out;
  }

  isReady() {
    return this.state === STATES.READY;
  }

  start() {
    this.stopped = false;
    this._connect();
  }

  /**
   * Look again now for a host that was missing, outdated or misconfigured (the user may have
   * fixed it), at most
   * once per RETRY_NOW_MIN_MS: every popup refresh asks, and each attempt changes the state.
   * Returns whether it tried.
   */
  retryNow() {
    if (!USER_FIXABLE.has(this.state)) return false;
    if (this.lastConnectAt !== null && this.now() - this.lastConnectAt < this.s.retryNowMin) {
      return false;
    }
    this._connect();
    return true;
  }

  /** Resolves with info() once the state is no longer "connecting", or after `ms`. */
  settled(ms) {
    if (this.state !== STATES.CONNECTING) return Promise.resolve(this.info());
    return new Promise((resolve) => {
      const wake = () => {
        this.timers.clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== wake);
        resolve(this.info());
      };
      const timer = this.timers.setTimeout(wake, ms);
      this.waiters.push(wake);
    });
  }

  /** Reconnect if nothing is connected and no retry is scheduled (e.g. the worker restarted). */
  ensure() {
    if (this.stopped || this.port || this.retryTimer !== null) return;
    if (this.state === STATES.CONNECTING || this.state === STATES.READY) return;
    this._connect();
  }

  stop() {
    this.stopped = true;
    this._clearRetry();
    this._drop(new HostError("host_stopped", "the connection was closed"));
  }

  /**
   * Send a request (from protocol.js) and resolve with its `result`, or reject with a HostError:
   * the host's `{code, message, command?}`, or `timeout`, `host_missing`, `host_outdated`,
   * `host_crashed`, `host_disconnected`.
   */
  request(body, { timeoutMs } = {}) {
    if (this.state !== STATES.READY && this.state !== STATES.CONNECTING) {
      return Promise.reject(this._unavailable());
    }
    const id = this.nextId++;
    const message = { id, ...body };
    return new Promise((resolve, reject) => {
      const entry = { id, message, resolve, reject, sent: false, timer: null };
      entry.timer = this.timers.setTimeout(() => {
        this.pending.delete(id);
        this.waiting = this.waiting.filter((e) => e !== entry);
        reject(new HostError("timeout", `the host did not answer ${body.type} in time`, {
          sent: entry.sent,
        }));
      }, timeoutMs ?? this.s.requestTimeout);
      if (this.state === STATES.READY) this._post(entry);
      else this.waiting.push(entry);
    });
  }

  // --- connection -------------------------------------------------------------------------------

  _connect() {
    this.lastConnectAt = this.now();
    this._clearRetry();
    this._closePort();
    this.fatal = null;
    this._setState(STATES.CONNECTING, null, null);
    let port;
    try {
      port = this.connectNative(S.HOST_NAME);
    } catch (err) {
      this._down(String(err?.message ?? err));
      return;
    }
    this.port = port;
    port.onMessage.addListener((msg) => this._onMessage(port, msg));
    port.onDisconnect.addListener((p) => {
      if (port !== this.port) return;
      const reason = this.disconnectReason(p ?? port) || "";
      this.port = null;
      this._down(reason);
    });
    this.helloId = this.nextId++;
    try {
      port.postMessage({ id: this.helloId, ...build.hello(this.extension) });
    } catch (err) {
      // Firefox throws here when the port is already gone; onDisconnect tells why.
      return;
    }
    this.helloTimer = this.timers.setTimeout(() => {
      this.helloTimer = null;
      if (port !== this.port) return;
      this._closePort();
      this._down("the host did not answer hello in time");
    }, this.s.helloTimeout);
  }

  _onMessage(port, msg) {
    if (port !== this.port || !msg || typeof msg !== "object") return;
    if (msg.type === "event") {
      if (typeof msg.event === "string" && msg.data && typeof msg.data === "object") {
        this.onEvent(msg.event, msg.data);
      }
      return;
    }
    if (msg.id === this.helloId && this.helloId !== null) {
      this._onHello(msg);
      return;
    }
    if (msg.id === null && msg.ok === false) {
      // The host could not tell which request this answers (a frame it could not read, or a
      // caller it refuses): remember why, since it usually exits right after.
      this.fatal = msg.error ?? null;
      return;
    }
    const entry = this.pending.get(msg.id);
    if (!entry) return;
    this.pending.delete(msg.id);
    this.timers.clearTimeout(entry.timer);
    if (msg.ok === true) entry.resolve(msg.result ?? {});
    else {
      const e = msg.error ?? {};
      entry.reject(new HostError(String(e.code ?? "internal_error"), String(e.message ?? ""), {
        command: typeof e.command === "string" && e.command ? e.command : null,
        sent: true,
        answered: true,
      }));
    }
  }

  _onHello(msg) {
    this.helloId = null;
    this._clearHelloTimer();
    if (msg.ok === true) {
      const r = msg.result ?? {};
      this.hostVersion = typeof r.host_version === "string" ? r.host_version : null;
      this.capabilities = Array.isArray(r.capabilities) ? r.capabilities : [];
      this.readyAt = this.now();
      this._setState(STATES.READY, null, null);
      const waiting = this.waiting.splice(0);
      for (const entry of waiting) this._post(entry);
      return;
    }
    const e = msg.error ?? {};
    if (e.code === "upgrade_required") {
      this._closePort();
      this._setState(STATES.OUTDATED, String(e.message ?? "the host is too old"),
        typeof e.command === "string" && e.command ? e.command : null);
      this._rejectAll();
      this._scheduleRetry(this.s.outdatedRetry);
      return;
    }
    if (e.code === "settings_invalid") {
      // Reconnecting cannot help until the user edits the file: ask again now and then.
      this._closePort();
      this._setState(STATES.MISCONFIGURED, String(e.message ?? "the host's settings are invalid"),
        typeof e.command === "string" && e.command ? e.command : null);
      this._rejectAll();
      this._scheduleRetry(this.s.missingRetry);
      return;
    }
    this._closePort();
    this._down(`the host refused hello: ${e.message ?? e.code ?? "unknown error"}`);
  }

  _post(entry) {
    this.pending.set(entry.id, entry);
    try {
      this.port.postMessage(entry.message);
      entry.sent = true;
    } catch {
      // The port died under us; onDisconnect (or the timeout) settles the entry.
      this.pending.delete(entry.id);
      this.waiting.push(entry);
    }
  }

  /** The port is gone (or never opened): decide missing vs crashed and when to try again. */
  _down(reason) {
    this._clearHelloTimer();
    this.helloId = null;
    const fatal = this.fatal;
    this.fatal = null;
    if (this.stopped) return;
    if ((fatal && fatal.code === "forbidden_caller") || isMissingMessage(reason)) {
      const message = fatal?.message ? String(fatal.message)
        : `flattr-host is not installed for this browser (${reason || "not found"})`;
      this._setState(STATES.MISSING, message, INSTALL_COMMAND);
      this._rejectAll();
      this._scheduleRetry(this.s.missingRetry);
      return;
    }
    if (this.readyAt !== null && this.now() - this.readyAt >= this.s.stable) this.attempts = 0;
    this.readyAt = null;
    const delay = Math.min(this.s.max, this.s.base * this.s.factor ** this.attempts);
    this.attempts += 1;
    const why = fatal?.message ? `${fatal.code}: ${fatal.message}` : reason || "the host exited";
    this._setState(STATES.CRASHED, why, null);
    this._rejectAll();
    this._scheduleRetry(FATAL_HOST_CODES.has(fatal?.code) ? Math.max(delay, this.s.missingRetry)
      : delay);
  }

  _unavailable() {
    const code = `host_${this.state}`;
    return new HostError(code, this.message ?? `the host is ${this.state}`, {
      command: this.command,
    });
  }

  _rejectAll() {
    this._drop(this._unavailable(), true);
  }

  /** Settle every outstanding request: sent ones with `sent: true` (outcome unknown). */
  _drop(error, keepCode = false) {
    const pending = [...this.pending.values()];
    const waiting = this.waiting.splice(0);
    this.pending.clear();
    for (const entry of pending) {
      this.timers.clearTimeout(entry.timer);
      const code = keepCode ? "host_disconnected" : error.code;
      entry.reject(new HostError(code, error.message, { command: error.command, sent: true }));
    }
    for (const entry of waiting) {
      this.timers.clearTimeout(entry.timer);
      entry.reject(new HostError(error.code, error.message, { command: error.command }));
    }
    if (!keepCode) this._closePort();
  }

  _scheduleRetry(delay) {
    this._clearRetry();
    this.retryAt = this.now() + delay;
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.retryAt = null;
      if (!this.stopped) this._connect();
    }, delay);
  }

  _clearRetry() {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = null;
  }

  _clearHelloTimer() {
    if (this.helloTimer !== null) this.timers.clearTimeout(this.helloTimer);
    this.helloTimer = null;
  }

  _closePort() {
    const port = this.port;
    this.port = null;
    if (port) {
      try {
        port.disconnect();
      } catch {
        // already gone
      }
    }
  }

  _setState(state, message, command) {
    const changed = state !== this.state || message !== this.message || command !== this.command;
    this.state = state;
    this.message = message;
    this.command = command;
    if (state !== STATES.READY && state !== STATES.CONNECTING) this.hostVersion = null;
    if (changed) this.onState(this.info());
    if (state !== STATES.CONNECTING) for (const wake of this.waiters.splice(0)) wake();
  }
}

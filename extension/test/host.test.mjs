// The native-messaging port: hello first, queued requests, timeouts, reconnect back-off, and the
// missing/outdated/crashed states, against a fake port and fake timers.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INSTALL_COMMAND } from "../src/common/messages.js";
import { FATAL_HOST_CODES, HostConnection, isMissingMessage } from "../src/background/host.js";
import * as build from "../src/background/protocol.js";
import { SCHEMA, assertValidRequest, fakeEvent, fakeTimers, settle } from "./helpers.mjs";

class FakePort {
  constructor(name) {
    this.name = name;
    this.onMessage = fakeEvent();
    this.onDisconnect = fakeEvent();
    this.sent = [];
    this.closedByUs = false;
    this.error = null;
  }
  postMessage(msg) {
    if (this.closedByUs) throw new Error("Attempting to use a disconnected port object");
    this.sent.push(structuredClone(msg));
  }
  disconnect() {
    this.closedByUs = true; // like Chrome: our own disconnect() fires no onDisconnect here
  }
  /** The host answers. */
  reply(msg) {
    this.onMessage.fire(msg);
  }
  /** The browser drops the port with this reason. */
  drop(reason) {
    this.error = { message: reason };
    this.onDisconnect.fire(this);
  }
}

function setup(options = {}) {
  const timers = fakeTimers();
  const ports = [];
  const events = [];
  const states = [];
  const host = new HostConnection({
    connectNative: (name) => {
      const port = new FakePort(name);
      ports.push(port);
      return port;
    },
    disconnectReason: (port) => port.error?.message ?? "",
    extension: { id: "pceboilfpeijfppedbhfdflpddadaoml", version: "0.1.0", browser: "chromium" },
    onEvent: (name, data) => events.push([name, data]),
    onState: (info) => states.push(info),
    timers,
    now: () => timers.now,
    ...options,
  });
  host.start();
  const last = () => ports[ports.length - 1];
  const ready = () => {
    const hello = last().sent[0];
    last().reply({
      id: hello.id,
      ok: true,
      result: { protocol: 1, host_version: "0.1.0", capabilities: ["attention"], repairs: [] },
    });
  };
  return { host, timers, ports, events, states, last, ready };
}

describe("host connection", () => {
  it("sends hello first, valid against the schema, then the queued requests in order", async () => {
    const { host, last, ready } = setup();
    assert.equal(host.info().state, "connecting");
    assert.equal(last().name, "org.flattr_companion.host");
    const status = host.request(build.status());
    const sites = host.request(build.sites());
    const hello = last().sent[0];
    assert.equal(last().sent.length, 1, "nothing before hello is answered");
    assert.equal(hello.type, "hello");
    assert.equal(hello.protocol, 1);
    assert.deepEqual(hello.extension, {
      id: "pceboilfpeijfppedbhfdflpddadaoml",
      version: "0.1.0",
      browser: "chromium",
    });
    assertValidRequest(assert, hello);
    ready();
    assert.equal(host.info().state, "ready");
    assert.equal(host.info().hostVersion, "0.1.0");
    const [s1, s2] = last().sent.slice(1);
    assert.deepEqual([s1.type, s2.type], ["status", "sites"]);
    assert.notEqual(s1.id, s2.id);
    last().reply({ id: s2.id, ok: true, result: { mode: "all" } });
    last().reply({ id: s1.id, ok: true, result: { mode: "enabled" } });
    assert.deepEqual(await sites, { mode: "all" });
    assert.deepEqual(await status, { mode: "enabled" });
  });

  it("rejects a request the host does not answer in time, and keeps the error's command", async () => {
    const { host, timers, last, ready } = setup();
    ready();
    const late = host.request(build.status());
    timers.advance(15_000);
    await assert.rejects(late, (e) => e.code === "timeout" && e.sent === true);
    const failing = host.request(build.tick(true));
    const sent = last().sent.at(-1);
    last().reply({ id: sent.id, ok: false, error: { code: "signed_out", message: "no", command: "x" } });
    await assert.rejects(failing, (e) => e.code === "signed_out" && e.command === "x");
  });

  it("passes host events on and ignores replies to unknown ids", () => {
    const { events, last, ready } = setup();
    ready();
    last().reply({ type: "event", event: "queue", data: { pending: 2 } });
    last().reply({ id: 999, ok: true, result: {} });
    assert.deepEqual(events, [["queue", { pending: 2 }]]);
  });

  for (const reason of [
    "Specified native messaging host not found.",
    "No such native application org.flattr_companion.host",
    "Access to the specified native messaging host is forbidden.",
  ]) {
    it(`is missing when the browser says "${reason}", and looks again later`, async () => {
      const { host, timers, ports, last } = setup();
      const waiting = host.request(build.status());
      last().drop(reason);
      const info = host.info();
      assert.equal(info.state, "missing");
      assert.equal(info.command, INSTALL_COMMAND);
      await assert.rejects(waiting, (e) => e.code === "host_missing" && e.sent === false);
      await assert.rejects(host.request(build.status()), (e) => e.code === "host_missing");
      timers.advance(59_000);
      assert.equal(ports.length, 1);
      timers.advance(1_000);
      assert.equal(ports.length, 2, "retried after a minute");
      host.retryNow();
    });
  }

  it("retryNow looks for a missing host before the minute is up (the popup opened)", () => {
    const { host, timers, ports, last } = setup();
    last().drop("Specified native messaging host not found.");
    timers.advance(5_000);
    host.retryNow();
    assert.equal(ports.length, 2);
    assert.equal(host.info().state, "connecting");
  });

  it("is missing when the host refuses this extension (forbidden_caller) and exits", () => {
    const { host, last } = setup();
    last().reply({ id: null, ok: false, error: { code: "forbidden_caller", message: "not allowed: x" } });
    last().drop("Native host has exited.");
    assert.equal(host.info().state, "missing");
    assert.equal(host.info().message, "not allowed: x");
  });

  it("is outdated on upgrade_required, with the host's command, and does not hammer it", async () => {
    const { host, timers, ports, last } = setup();
    const waiting = host.request(build.status());
    const hello = last().sent[0];
    last().reply({
      id: hello.id,
      ok: false,
      error: {
        code: "upgrade_required",
        message: "upgrade the host",
        command: "pip install --upgrade flattr-companion && flattr-host install",
      },
    });
    assert.equal(host.info().state, "outdated");
    assert.equal(host.info().command, "pip install --upgrade flattr-companion && flattr-host install");
    assert.equal(last().closedByUs, true);
    await assert.rejects(waiting, (e) => e.code === "host_outdated");
    timers.advance(60_000);
    assert.equal(ports.length, 1);
    timers.advance(240_000);
    assert.equal(ports.length, 2);
  });

  it("is misconfigured on settings_invalid: the file's problem, the fix, asked again", async () => {
    const { host, timers, ports, last } = setup();
    const waiting = host.request(build.status());
    const message = "/home/u/.local/share/flattr-companion/settings.json is not usable: line 2, " +
      'column 3: unknown setting "batch_sise" (did you mean "batch_size"?)';
    const command = "mv /home/u/.local/share/flattr-companion/settings.json " +
      "/home/u/.local/share/flattr-companion/settings.json.broken";
    const hello = last().sent[0];
    last().reply({ id: hello.id, ok: false, error: { code: "settings_invalid", message, command } });
    assert.deepEqual(host.info(), { state: "misconfigured", message, command });
    assert.equal(last().closedByUs, true);
    await assert.rejects(waiting, (e) => e.code === "host_misconfigured" && e.command === command);
    timers.advance(5_000);
    assert.equal(host.retryNow(), true, "the popup looks again: the user may have fixed it");
    assert.equal(ports.length, 2);
    last().reply({ id: last().sent[0].id, ok: false, error: { code: "settings_invalid", message, command } });
    timers.advance(59_000);
    assert.equal(ports.length, 2, "no hammering");
    timers.advance(1_000);
    assert.equal(ports.length, 3);
  });

  it("reconnects with growing back-off after crashes, capped, reset by a stable connection", () => {
    const { host, timers, ports, last, ready } = setup();
    ready();
    last().drop("Native host has exited.");
    assert.equal(host.info().state, "crashed");
    const delays = [];
    for (let i = 0; i < 12; i++) {
      delays.push(timers.delays()[0]);
      timers.advance(timers.delays()[0]);
      last().drop("Native host has exited."); // dies before answering hello
    }
    assert.deepEqual(delays.slice(0, 6), [1000, 2000, 4000, 8000, 16000, 32000]);
    assert.equal(Math.max(...delays), 300_000);
    assert.equal(ports.length, 13);
    // A connection that stays up for a minute resets the back-off.
    timers.advance(timers.delays()[0]);
    ready();
    timers.advance(61_000);
    last().drop("Native host has exited.");
    assert.equal(timers.delays()[0], 1000);
  });

  it("rejects requests in flight when the port drops, marked as sent", async () => {
    const { host, last, ready } = setup();
    ready();
    const inFlight = host.request(build.attention([]));
    last().drop("Native host has exited.");
    await assert.rejects(inFlight, (e) => e.code === "host_disconnected" && e.sent === true);
    await assert.rejects(host.request(build.status()), (e) => e.code === "host_crashed" && !e.sent);
  });

  it("treats a hello that is never answered as a crash", async () => {
    const { host, timers, ports } = setup();
    timers.advance(10_000);
    assert.equal(host.info().state, "crashed");
    assert.equal(ports[0].closedByUs, true);
    timers.advance(1_000);
    assert.equal(ports.length, 2);
    await settle();
  });

  it("ensure() reconnects after a restart when nothing is scheduled", () => {
    const { host, timers, ports, last } = setup();
    last().drop("Native host has exited.");
    host.ensure();
    assert.equal(ports.length, 1, "a retry is already scheduled");
    timers.pending.clear();
    host.retryTimer = null;
    host.ensure();
    assert.equal(ports.length, 2);
  });

  it("recognises the browsers' 'not found' messages, not crashes", () => {
    assert.ok(isMissingMessage("Specified native messaging host not found."));
    assert.ok(isMissingMessage("Failed to start native messaging host."));
    assert.ok(!isMissingMessage("Native host has exited."));
    assert.ok(!isMissingMessage("Error when communicating with the native messaging host."));
  });
});

describe("looking again for a missing host", () => {
  it("retryNow tries at most once per 5 s, and settled() waits for the outcome", async () => {
    const { host, timers, ports, last } = setup();
    last().drop("Specified native messaging host not found.");
    assert.equal(host.retryNow(), false, "just tried");
    timers.advance(5_000);
    assert.equal(host.retryNow(), true);
    assert.equal(ports.length, 2);
    const outcome = host.settled(1_500);
    last().drop("Specified native messaging host not found.");
    assert.equal((await outcome).state, "missing");
    assert.equal(host.retryNow(), false);
    timers.advance(5_000);
    host.retryNow();
    const slow = host.settled(1_500);
    timers.advance(1_500);
    assert.equal((await slow).state, "connecting");
  });
});

describe("host error codes", () => {
  it("the codes after which the host exits are the schema's", () => {
    for (const code of FATAL_HOST_CODES) assert.ok(SCHEMA.$defs.ErrorBody.properties.code.enum.includes(code), code);
  });
});

// The last status kept for the popup's first paint: what is kept, what never is, when it is
// written (common/laststatus.js, background/laststatus.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { LastStatusKeeper } from "../src/background/laststatus.js";
import { LAST_STATUS_KEY, lastStatusOf, readLastStatus } from "../src/common/laststatus.js";
import { popupView } from "../src/popup/view.js";

const NOW = 1_732_550_000;
const TOKEN = "tok_SECRET_5f3a9c";
const READY = { state: "ready", hostVersion: "0.1.0" };
const ACCOUNT = { signed_in: true, username: "alice", subscription_active: true, signed_out_reason: null };
const QUEUE = {
  pending: 2, in_flight: 0, failed: 1, rejected: 0, delivered: 12, waiting_other_account: 0,
  next_retry_at: NOW + 240, hold: null, last_error: "HTTP 503", last_error_at: NOW - 60,
  last_delivery_at: NOW - 3600,
};
const VIEW = { host: READY, account: ACCOUNT, queue: QUEUE, mode: "all", flattrsToday: 4, visitFlattrs: true };

function fakeStorage({ fail = false } = {}) {
  const storage = {
    data: {},
    writes: 0,
    async set(items) {
      storage.writes++;
      if (fail) throw new Error("quota");
      Object.assign(storage.data, structuredClone(items));
    },
  };
  return storage;
}

test("only what the popup shows is kept: no mode, no page, nothing unknown (a token by mistake)", () => {
  const kept = lastStatusOf({
    ...VIEW,
    account: { ...ACCOUNT, token: TOKEN },
    queue: { ...QUEUE, token: TOKEN },
    host: { ...READY, token: TOKEN },
    page: { decision: { url: "https://example.com/private-reading" } },
    tab: { url: "https://example.com/private-reading", title: "Reading" },
    token: TOKEN,
  });
  assert.deepEqual(Object.keys(kept).sort(), ["account", "flattrsToday", "host", "queue"]);
  assert.deepEqual(kept.account, ACCOUNT);
  assert.equal(kept.queue.failed, 1);
  assert.equal(kept.queue.delivered, undefined, "not shown, not kept");
  assert.equal(kept.flattrsToday, 4);
  const json = JSON.stringify(kept);
  assert.ok(!json.includes(TOKEN));
  assert.ok(!json.includes("example.com"));
  assert.ok(!json.includes('"mode"'));
});

test("a connecting host or a status not read yet is not kept: the previous one stays", () => {
  assert.equal(lastStatusOf({ host: { state: "connecting" }, account: null }), null);
  assert.equal(lastStatusOf({ host: READY, account: null, queue: null }), null);
  assert.equal(lastStatusOf(null), null);
  assert.equal(lastStatusOf({ host: { state: 7 } }), null);
});

test("a host in trouble is kept as it is, without the status from before", () => {
  const missing = { state: "missing", message: "not installed", command: "pipx install flattr-companion" };
  const kept = lastStatusOf({ ...VIEW, host: missing });
  assert.deepEqual(kept, { host: missing, account: null, queue: null, flattrsToday: null });
});

test("what was stored is checked again when read", () => {
  assert.equal(readLastStatus({}), null);
  assert.equal(readLastStatus(null), null);
  assert.equal(readLastStatus({ [LAST_STATUS_KEY]: "junk" }), null);
  assert.deepEqual(readLastStatus({ [LAST_STATUS_KEY]: lastStatusOf(VIEW) }), lastStatusOf(VIEW));
});

test("the keeper writes changes at once, skips repeats and connecting, and retries after a failure", async () => {
  const storage = fakeStorage();
  const keeper = new LastStatusKeeper({ storage });
  assert.equal(await keeper.save({ host: { state: "connecting" }, account: null }), false);
  assert.equal(storage.writes, 0);
  assert.equal(await keeper.save(VIEW), true);
  assert.deepEqual(storage.data[LAST_STATUS_KEY], lastStatusOf(VIEW));
  assert.equal(await keeper.save({ ...VIEW, mode: "enabled" }), false, "nothing shown changed");
  const signedOut = { signed_in: false, username: null, subscription_active: null, signed_out_reason: "user" };
  assert.equal(await keeper.save({ ...VIEW, account: signedOut }), true);
  assert.equal(storage.data[LAST_STATUS_KEY].account.signed_in, false);
  // The worker restarts: connecting does not wipe what the popup will paint.
  assert.equal(await keeper.save({ host: { state: "connecting" }, account: null }), false);
  assert.equal(storage.data[LAST_STATUS_KEY].account.signed_in, false);
  assert.equal(storage.writes, 2);

  const broken = fakeStorage({ fail: true });
  const unlucky = new LastStatusKeeper({ storage: broken });
  assert.equal(await unlucky.save(VIEW), false);
  assert.equal(await unlucky.save(VIEW), false);
  assert.equal(broken.writes, 2, "a failed write is tried again");
});

test("the popup paints the stored status as it was, and this page as coming", () => {
  const stored = readLastStatus({ [LAST_STATUS_KEY]: lastStatusOf(VIEW) });
  const state = { ok: true, ...stored, tab: { url: "https://example.com/a", title: "A story" }, page: null };
  const view = popupView(state, { now: NOW, lastKnown: true });
  assert.equal(view.account.headline, "Signed in as alice");
  assert.equal(view.queue.failed, 1);
  assert.equal(view.summary.text, "!");
  assert.equal(view.page.kind, "updating");
  assert.equal(view.page.headline, "A story");
  // The live answer without a page status says so, as before.
  assert.equal(popupView(state, { now: NOW }).page.kind, "unavailable");
});

// Background entry point (Chromium: module service worker; Firefox: module event page). Every
// listener is registered synchronously at the top level, as MV3 requires for events that wake
// the worker; the modules it wires are browser-agnostic and unit-tested with fakes.
import { api, browserName } from "../common/api.js";
import { BG_CHANGED, FLATTR, FLATTR_PORT_NAME, PAGE } from "../common/messages.js";
import { toolbarState, Toolbar } from "./badge.js";
import { checkSender, FlattrSite } from "./handshake.js";
import { errorOf, HostConnection, STATES } from "./host.js";
import { Injector } from "./inject.js";
import { LastStatusKeeper } from "./laststatus.js";
import * as build from "./protocol.js";
import { BADGE_DEBOUNCE_MS, TICK_ALARM_NAME, TICK_PERIOD_MINUTES } from "./settings.js";
import { SignIn } from "./signin.js";
import { StatusCache } from "./status.js";
import { Tracker } from "./tracker.js";
import { UiApi } from "./ui.js";
import { isHttpUrl } from "./urls.js";

const manifest = api.runtime.getManifest();
const browser = browserName();
const extensionInfo = { id: api.runtime.id, version: manifest.version, browser };
const extensionOrigin = api.runtime.getURL("");

// --- pieces -------------------------------------------------------------------------------------

const host = new HostConnection({
  connectNative: (name) => api.runtime.connectNative(name),
  // Firefox puts the reason on port.error; Chromium on runtime.lastError inside the callback.
  disconnectReason: (port) => port?.error?.message ?? api.runtime.lastError?.message ?? "",
  extension: extensionInfo,
  onEvent: (name, data) => status.event(name, data),
  onState: (info) => {
    if (info.state === STATES.READY) {
      status.refresh();
      tracker.flush();
    }
    changed();
  },
});
const status = new StatusCache({ host, onChange: () => changed() });
const tracker = new Tracker({
  api,
  host,
  onResults: (results) => {
    if (results.some((r) => r.flattrs_queued > 0)) {
      status.refreshSoon();
      changed();
    }
  },
  onPageChanged: () => updateToolbarSoon(),
});
const signIn = new SignIn({ api });
const flattr = new FlattrSite({
  host,
  info: { id: extensionInfo.id, version: extensionInfo.version, build: `${browser}-${manifest.version}` },
  closeSignInTab: (tab) => signIn.close(tab),
});
const injector = new Injector({ api, onInjected: (tab) => tracker.askPage(tab.id, tab.url) });
const ui = new UiApi({ api, host, tracker, status, signIn, injector, changed: () => changed() });
const toolbar = new Toolbar({ api });
// What an opening popup paints before this worker has started and the host has answered.
const lastStatus = new LastStatusKeeper({ storage: api.storage.session });

// --- UI notifications and the toolbar -----------------------------------------------------------

let changedTimer = null;
function changed() {
  // At once, not debounced: the worker may be stopped before the timer fires.
  lastStatus.save({ host: host.info(), ...status.view() }).catch(() => {});
  if (changedTimer !== null) return;
  changedTimer = setTimeout(() => {
    changedTimer = null;
    // No popup or options page open: nobody listens, and that is fine.
    Promise.resolve(api.runtime.sendMessage({ kind: BG_CHANGED })).catch(() => {});
    updateToolbar();
  }, BADGE_DEBOUNCE_MS);
}

let toolbarTimer = null;
function updateToolbarSoon() {
  if (toolbarTimer !== null) return;
  toolbarTimer = setTimeout(() => {
    toolbarTimer = null;
    updateToolbar();
  }, BADGE_DEBOUNCE_MS);
}

async function updateToolbar() {
  const global = { host: host.info(), ...status.view() };
  await toolbar.show(toolbarState(global));
  await tracker.ready;
  const tabId = tracker.machine.focusedTabId();
  if (tabId === null) return;
  let decision = null;
  const page = tracker.machine.page(tabId);
  if (host.isReady() && page && isHttpUrl(page.url)) {
    const result = await host.request(build.pageStatus(page)).catch(() => null);
    decision = result?.decision ?? null;
  }
  await toolbar.show(toolbarState(global, decision), tabId);
}

// --- messages from the extension's pages and content scripts ------------------------------------

function fromExtensionPage(sender) {
  return typeof sender.url === "string" && sender.url.startsWith(extensionOrigin);
}

function route(msg, sender) {
  if (ui.handles(msg.kind)) {
    if (!fromExtensionPage(sender)) {
      return { ok: false, error: { code: "forbidden", message: "not from the extension" } };
    }
    return ui.handle(msg);
  }
  switch (msg.kind) {
    case FLATTR.HELLO:
      return flattr.hello(sender);
    case FLATTR.TOKEN:
      return flattr.token(msg.detail, sender);
    case FLATTR.SUBSCRIPTION:
      return flattr.subscription(msg.detail, sender);
    case PAGE.ACTIVITY:
    case PAGE.META:
      return tracker.contentMessage(msg, sender);
    default:
      return undefined;
  }
}

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!msg || typeof msg.kind !== "string" || !sender || sender.id !== api.runtime.id) return false;
  const reply = route(msg, sender);
  if (reply === undefined) return false;
  Promise.resolve(reply).then(sendResponse, (err) => sendResponse({ ok: false, error: errorOf(err) }));
  return true; // answered asynchronously (Chromium before 146 ignores a returned promise)
});

// The flattr.com content script keeps a port open only to learn when the extension goes away.
const flattrPorts = new Set();
api.runtime.onConnect.addListener((port) => {
  if (port.name !== FLATTR_PORT_NAME || !checkSender(port.sender, api.runtime.id).ok) {
    port.disconnect();
    return;
  }
  flattrPorts.add(port);
  port.onDisconnect.addListener(() => flattrPorts.delete(port));
});

// --- the tick: due retries and fresh state even when nothing else happens -----------------------

async function ensureAlarm() {
  const existing = await api.alarms.get(TICK_ALARM_NAME);
  if (!existing) await api.alarms.create(TICK_ALARM_NAME, { periodInMinutes: TICK_PERIOD_MINUTES });
}

api.alarms.onAlarm.addListener(async (alarm) => {
  if (alarm.name !== TICK_ALARM_NAME) return;
  host.ensure();
  await tracker.tick();
  if (host.isReady()) {
    await host.request(build.tick(false)).catch(() => null);
    await status.refresh();
  }
  updateToolbar();
});

api.runtime.onInstalled.addListener(() => ensureAlarm());
api.runtime.onStartup.addListener(() => ensureAlarm());

// --- start ---------------------------------------------------------------------------------------

tracker.start();
host.start();
// Tabs open before an install, update or re-enable: give them the content scripts.
injector.sweep().catch(() => {});
ensureAlarm().catch(() => {});
updateToolbar().catch(() => {});

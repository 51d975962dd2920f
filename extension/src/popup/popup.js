// The popup: asks the background for `ui:state`, renders popupView() with textContent only (page
// titles and URLs are hostile input), wires the buttons to the documented `ui:*` requests, and
// re-fetches when the background says `bg:changed`. Until the answer comes it shows the last
// status the background kept in storage.session (common/laststatus.js), marked "Updating…":
// from a stopped service worker the answer takes the worker's start and the host's.
import { api } from "../common/api.js";
import { LAST_STATUS_KEY, readLastStatus } from "../common/laststatus.js";
import { $, mountHostCard, renderHost, request, setLines, setText, show } from "../common/page.js";
import { errorText } from "../common/view.js";
import { FLATTR_HOME, flattrNowText, popupView } from "./view.js";

// Relative times ("in 4 min") are re-rendered this often while the popup stays open.
const RERENDER_MS = 15000;
// Several `bg:changed` in a row cause one re-fetch.
const REFETCH_DEBOUNCE_MS = 150;
// The last status stays on screen (marked) at most this long while the host is still connecting;
// then "Connecting…", the truth, replaces it.
const LAST_KNOWN_MAX_MS = 4000;

let tab = { id: undefined, incognito: false, url: "", title: "" };
let state = null;
// `state` is the stored last status, not yet the background's answer.
let lastKnown = false;
// Pending while the last status may still be held against a "connecting" answer.
let lastKnownTimer = null;
// A "connecting" answer held back while the last status is shown.
let pendingAnswer = null;
let refetchTimer = null;

const nowSeconds = () => Date.now() / 1000;

function notice(text) {
  $("notice").textContent = text || "";
}

function renderAccount(account, subscription) {
  show($("account"), Boolean(account));
  if (!account) return;
  $("account").dataset.tone = account.signedIn ? "ok" : "warn";
  $("account-title").textContent = account.headline;
  setLines("account-sentences", account.sentences);
  show($("sign-in-row"), account.signIn);
  show($("subscription"), Boolean(subscription));
  if (subscription) {
    $("subscription").dataset.tone = subscription.tone;
    $("subscription-text").textContent = subscription.text;
    show($("subscription-link"), Boolean(subscription.link));
    $("subscription-link").textContent = subscription.link?.text || "";
    $("subscription-link").href = subscription.link?.href || FLATTR_HOME;
  }
}

function renderPage(page) {
  show($("page"), Boolean(page));
  if (!page) return;
  $("page-title").textContent = page.headline;
  setLines("page-sentences", page.sentences);
  const progress = page.progress ?? null;
  show($("progress-block"), Boolean(progress));
  if (progress) {
    $("progress").value = progress.value;
    $("progress").setAttribute("aria-valuetext", `${progress.percent}%`);
    $("progress-label").textContent = progress.label;
    setText("progress-detail", progress.detail);
  }
  // With pages to list, the line is the summary of a list that opens; otherwise a plain line.
  const pages = page.todayPages ?? [];
  setText("page-today-line", pages.length > 0 ? "" : page.today);
  show($("page-today"), pages.length > 0);
  $("page-today-summary").textContent = page.today || "";
  const items = pages.map((p) => {
    const li = document.createElement("li");
    li.textContent = p.text;
    li.title = p.title;
    return li;
  });
  $("page-today-list").replaceChildren(...items);
  setText("page-creator", page.creator ?? "");
  const flattr = page.flattrNow ?? { visible: false };
  show($("flattr-now"), flattr.visible);
  $("flattr-now").disabled = !flattr.enabled;
  setText("flattr-hint", flattr.hint);
  const sw = page.siteSwitch ?? null;
  show($("site-switch-row"), Boolean(sw));
  if (sw) {
    $("site-switch").checked = sw.checked;
    $("site-switch").dataset.site = sw.site;
    $("site-switch").dataset.setting = sw.setting;
    $("site-switch-label").textContent = sw.label;
  }
}

function renderQueue(queue) {
  show($("queue"), Boolean(queue));
  if (!queue) return;
  $("queue").dataset.tone = queue.tone;
  $("queue-headline").textContent = queue.headline;
  setLines("queue-lines", queue.lines, "li");
  setText("queue-hold", queue.hold);
  setText("queue-error", queue.lastError);
  setText("queue-delivery", queue.lastDelivery);
  show($("retry"), queue.retry.visible);
  $("retry").disabled = !queue.retry.enabled;
  setText("retry-hint", queue.retry.visible ? queue.retry.hint : "");
}

function render() {
  if (state === null) return;
  const view = popupView(state, { now: nowSeconds(), incognito: tab.incognito, lastKnown });
  $("loading").textContent = "Updating…";
  $("loading").hidden = !lastKnown;
  // Something true is on screen either way; `data-status` tells the last one from the live one.
  $("main").setAttribute("aria-busy", "false");
  $("main").dataset.status = lastKnown ? "last-known" : "live";
  $("summary").textContent = view.summary.text;
  $("summary").dataset.tone = view.summary.tone;
  $("summary").title = view.summary.label;
  $("summary").setAttribute("aria-label", view.summary.label);
  renderHost(view.host);
  renderAccount(view.account, view.subscription);
  renderPage(view.page);
  renderQueue(view.queue);
}

async function refresh() {
  const answer = await request({ kind: "ui:state", tabId: tab.id });
  // The host still connecting says less than the last status: keep that for a moment (the
  // background sends `bg:changed` once the host is ready). Anything else replaces it at once.
  const held = lastKnown && lastKnownTimer !== null;
  if (held && answer?.ok && answer.host?.state === "connecting") {
    pendingAnswer = answer;
    return;
  }
  showLive(answer);
}

function showLive(answer) {
  clearTimeout(lastKnownTimer);
  lastKnownTimer = null;
  lastKnown = false;
  pendingAnswer = null;
  state = answer;
  render();
}

/** The stored last status, painted only while the background has not answered yet. */
function showLastKnown(stored) {
  const last = readLastStatus(stored);
  if (state !== null || last === null) return;
  state = { ok: true, ...last, tab: { url: tab.url, title: tab.title }, page: null };
  lastKnown = true;
  render();
  lastKnownTimer = setTimeout(() => {
    lastKnownTimer = null;
    if (lastKnown && pendingAnswer !== null) showLive(pendingAnswer);
  }, LAST_KNOWN_MAX_MS);
}

function scheduleRefresh() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(refresh, REFETCH_DEBOUNCE_MS);
}

/** Runs `action` with `button` disabled, so a double click sends one request. */
async function busy(button, action) {
  button.disabled = true;
  try {
    await action();
  } finally {
    button.disabled = false;
    await refresh();
  }
}

function wire() {
  $("sign-in").addEventListener("click", async () => {
    const answer = await request({ kind: "ui:sign-in" });
    if (answer.ok) window.close();
    else notice(errorText(answer.error));
  });
  $("subscription-link").addEventListener("click", async (event) => {
    event.preventDefault();
    await api.tabs.create({ url: FLATTR_HOME });
    window.close();
  });
  $("open-options").addEventListener("click", async (event) => {
    event.preventDefault();
    await api.runtime.openOptionsPage();
    window.close();
  });
  $("open-dashboard").addEventListener("click", async () => {
    notice("Opening the dashboard…"); // the host answers once the window is on screen
    const answer = await request({ kind: "ui:open-dashboard" });
    if (answer.ok) window.close();
    else notice(errorText(answer.error));
  });
  $("flattr-now").addEventListener("click", () =>
    busy($("flattr-now"), async () => {
      notice("Flattring…");
      notice(flattrNowText(await request({ kind: "ui:flattr-now", tabId: tab.id })));
    }),
  );
  $("site-switch").addEventListener("change", async () => {
    const input = $("site-switch");
    const { site, setting } = input.dataset;
    input.disabled = true;
    const answer = await request({ kind: "ui:set-site", site, setting });
    input.disabled = false;
    notice(answer.ok ? (setting === "enabled" ? `${site} counts now.` : `${site} is off.`)
      : errorText(answer.error));
    await refresh();
  });
  $("retry").addEventListener("click", () =>
    busy($("retry"), async () => {
      notice("Retrying now…");
      const answer = await request({ kind: "ui:flush" });
      const started = "Retry started; this popup updates when it is done.";
      notice(answer.ok ? started : errorText(answer.error));
    }),
  );
  api.runtime.onMessage.addListener((message) => {
    if (message?.kind === "bg:changed") scheduleRefresh();
    // No return value: this page answers nothing.
  });
}

/** The tab the popup describes; none when the popup opened as a page of its own. */
async function activeTab() {
  try {
    const [active] = await api.tabs.query({ active: true, currentWindow: true });
    if (active) {
      return {
        id: active.id,
        incognito: active.incognito === true,
        url: active.url ?? "",
        title: active.title ?? "",
      };
    }
  } catch {
    // No tab (e.g. the popup opened as a page): the state has no page.
  }
  return tab;
}

async function start() {
  // Both asked first, at once: storage.session and tabs answer without the service worker, and
  // about together (measured: within a few ms, in either order).
  const stored = Promise.resolve(api.storage?.session?.get(LAST_STATUS_KEY)).catch(() => null);
  const active = activeTab();
  mountHostCard(notice);
  tab = await active;
  // Painted before wiring the buttons and asking the background: waking the worker competes with
  // this page for the processor.
  showLastKnown(await stored);
  wire();
  await refresh();
  setInterval(render, RERENDER_MS);
}

start();

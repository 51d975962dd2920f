// The options page: renders the views of options/view.js with textContent only (site names, titles
// and URLs are hostile input), wires the controls to the documented `ui:*` requests and re-fetches
// on `bg:changed`.
import { api } from "../common/api.js";
import { $, mountHostCard, renderHost, request, setText, show } from "../common/page.js";
import { errorText, hostView } from "../common/view.js";
import {
  SIGN_OUT_CONFIRM,
  accountSection,
  builtinView,
  exportFile,
  historyView,
  modeView,
  parseSiteInput,
  siteRows,
} from "./view.js";

// Several `bg:changed` in a row cause one re-fetch.
const REFETCH_DEBOUNCE_MS = 300;

const nowSeconds = () => Date.now() / 1000;

let history = { items: [], nextBefore: null, pages: 0 };
let exportUrl = null;
let builtinSignature = null;
let refetchTimer = null;

/** Re-renders with `render()` and puts the focus back on the control with the same focus key. */
function keepFocus(render) {
  const key = document.activeElement?.dataset?.focusKey;
  render();
  if (!key) return;
  const again = [...document.querySelectorAll("[data-focus-key]")].find(
    (node) => node.dataset.focusKey === key,
  );
  if (again && !again.disabled) again.focus();
  else $("notice").focus();
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function notice(text) {
  $("notice").textContent = text || "";
}

// ---- host and account -----------------------------------------------------------------------

function renderAccount(section) {
  $("account-text").textContent = section.text;
  show($("sign-in"), section.canSignIn);
  show($("sign-out"), section.canSignOut);
}

async function loadState() {
  const answer = await request({ kind: "ui:state" });
  if (!answer.ok) {
    renderHost({
      tone: "error",
      headline: "Flattr Companion is not answering",
      sentences: [errorText(answer.error), "Reload this page to try again."],
      command: null,
      detail: "",
    });
    return false;
  }
  const host = hostView(answer.host);
  renderHost(host);
  renderAccount(accountSection(answer.account));
  $("visit-flattrs").checked = answer.visitFlattrs !== false;
  for (const id of ["account", "mode-section", "badge-section", "visits-section", "sites-section", "builtin-section",
    "history-section", "data-section"]) {
    show($(id), host === null);
  }
  return host === null;
}

// ---- mode and sites -------------------------------------------------------------------------

function renderMode(mode) {
  const view = modeView(mode);
  const existing = $("mode-options").querySelectorAll("input[name=mode]");
  if (existing.length === view.length) {
    // Only update: rebuilding would take the focus from a keyboard user moving through the radios.
    view.forEach((m, i) => {
      existing[i].checked = m.checked;
    });
    return;
  }
  const options = view.map((m) => {
    const id = `mode-${m.value}`;
    const row = el("div", "", "radio-row");
    const input = el("input");
    Object.assign(input, { type: "radio", name: "mode", id, value: m.value, checked: m.checked });
    input.setAttribute("aria-describedby", `${id}-description`);
    input.addEventListener("change", () => setMode(m.value));
    const label = el("label", m.label);
    label.htmlFor = id;
    const description = el("p", m.description, "muted small");
    description.id = `${id}-description`;
    row.append(input, label, description);
    return row;
  });
  $("mode-options").replaceChildren(...options);
}

function actionButton(text, site, setting, enabled) {
  const button = el("button", text);
  button.type = "button";
  button.disabled = !enabled;
  button.setAttribute("aria-label", `${text} ${site}`);
  button.dataset.focusKey = `${setting}:${site}`;
  button.addEventListener("click", () => setSite(site, setting, button));
  return button;
}

function renderSites(answer) {
  const rows = siteRows(answer.sites, answer.mode).map((row) => {
    const tr = el("tr");
    const site = el("th", row.site);
    site.scope = "row";
    const state = el("td", row.state);
    const counts = el("td", row.counts);
    const actions = el("td", "", "row-actions");
    actions.append(
      actionButton("Enable", row.key, "enabled", row.actions.enable),
      actionButton("Turn off", row.key, "disabled", row.actions.disable),
      actionButton("Reset", row.key, "default", row.actions.reset),
    );
    tr.dataset.setting = row.setting;
    tr.append(site, state, counts, actions);
    return tr;
  });
  $("sites-body").replaceChildren(...rows);
  show($("sites-table"), rows.length > 0);
  show($("sites-empty"), rows.length === 0);
}

function renderBuiltin(builtin) {
  // The list rarely changes: rebuilding would close the categories the user opened.
  const signature = JSON.stringify(builtin ?? null);
  if (signature === builtinSignature) return;
  builtinSignature = signature;
  const groups = builtinView(builtin).map((group) => {
    const details = el("details", "", "builtin");
    details.append(el("summary", group.summary));
    const list = el("ul", "", "builtin-entries");
    list.append(...group.entries.map((entry) => el("li", entry)));
    details.append(list);
    return details;
  });
  $("builtin-list").replaceChildren(...groups);
}

async function loadSites() {
  const answer = await request({ kind: "ui:sites" });
  if (!answer.ok) {
    notice(errorText(answer.error));
    return;
  }
  renderMode(answer.mode);
  keepFocus(() => renderSites(answer));
  renderBuiltin(answer.builtin);
}

async function setMode(mode) {
  $("mode-fieldset").disabled = true;
  const answer = await request({ kind: "ui:set-mode", mode });
  $("mode-fieldset").disabled = false;
  notice(answer.ok ? "Saved." : errorText(answer.error));
  await loadSites();
}

async function setVisitFlattrs(enabled) {
  $("visit-flattrs").disabled = true;
  const answer = await request({ kind: "ui:set-visit-flattrs", enabled });
  $("visit-flattrs").disabled = false;
  const done = enabled ? "Daily visit flattrs are on." : "Daily visit flattrs are off; visits deleted.";
  notice(answer.ok ? done : errorText(answer.error));
  await loadState();
}

async function setSite(site, setting, button) {
  if (button) button.disabled = true;
  const answer = await request({ kind: "ui:set-site", site, setting });
  const done = { enabled: "counts now", disabled: "is off now", default: "is back to the default" };
  notice(answer.ok ? `${answer.site ?? site} ${done[setting]}.` : errorText(answer.error));
  await loadSites();
  return answer.ok;
}

async function addSite(setting) {
  const parsed = parseSiteInput($("add-site-input").value);
  $("add-site-error").textContent = parsed.error || "";
  $("add-site-input").setAttribute("aria-invalid", parsed.error ? "true" : "false");
  if (parsed.error) {
    $("add-site-input").focus();
    return;
  }
  if (await setSite(parsed.site, setting)) $("add-site-input").value = "";
}

// ---- history --------------------------------------------------------------------------------

function renderHistory() {
  const view = historyView(history.items, history.nextBefore, nowSeconds());
  const items = view.rows.map((row) => {
    const li = el("li", "", "history-item");
    li.dataset.tone = row.tone;
    const title = el("p", "", "history-title");
    if (row.href) {
      const link = el("a", row.title);
      link.href = row.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      title.append(link);
    } else {
      title.textContent = row.title;
    }
    const meta = el("p", "", "muted small");
    const time = el("time", row.when);
    if (row.datetime) {
      time.dateTime = row.datetime;
      time.title = new Date(row.datetime).toLocaleString();
    }
    meta.append(time, ` · ${row.site} · ${row.reason} · `, el("span", row.state, "state"));
    li.append(title, meta);
    if (row.target) li.append(el("p", row.target, "muted small"));
    if (row.error) li.append(el("p", row.error, "error-text small"));
    return li;
  });
  $("history-list").replaceChildren(...items);
  setText("history-empty", view.empty);
  show($("history-more"), view.more);
}

async function loadHistory(more = false) {
  const message = { kind: "ui:history" };
  if (more && history.nextBefore !== null) message.before = history.nextBefore;
  const answer = await request(message);
  if (!answer.ok) {
    notice(errorText(answer.error));
    return;
  }
  const items = Array.isArray(answer.items) ? answer.items : [];
  const nextBefore = answer.next_before ?? null;
  history = more
    ? { items: history.items.concat(items), nextBefore, pages: history.pages + 1 }
    : { items, nextBefore, pages: 1 };
  renderHistory();
}

// ---- export and sign-out --------------------------------------------------------------------

async function exportData() {
  $("export").disabled = true;
  notice("Preparing your data…");
  const answer = await request({ kind: "ui:export" });
  $("export").disabled = false;
  if (!answer.ok) {
    notice(errorText(answer.error));
    return;
  }
  const file = exportFile(answer.data, nowSeconds());
  if (exportUrl) URL.revokeObjectURL(exportUrl);
  exportUrl = URL.createObjectURL(new Blob([file.text], { type: file.type }));
  const link = $("export-link");
  link.href = exportUrl;
  link.download = file.filename;
  link.textContent = `Download ${file.filename}`;
  link.hidden = false;
  link.click();
  notice("Your data is ready; if the download did not start, use the link.");
}

function askSignOut() {
  $("sign-out-text").textContent = SIGN_OUT_CONFIRM;
  $("sign-out-dialog").showModal();
}

async function signOut() {
  $("sign-out-dialog").close();
  const answer = await request({ kind: "ui:sign-out" });
  notice(answer.ok ? "Signed out." : errorText(answer.error));
  await loadState();
}

// ---- wiring ---------------------------------------------------------------------------------

async function refresh() {
  const ready = await loadState();
  if (!ready) return;
  await loadSites();
  // Keep older pages the user opened; otherwise show the newest entries.
  if (history.pages <= 1) await loadHistory();
}

function scheduleRefresh() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(refresh, REFETCH_DEBOUNCE_MS);
}

function wire() {
  mountHostCard(notice);
  $("sign-in").addEventListener("click", async () => {
    const answer = await request({ kind: "ui:sign-in" });
    if (!answer.ok) notice(errorText(answer.error));
  });
  $("sign-out").addEventListener("click", askSignOut);
  $("open-dashboard").addEventListener("click", async () => {
    notice("Opening the dashboard…"); // the host answers once the window is on screen
    const answer = await request({ kind: "ui:open-dashboard" });
    notice(answer.ok ? "The dashboard is open." : errorText(answer.error));
  });
  $("sign-out-cancel").addEventListener("click", () => $("sign-out-dialog").close());
  $("sign-out-confirm").addEventListener("click", signOut);
  $("add-site").addEventListener("submit", (event) => {
    event.preventDefault();
    addSite("enabled");
  });
  $("add-site-disable").addEventListener("click", () => addSite("disabled"));
  $("visit-flattrs").addEventListener("change", (e) => setVisitFlattrs(e.target.checked));
  $("history-more").addEventListener("click", () => loadHistory(true));
  $("export").addEventListener("click", exportData);
  api.runtime.onMessage.addListener((message) => {
    if (message?.kind === "bg:changed") scheduleRefresh();
    // No return value: this page answers nothing.
  });
}

async function start() {
  wire();
  await refresh();
  $("main").setAttribute("aria-busy", "false");
}

start();

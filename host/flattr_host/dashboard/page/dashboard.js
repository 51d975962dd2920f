// The dashboard page: asks Python (window.pywebview.api, see dashboard/jsapi.py) for figures and
// draws them. Text from the database (titles, URLs, errors) only ever goes in as textContent.
"use strict";

const PAGES = ["account", "queue", "history", "creators", "settings"];
// Pages that redraw themselves while shown (the settings page never does: it holds inputs).
const REFRESH_MS = 4000;
// How long a notice ("Mode changed.") stays on screen.
const NOTICE_MS = 8000;
const MODES = {
  all: "Every site counts, except those you switch off and the built-in never-count list",
  enabled: "Only the sites you switch on count",
  metadata: "Only pages that name their creator (Flattr metadata) count",
};
const GROUPS = {
  pending: "Pending",
  in_flight: "Being sent",
  held: "Held",
  failed: "Failed (retried every 6 hours, or now with Retry now)",
  rejected: "Rejected by Flattr (never resent)",
};

const api = () => window.pywebview.api;
let current = null;
let focusCount = 0;
let refreshTimer = null;
let pendingConfirm = null;

// --- small DOM helpers ---------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "onclick") node.addEventListener("click", value);
    else if (name === "onchange") node.addEventListener("change", value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const card = (title, ...children) => el("section", { class: "card" }, el("h2", { text: title }), ...children);
const when = (ts) => (ts ? new Date(ts * 1000).toLocaleString() : "–");
const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

let noticeTimer = null;

function notice(text) {
  const node = document.getElementById("notice");
  node.textContent = text || "";
  node.hidden = !text;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { node.hidden = true; }, NOTICE_MS);
}

function link(href, text) {
  // Only web addresses (an answer from the network never becomes a javascript: link).
  if (!/^https?:\/\//i.test(String(href))) return el("span", { text });
  // target=_blank: pywebview opens it in the system browser, never inside this window.
  return el("a", { href, target: "_blank", rel: "noopener noreferrer", text });
}

function ask(text) {
  return new Promise((resolve) => {
    document.getElementById("confirm-text").textContent = text;
    document.getElementById("confirm").hidden = false;
    pendingConfirm = resolve;
  });
}

function answerConfirm(yes) {
  document.getElementById("confirm").hidden = true;
  const resolve = pendingConfirm;
  pendingConfirm = null;
  if (resolve) resolve(yes);
}

async function act(button, call, done) {
  if (button) button.disabled = true;
  let refused = false;
  try {
    const answer = await call();
    refused = Boolean(answer && answer.ok === false);
    if (refused) notice(answer.error);
    else if (done) notice(done(answer));
  } finally {
    if (button) button.disabled = false;
    if (!refused) await show(current); // a refused value stays where it was typed, to be fixed
  }
}

// --- pages ---------------------------------------------------------------------------------

async function accountPage() {
  const [o, jobs] = await Promise.all([api().overview(), api().jobs()]);
  const a = o.account;
  const who = a.signed_in
    ? (a.username ? `Signed in as ${a.username}` : "Signed in (account not yet verified)")
    : a.signed_out_reason === "token_rejected"
      ? "Signed out: Flattr rejected the token. Sign in again."
      : "Signed out";
  const signIn = el("button", {
    class: a.signed_in ? "" : "primary", id: "sign-in", text: a.signed_in ? "Sign in as someone else" : "Sign in",
    onclick: (e) => act(e.target, () => api().sign_in(), () => "Your browser opened Flattr: allow access there."),
  });
  const signOut = a.signed_in && el("button", {
    id: "sign-out", text: "Sign out",
    onclick: async (e) => {
      if (await ask("Sign out? Queued flattrs wait until this account signs in again.")) {
        await act(e.target, () => api().sign_out(), () => "Signed out.");
      }
    },
  });
  const login = jobs.sign_in;
  const loginLine = login.status === "running" ? "Waiting for you to allow access in your browser…"
    : login.status === "error" ? login.error : login.status === "done" ? login.message : null;
  const sub = a.subscription_active;
  const subscription = el("p", { id: "subscription", class: sub === false ? "tone-bad" : sub ? "tone-ok" : "muted" },
    sub === true ? "Subscription active" : sub === false ? "Subscription not active: flattrs are recorded but not paid out. " : "Subscription state not known yet",
    sub === false ? link(o.subscription_url, "Fix it at flattr.com") : null);
  const q = o.queue;
  return [
    el("h1", { text: "Account" }),
    card(who, subscription, el("div", { class: "row" }, signIn, signOut),
      loginLine && el("p", { id: "sign-in-state", class: "muted", text: loginLine })),
    card("Today",
      el("div", { class: "row" },
        stat("flattrs-today", o.flattrs_today, "flattrs today"),
        stat("pending", q.pending, "pending"),
        stat("failed", q.failed, "failed"),
        stat("delivered", q.delivered, "delivered in all")),
      o.hold_words && el("p", { class: "tone-warn", id: "hold", text: o.hold_words }),
      q.last_delivery_at && el("p", { class: "muted", text: `Last delivery ${when(q.last_delivery_at)}` })),
    card("Where your data lives", dataPaths(o)),
  ];
}

function stat(id, value, label) {
  return el("div", { class: "stat" }, el("div", { class: "big", id: `stat-${id}`, "data-value": value, text: value }),
    el("div", { class: "muted small", text: label }));
}

function dataPaths(o) {
  return el("table", {},
    el("tr", {}, el("th", { text: "Database" }), el("td", {}, el("code", { text: o.database }))),
    el("tr", {}, el("th", { text: "Settings" }), el("td", {}, el("code", { text: o.settings_file }))),
    el("tr", {}, el("th", { text: "Logs" }), el("td", {}, el("code", { text: o.logs }))));
}

async function queuePage() {
  const [o, q, jobs] = await Promise.all([api().overview(), api().queue(), api().jobs()]);
  const counts = q.counts;
  const retry = jobs.retry;
  const retryButton = el("button", {
    id: "retry", class: "primary", text: "Retry now", disabled: retry.status === "running" || !o.account.signed_in,
    onclick: (e) => act(e.target, () => api().retry(), () => "Sending…"),
  });
  const waiting = o.queue.waiting_other_account;
  const adopt = waiting > 0 && o.account.signed_in && el("button", {
    id: "adopt", text: `Move ${plural(waiting, "flattr")} to ${o.account.username || "the signed-in account"}`,
    onclick: (e) => act(e.target, () => api().adopt(), (r) => `Moved ${plural(r.moved, "flattr")}${r.left ? `; ${r.left} stay (see flattr-host queue --adopt --dry-run)` : ""}.`),
  });
  const retryLine = retry.status === "running" ? "Sending…" : retry.status === "done" ? retry.message
    : retry.status === "error" ? retry.error : null;
  const sections = Object.entries(GROUPS).map(([group, title]) => queueGroup(group, title, q.groups[group], counts[group]));
  return [
    el("h1", { text: "Queue" }),
    card("At a glance",
      el("div", { class: "row" }, ...Object.keys(GROUPS).map((g) => stat(g, counts[g], GROUPS[g].split(" (")[0].toLowerCase()))),
      o.hold_words && el("p", { class: "tone-warn", id: "hold", text: o.hold_words }),
      o.queue.last_error && el("p", { class: "tone-bad", text: `Last error: ${o.queue.last_error}` }),
      o.queue.next_retry_at && el("p", { class: "muted", text: `Next attempt ${when(o.queue.next_retry_at)}` }),
      el("div", { class: "row" }, retryButton, adopt),
      retryLine && el("p", { id: "retry-state", class: "muted", text: retryLine })),
    ...sections,
  ];
}

function queueGroup(group, title, items, count) {
  if (!count) return null;
  const ids = items.map((i) => i.id);
  const discardable = group !== "in_flight";
  const discardAll = discardable && el("button", {
    class: "danger", "data-discard-group": group, text: `Discard all ${count}`,
    onclick: async (e) => {
      if (await ask(`Discard ${plural(ids.length, "flattr")} (${title.split(" (")[0].toLowerCase()})? They will never be sent.`)) {
        await act(e.target, () => api().discard(ids), (r) => `Discarded ${plural(r.discarded, "flattr")}.`);
      }
    },
  });
  const rows = items.map((item) => el("tr", { "data-id": item.id, "data-group": group },
    el("td", { class: "small", text: when(item.created_at) }),
    el("td", { class: "url" }, el("div", { text: item.title || item.url }), item.title && el("div", { class: "muted small", text: item.url })),
    el("td", { text: item.reason }),
    el("td", { class: "small", text: item.held || item.error || "" }),
    el("td", {}, discardable && el("button", {
      class: "danger", "data-discard": item.id, text: "Discard",
      onclick: async (e) => {
        if (await ask(`Discard the flattr of ${item.url}? It will never be sent.`)) {
          await act(e.target, () => api().discard([item.id]), () => "Discarded.");
        }
      },
    }))));
  return el("section", { class: "card", id: `group-${group}`, "data-count": count },
    el("div", { class: "row" }, el("h2", { text: `${title}: ${count}` }), discardAll),
    el("table", {}, el("tr", {}, el("th", { text: "Made" }), el("th", { text: "Page" }), el("th", { text: "Why" }),
      el("th", { text: "State" }), el("th")), rows),
    items.length < count && el("p", { class: "muted small", text: `Showing the first ${items.length}.` }));
}

async function historyPage() {
  const [h, c] = await Promise.all([api().history(), api().compare()]);
  const perDay = h.per_day.map((p) => ({ key: p.day, label: p.day.slice(5), values: { flattrs: p.count } }));
  const total = h.per_day.reduce((sum, p) => sum + p.count, 0);
  const unknown = h.top_creators.unknown;
  return [
    el("h1", { text: "History" }),
    card(`Flattrs per day, last 30 days: ${total}`,
      Charts.columns({ id: "chart-per-day", label: "Flattrs per day", points: perDay, series: ["flattrs"] })),
    el("div", { class: "grid" },
      card("Top sites this month", h.top_sites.length
        ? Charts.ranking({ id: "chart-top-sites", label: "Top sites", unit: "flattrs", rows: h.top_sites.map((s) => ({ key: s.site, label: s.site, value: s.count })) })
        : el("p", { class: "muted", text: "No flattrs this month yet." })),
      card("Top creators this month", h.top_creators.creators.length
        ? Charts.ranking({ id: "chart-top-creators", label: "Top creators", unit: "flattrs", rows: h.top_creators.creators.map((s) => ({ key: s.creator, label: s.creator, value: s.count })) })
        : el("p", { class: "muted", text: "No creator known yet (see Creators)." }),
        unknown > 0 && el("p", { class: "muted small", id: "creators-unknown", "data-value": unknown, text: `${plural(unknown, "flattr")} of pages whose creator is not known (yet).` }))),
    card("Today's attention", attentionTable(h.attention_today)),
    compareCard(c),
  ];
}

function attentionTable(pages) {
  if (!pages.length) return el("p", { class: "muted", text: "No attention recorded today." });
  return el("table", { id: "attention-today" },
    el("tr", {}, el("th", { text: "Page" }), el("th", { class: "num", text: "Time" }), el("th", { class: "num", text: "Flattrs" }), el("th", { text: "To the next flattr" })),
    pages.map((p) => el("tr", { "data-url": p.url, "data-seconds": p.seconds, "data-flattrs": p.flattrs },
      el("td", { class: "url" }, el("div", { text: p.title || p.url }), el("div", { class: "muted small", text: p.site })),
      el("td", { class: "num", text: minutes(p.seconds) }),
      el("td", { class: "num", text: p.flattrs }),
      el("td", {}, Charts.progress({ value: p.progress, key: p.url, label: `progress to the next flattr of ${p.url}` }),
        el("span", { class: "muted small", text: p.next_threshold ? ` ${minutes(p.next_threshold - p.seconds)} to go` : " no more today" })))));
}

function minutes(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function compareCard(c) {
  const state = c.state;
  const check = el("button", {
    id: "check-flattr", text: state.status === "done" ? "Check again" : "Check with Flattr", disabled: state.status === "running",
    onclick: (e) => act(e.target, () => api().check_flattr(), () => "Asking Flattr…"),
  });
  const parts = [el("p", { class: "muted", text: "What the host delivered each day next to what Flattr lists as your flattrs (GET /user/flattrs). A gap means flattrs sent that Flattr does not show." }),
    el("div", { class: "row" }, check, state.status === "running" && el("span", { class: "muted", text: "Asking Flattr…" }),
      state.status === "error" && el("span", { class: "tone-bad", id: "compare-error", text: state.error }),
      state.checked_at && el("span", { class: "muted small", text: `Checked ${when(state.checked_at)}${state.username ? ` for ${state.username}` : ""}` }))];
  if (c.rows) {
    const points = c.rows.map((r) => ({ key: r.day, label: r.day.slice(5), values: { sent: r.sent, recorded: r.recorded } }));
    const gaps = c.rows.filter((r) => r.gap !== 0);
    const missing = c.rows.reduce((sum, r) => sum + Math.max(0, r.gap), 0);
    parts.push(el("p", { class: "legend" }, el("span", {}, el("i", { class: "sent" }), "sent by the host"), el("span", {}, el("i", { class: "recorded" }), "recorded by Flattr")),
      Charts.columns({ id: "chart-compare", label: "Sent and recorded per day", points, series: ["sent", "recorded"] }),
      gaps.length
        ? el("p", { class: "gap", id: "compare-gap", "data-missing": missing, text: `${plural(missing, "flattr")} sent that Flattr does not list: ${gaps.map((g) => `${g.day} (${g.sent} sent, ${g.recorded} recorded)`).join(", ")}` })
        : el("p", { class: "tone-ok", id: "compare-gap", "data-missing": 0, text: "No gap: Flattr lists every flattr the host delivered." }));
  }
  return el("section", { class: "card", id: "compare" }, el("h2", { text: "Sent and recorded" }), ...parts);
}

async function creatorsPage() {
  const c = await api().creators();
  const l = c.lookups;
  const status = l.status === "running" ? `Asking Flattr… ${l.done} of ${l.total}`
    : l.status === "error" ? `Flattr could not be asked: ${l.error}` : null;
  const retry = l.status === "error" && el("button", { text: "Try again", onclick: (e) => act(e.target, () => api().check_creators()) });
  return [
    el("h1", { text: "Creators" }),
    card("Are the creators you flattred on Flattr?",
      el("p", { class: "muted small", text: "Only pages that earned a flattr are looked up (things/lookup); pages you only visited never leave this computer." }),
      status && el("p", { id: "lookup-state", class: l.status === "error" ? "tone-bad" : "muted" }, status, " ", retry),
      c.items.length ? el("table", { id: "creators" },
        el("tr", {}, el("th", { text: "Page" }), el("th", { class: "num", text: "Flattrs" }), el("th", { text: "On Flattr" })),
        c.items.map(creatorRow)) : el("p", { class: "muted", text: "No flattrs yet." })),
  ];
}

function creatorRow(item) {
  const l = item.lookup;
  let cell;
  if (!l) cell = el("span", { class: "muted", text: "checking…" });
  else if (l.status === "found") {
    cell = el("span", { class: "tone-ok" }, `Yes${l.owner ? `: ${l.owner}` : ""} `, l.link && link(l.link, "the thing"));
  } else if (l.status === "flattrable") cell = el("span", { text: "Not registered yet; flattring it creates the thing" });
  else if (l.status === "not_found") cell = el("span", { class: "muted", text: "Not on Flattr" });
  else cell = el("span", { class: "tone-bad", text: l.error || l.status });
  return el("tr", { "data-url": item.url, "data-status": l ? l.status : "unchecked", "data-owner": l && l.owner ? l.owner : "", "data-flattrs": item.flattrs },
    el("td", { class: "url" }, el("div", { text: item.title || item.url }), el("div", { class: "muted small", text: item.url })),
    el("td", { class: "num", text: item.flattrs }),
    el("td", {}, cell));
}

async function settingsPage() {
  const s = await api().settings();
  const mode = el("select", {
    id: "mode", onchange: (e) => act(null, () => api().set_mode(e.target.value), () => "Mode changed."),
  }, Object.entries(MODES).map(([value, text]) => el("option", { value, selected: value === s.mode, text: `${value}: ${text}` })));
  const siteRows = s.sites.map((site) => el("tr", { "data-site": site.site, "data-setting": site.setting },
    el("td", { text: site.site }),
    el("td", {}, el("label", { class: "row" }, el("input", {
      type: "checkbox", role: "switch", "data-switch": site.site, checked: site.setting === "enabled" || (site.setting === "default" && s.mode === "all" && !site.builtin),
      onchange: (e) => act(null, () => api().set_site(site.site, e.target.checked ? "enabled" : "disabled"), () => `${site.site} ${e.target.checked ? "counts" : "never counts"}.`),
    }), site.setting === "default" ? "default" : site.setting)),
    el("td", { class: "num", text: site.flattrs_today }),
    el("td", { class: "num", text: site.flattrs_total }),
    el("td", {}, site.builtin && el("span", { class: "muted small", text: `built-in: ${site.builtin}` }),
      site.setting !== "default" && el("button", { text: "Reset", onclick: (e) => act(e.target, () => api().set_site(site.site, "default")) }))));
  const newSite = el("input", { type: "text", id: "new-site", placeholder: "example.com" });
  const exportPath = el("input", { type: "text", id: "export-path", value: `${s.data_home.replace(/[\\/][^\\/]*$/, "")}/flattr-companion-export-${new Date().toISOString().slice(0, 10)}.json` });
  return [
    el("h1", { text: "Settings" }),
    card("What counts", el("label", {}, "Mode ", mode)),
    card("Sites",
      el("div", { class: "row" }, newSite,
        el("button", { text: "Counts", onclick: (e) => act(e.target, () => api().set_site(newSite.value, "enabled")) }),
        el("button", { text: "Never counts", onclick: (e) => act(e.target, () => api().set_site(newSite.value, "disabled")) })),
      s.sites.length ? el("table", { id: "sites" }, el("tr", {}, el("th", { text: "Site" }), el("th", { text: "Counts" }),
        el("th", { class: "num", text: "Today" }), el("th", { class: "num", text: "In all" }), el("th")), siteRows)
        : el("p", { class: "muted", text: "No site settings yet." })),
    figuresCard(s),
    card("Export your data",
      el("p", { class: "muted small", text: "Everything the host keeps about you, as JSON (never the token)." }),
      el("div", { class: "row" }, exportPath, el("button", {
        id: "export", text: "Export",
        onclick: (e) => act(e.target, () => api().export(exportPath.value), (r) => `Wrote ${r.path}`),
      }))),
    card("Where your data lives", dataPaths(s)),
  ];
}

function figuresCard(s) {
  const thresholds = el("input", { type: "text", id: "thresholds", value: s.thresholds.join(", ") });
  const audio = el("input", { type: "text", id: "audio-thresholds", value: s.audio_thresholds.join(", ") });
  const batch = el("input", { type: "number", id: "batch-size", min: 1, max: 500, value: s.batch_size });
  const numbers = (input) => input.value.split(/[\s,]+/).filter(Boolean).map(Number);
  const save = el("button", {
    id: "save-figures", text: "Save",
    onclick: (e) => act(e.target, () => api().set_figures(numbers(thresholds), numbers(audio), Number(batch.value)),
      () => "Saved. The host uses them from its next start."),
  });
  return card("Thresholds and sending",
    el("table", {},
      el("tr", {}, el("th", { text: "A page earns a flattr at (seconds of attention a day)" }), el("td", {}, thresholds)),
      el("tr", {}, el("th", { text: "Pages playing audio earn one at (seconds)" }), el("td", {}, audio)),
      el("tr", {}, el("th", { text: "Flattrs per request" }), el("td", {}, batch))),
    el("div", { class: "row" }, save),
    el("p", { class: "muted small" }, "Saved in ", el("code", { text: s.settings_file }), "; the host reads it when it starts."));
}

const RENDER = { account: accountPage, queue: queuePage, history: historyPage, creators: creatorsPage, settings: settingsPage };

async function show(page) {
  current = PAGES.includes(page) ? page : PAGES[0];
  for (const a of document.querySelectorAll(".tabs a")) {
    if (a.dataset.page === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const drawing = current;
  let parts;
  try {
    parts = await RENDER[drawing]();
  } catch (error) {
    parts = [el("p", { class: "tone-bad", text: `Could not load this page: ${error}` })];
  }
  if (drawing !== current) return; // the user moved on meanwhile
  document.getElementById("main").replaceChildren(...parts.flat().filter(Boolean));
  // Ready once the new content has been painted (two frames), so a screenshot shows it.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    if (current === drawing) document.body.dataset.ready = drawing;
  }));
}

function scheduleRefresh() {
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => {
    if (current !== "settings" && document.getElementById("confirm").hidden) show(current);
  }, REFRESH_MS);
}

function start() {
  document.getElementById("confirm-yes").addEventListener("click", () => answerConfirm(true));
  document.getElementById("confirm-no").addEventListener("click", () => answerConfirm(false));
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  show(location.hash.slice(1));
  scheduleRefresh();
}

window.dashboard = {
  show,
  focused() { focusCount += 1; document.body.dataset.focused = String(focusCount); },
  get page() { return current; },
};

if (window.pywebview && window.pywebview.api) start();
else window.addEventListener("pywebviewready", start, { once: true });

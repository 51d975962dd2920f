// What the popup and the options page share: talking to the background, and text-only DOM updates.
import { api } from "./api.js";

export const $ = (id) => document.getElementById(id);

/**
 * A request to the background; never throws: failures come back as `{ok: false, error}`. The
 * host's result fields come spread into the answer (`{ok, mode, sites, …}`); an answer that nests
 * them in `result` is flattened the same way.
 */
export async function request(message) {
  try {
    const answer = await api.runtime.sendMessage(message);
    if (answer && typeof answer === "object") {
      const nested = answer.ok && answer.result && typeof answer.result === "object";
      return nested ? { ...answer.result, ok: true } : answer;
    }
    return { ok: false, error: { code: "no_answer", message: "The background did not answer" } };
  } catch {
    const error = { code: "no_background", message: "The background is not running" };
    return { ok: false, error };
  }
}

export function show(el, visible) {
  el.hidden = !visible;
}

export function setText(id, text) {
  const el = $(id);
  el.textContent = text || "";
  show(el, Boolean(text));
}

/** One <p> (or <li>) per line, as text. */
export function setLines(id, lines, tag = "p") {
  const items = (lines || []).map((line) => {
    const el = document.createElement(tag);
    el.textContent = line;
    return el;
  });
  $(id).replaceChildren(...items);
}

function part(tag, id, className = "", attributes = {}) {
  const el = document.createElement(tag);
  el.id = id;
  if (className) el.className = className;
  for (const [name, value] of Object.entries(attributes)) el.setAttribute(name, value);
  return el;
}

/** Fills the empty `#host` section with the host card, the same on the popup and the options
 * page; its Copy button copies the command (`notice` says how it went). */
export function mountHostCard(notice) {
  const command = part("code", "host-command", "command", { tabindex: "0", "aria-label": "Command to run" });
  const copy = part("button", "copy-command", "", { type: "button" });
  copy.textContent = "Copy";
  copy.addEventListener("click", () => copyText(command, notice));
  const row = part("div", "host-command-row", "command-row", { hidden: "" });
  row.append(command, copy);
  $("host").replaceChildren(
    part("h2", "host-title"),
    part("div", "host-sentences"),
    row,
    part("p", "host-alternative", "small", { hidden: "" }),
    part("p", "host-detail", "muted small", { hidden: "" }),
  );
}

/** The host card (see `mountHostCard`) showing `host` (view: `hostView`); null hides it. */
export function renderHost(host) {
  show($("host"), Boolean(host));
  if (!host) return;
  $("host").dataset.tone = host.tone;
  $("host-title").textContent = host.headline;
  setLines("host-sentences", host.sentences);
  show($("host-command-row"), Boolean(host.command));
  $("host-command").textContent = host.command || "";
  setText("host-alternative", host.alternative);
  setText("host-detail", host.detail);
}

/** Copy the text of `el` (a command to run); without clipboard access, select it instead. */
export async function copyText(el, notice) {
  try {
    await navigator.clipboard.writeText(el.textContent);
    notice("Copied. Paste it into a terminal and run it.");
  } catch {
    const range = document.createRange();
    range.selectNodeContents(el);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    el.focus();
    notice("Selected: press Ctrl+C (⌘C on a Mac) to copy.");
  }
}

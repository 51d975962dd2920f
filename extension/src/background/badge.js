// The toolbar button at a glance: signed out or helper missing ("!", greyed icon), this site off
// (off icon), otherwise today's flattr count on all sites (the day's total, as the popup's header
// and the options page say; the popup lists today's flattrs on the current site separately).
import {
  BADGE_COLOR_ALERT,
  BADGE_COLOR_COUNT,
  BADGE_COLOR_WARN,
  BADGE_MAX_COUNT,
} from "./settings.js";

const NAME = "Flattr Companion";
const SIZES = [16, 32];
// Page decisions that mean "this site is switched off" rather than "this is not a web page".
export const OFF_REASONS = new Set(["disabled", "not_enabled", "no_metadata", "blocked"]);

export function iconPath(kind) {
  return Object.fromEntries(SIZES.map((size) => [size, `/icons/${kind}-${size}.png`]));
}

/** `{text, color, icon, title}` for the host state, account, today's count and a page decision. */
export function toolbarState({ host, account, flattrsToday }, decision = null) {
  const state = host?.state ?? "connecting";
  if (state === "connecting") {
    return { text: "", color: BADGE_COLOR_COUNT, icon: "flattr", title: `${NAME}: connecting…` };
  }
  if (state !== "ready") {
    return {
      text: "!",
      color: BADGE_COLOR_ALERT,
      icon: "signed-out",
      title: `${NAME}: the flattr-host helper is ${state}`,
    };
  }
  if (!account?.signed_in) {
    return { text: "!", color: BADGE_COLOR_WARN, icon: "signed-out", title: `${NAME}: signed out` };
  }
  const n = Number.isInteger(flattrsToday) && flattrsToday > 0 ? flattrsToday : 0;
  const text = n === 0 ? "" : n > BADGE_MAX_COUNT ? `${BADGE_MAX_COUNT}+` : String(n);
  const today = `${n} flattr${n === 1 ? "" : "s"} today`;
  if (decision && decision.counts === false && OFF_REASONS.has(decision.reason)) {
    const site = typeof decision.site === "string" ? decision.site : "this site";
    return { text, color: BADGE_COLOR_COUNT, icon: "off", title: `${NAME}: ${site} is off · ${today}` };
  }
  return { text, color: BADGE_COLOR_COUNT, icon: "flattr", title: `${NAME}: ${today}` };
}

export class Toolbar {
  constructor({ api }) {
    this.action = api.action;
  }

  /** Apply a toolbarState() globally (tabId null) or for one tab. Errors (tab gone) are ignored. */
  async show(view, tabId = null) {
    const where = tabId === null ? {} : { tabId };
    await Promise.all([
      this.action.setBadgeText({ ...where, text: view.text }),
      this.action.setBadgeBackgroundColor({ ...where, color: view.color }),
      this.action.setIcon({ ...where, path: iconPath(view.icon) }),
      this.action.setTitle({ ...where, title: view.title }),
    ]).catch(() => {});
  }
}

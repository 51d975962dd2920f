// Creator metadata reported by the content script, re-checked here: the page is hostile input.
import { MAX_FLATTR_ID_LENGTH, MAX_FLATTR_PARAM_LENGTH, MAX_URL_LENGTH } from "./settings.js";
import { isWellFormed, wellFormed } from "../common/text.js";
import { isHttpUrl } from "./urls.js";

/** Where a Flattr auto-submit URL lives (docs/flattr-api.md#auto-submit-urls). */
export const AUTO_SUBMIT_PATH = "/submit/auto";
export const FLATTR_HOST = "flattr.com";
/** The flattr:* meta tags the host turns into auto-submit parameters. */
export const FLATTR_PARAMS = Object.freeze(["title", "description", "language", "tags", "category", "hidden"]);
const THING_PATH = /^\/thing\/\d+(\/|$)/;

export function emptyMeta() {
  return { payment_url: null, flattr_id: null, canonical_url: null };
}

function boundedUrl(value) {
  return typeof value === "string" && value.length <= MAX_URL_LENGTH && isWellFormed(value) &&
    isHttpUrl(value) ? value : null;
}

/** http(s)://flattr.com on the default port, without credentials. */
function onFlattr(value) {
  if (boundedUrl(value) === null) return null;
  const u = new URL(value);
  const ok = u.hostname === FLATTR_HOST && u.port === "" && u.username === "" && u.password === "";
  return ok ? u : null;
}

/** A payment link counts only when it is a Flattr auto-submit URL (http or https). */
export function isAutoSubmitUrl(value) {
  return onFlattr(value)?.pathname === AUTO_SUBMIT_PATH;
}

/** Button markup counts when it is an auto-submit URL or a Flattr thing link. */
export function isButtonUrl(value) {
  const u = onFlattr(value);
  return u !== null && (u.pathname === AUTO_SUBMIT_PATH || THING_PATH.test(u.pathname));
}

function flattrParams(value) {
  if (!value || typeof value !== "object") return null;
  const out = {};
  for (const key of FLATTR_PARAMS) {
    const v = value[key];
    if (typeof v === "string" && v.trim() !== "" && v.length <= MAX_FLATTR_PARAM_LENGTH) {
      out[key] = wellFormed(v.trim());
    }
  }
  return Object.keys(out).length > 0 ? out : null;
}

/** Creator metadata with every field valid for the schema, else null; `button_url` and
 * `flattr_params` only when the page has them (segments stay small). */
export function sanitizeMeta(meta) {
  const out = emptyMeta();
  if (!meta || typeof meta !== "object") return out;
  if (isAutoSubmitUrl(meta.payment_url)) out.payment_url = meta.payment_url;
  if (typeof meta.flattr_id === "string") {
    const id = wellFormed(meta.flattr_id.trim());
    if (id !== "" && id.length <= MAX_FLATTR_ID_LENGTH) out.flattr_id = id;
  }
  out.canonical_url = boundedUrl(meta.canonical_url);
  if (isButtonUrl(meta.button_url)) out.button_url = meta.button_url;
  const params = flattrParams(meta.flattr_params);
  if (params) out.flattr_params = params;
  return out;
}

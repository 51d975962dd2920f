// Creator metadata reported by the content script, re-checked here: the page is hostile input.
import { MAX_FLATTR_ID_LENGTH, MAX_URL_LENGTH } from "./settings.js";
import { isWellFormed, wellFormed } from "../common/text.js";
import { isFlattrPage, isHttpUrl } from "./urls.js";

/** Where a Flattr auto-submit URL lives (docs/flattr-api.md#auto-submit-urls). */
export const AUTO_SUBMIT_PATH = "/submit/auto";

export function emptyMeta() {
  return { payment_url: null, flattr_id: null, canonical_url: null };
}

function boundedUrl(value) {
  return typeof value === "string" && value.length <= MAX_URL_LENGTH && isWellFormed(value) &&
    isHttpUrl(value) ? value : null;
}

/** A payment link counts only when it is a Flattr auto-submit URL. */
export function isAutoSubmitUrl(value) {
  return boundedUrl(value) !== null && isFlattrPage(value) &&
    new URL(value).pathname === AUTO_SUBMIT_PATH;
}

/** `{payment_url, flattr_id, canonical_url}` with every field valid for the schema, else null. */
export function sanitizeMeta(meta) {
  const out = emptyMeta();
  if (!meta || typeof meta !== "object") return out;
  if (isAutoSubmitUrl(meta.payment_url)) out.payment_url = meta.payment_url;
  if (typeof meta.flattr_id === "string") {
    const id = wellFormed(meta.flattr_id.trim());
    if (id !== "" && id.length <= MAX_FLATTR_ID_LENGTH) out.flattr_id = id;
  }
  out.canonical_url = boundedUrl(meta.canonical_url);
  return out;
}

// The last status the host gave, kept by the background in storage.session so that an opening
// popup can paint it at once (marked "Updating…") instead of waiting for the service worker to
// start and the host to answer. storage.session lives in memory and only the extension's own
// pages and background read it; still, only what the popup shows is kept: no page, no URL, no
// mode, and never anything secret (`status` carries no token).

export const LAST_STATUS_KEY = "lastStatus";

const HOST_FIELDS = ["state", "message", "command", "hostVersion"];
const ACCOUNT_FIELDS = ["signed_in", "username", "subscription_active", "signed_out_reason"];
const QUEUE_FIELDS = [
  "pending",
  "in_flight",
  "failed",
  "rejected",
  "waiting_other_account",
  "hold",
  "next_retry_at",
  "rate_limit_reset",
  "last_error",
  "last_error_at",
  "last_delivery_at",
];

function pick(value, fields) {
  if (!value || typeof value !== "object") return null;
  const out = {};
  for (const field of fields) if (value[field] !== undefined) out[field] = value[field];
  return out;
}

/**
 * What to keep of the background's view (`{host, account, queue, flattrsToday, …}`), or null
 * when it says nothing worth showing later: the host still connecting, or ready without a
 * status read yet (the previous one is kept then).
 */
export function lastStatusOf(view) {
  const host = pick(view?.host, HOST_FIELDS);
  if (!host || typeof host.state !== "string" || host.state === "connecting") return null;
  if (host.state !== "ready") return { host, account: null, queue: null, flattrsToday: null };
  if (!view.account) return null;
  return {
    host,
    account: pick(view.account, ACCOUNT_FIELDS),
    queue: pick(view.queue, QUEUE_FIELDS),
    flattrsToday: Number.isInteger(view.flattrsToday) ? view.flattrsToday : null,
  };
}

/** The stored status, checked again (storage is only as good as what wrote it); else null. */
export function readLastStatus(stored) {
  const view = stored?.[LAST_STATUS_KEY];
  return lastStatusOf(view);
}

// Every figure the background uses, named in one place. The attention figures are the original
// Flattr extension's (see docs/attention.md); the host's own thresholds live host-side.
// The content scripts cannot import modules: they repeat the few figures they need, and a test
// checks that their copies match these.

// --- Attention (src/background/attention.js) ---------------------------------------------------
/** A trusted interaction, tab selection, zoom change or 2xx load keeps counting this long. */
export const ATTENTION_WINDOW_SECONDS = 15;
/** chrome.idle detection interval; "idle" or "locked" stops foreground attention. */
export const IDLE_DETECTION_SECONDS = 60;
/** Continuous audio for this long makes the page an audio page (kind "audio"). */
export const AUDIO_PAGE_AFTER_SECONDS = 20;
/** Longest stretch credited between two observations: guards against suspend/sleep. */
export const MAX_CREDIT_GAP_SECONDS = 150;
/** Segments shorter than this are noise (rounding) and are not sent. */
export const MIN_SEGMENT_SECONDS = 0.01;
/** Segment seconds are sent rounded to this many decimals. */
export const SECONDS_DECIMALS = 3;
/** A main-frame load with a status at or above this earns nothing. */
export const ERROR_STATUS_MIN = 400;

// --- Content script (src/content/attention.js repeats these) -----------------------------------
/** Mouse movement is reported at most once per this many milliseconds. */
export const MOUSE_THROTTLE_MS = 1000;
/** Any other interaction kind is reported at most once per this many milliseconds. */
export const ACTIVITY_THROTTLE_MS = 1000;

// --- Sending segments (src/background/tracker.js, outbox.js) -----------------------------------
/** Pending attention is sent to the host this often while there is some. */
export const FLUSH_INTERVAL_MS = 15_000;
/** Segments per `attention` request (the schema allows 200). */
export const MAX_BATCH_SEGMENTS = 50;
/** The schema's limit on one segment's seconds, all of which the host counts; longer stretches
 *  are split, never cut (schema.test.mjs checks it equals protocol.schema.json's). */
export const MAX_SEGMENT_SECONDS = 3600;
/** Unsent segments kept while the host is unreachable; the oldest go first beyond this. */
export const MAX_OUTBOX_SEGMENTS = 1000;
// Top-level navigations (for daily visit flattrs) sent per `visits` request, and kept unsent at most
// while the host is away (the oldest go first).
export const MAX_BATCH_VISITS = 100;
// How long the background waits for a content script to answer before injecting it.
export const INJECT_PING_TIMEOUT_MS = 500;
// A loaded tab whose content script did not answer yet (it runs when the page is idle) is asked
// once more after this long.
export const PAGE_ASK_RETRY_MS = 1000;
export const MAX_PENDING_VISITS = 500;
/** Two queued segments of the same page merge when the older started at most this long ago. */
export const MERGE_WINDOW_SECONDS = 1800;
/** storage.session writes are coalesced over this long. */
export const SAVE_DEBOUNCE_MS = 300;
/** Toolbar state for the active tab is recomputed at most this often. */
export const BADGE_DEBOUNCE_MS = 400;
/** Host status is re-read at most this often after host events. */
export const STATUS_REFRESH_DEBOUNCE_MS = 250;
/** chrome.alarms period: runs due retries (host `tick`) and refreshes state even when idle. */
export const TICK_ALARM_NAME = "flattr-tick";
export const TICK_PERIOD_MINUTES = 1;

// --- Host connection (src/background/host.js) --------------------------------------------------
export const HOST_NAME = "org.flattr_companion.host";
export const PROTOCOL_VERSION = 1;
export const HELLO_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 15_000;
/** `open_dashboard` is answered once a new window is on screen, which the host waits up to 15 s
 *  for (PROTOCOL.md): with the usual timeout a slow start would be reported as a host that did not
 *  answer while the window comes up. */
export const OPEN_DASHBOARD_TIMEOUT_MS = 25_000;
/** `export` pages can be large (up to 1 MiB each). */
export const EXPORT_TIMEOUT_MS = 60_000;
/** At most this many `export` pages are joined (a runaway cursor cannot loop forever). */
export const EXPORT_MAX_PAGES = 10_000;
/** Reconnect back-off after the host exits: base × factor^attempt, capped. */
export const RECONNECT_BASE_MS = 1_000;
export const RECONNECT_FACTOR = 2;
export const RECONNECT_MAX_MS = 300_000;
/** A connection that stayed up this long resets the back-off. */
export const STABLE_CONNECTION_MS = 60_000;
/** A missing host, or one whose settings file needs fixing, is looked for again this often (and
 * whenever the popup opens). */
export const MISSING_RETRY_MS = 60_000;
/** An outdated host is asked again this often (the user may have upgraded it). */
export const OUTDATED_RETRY_MS = 300_000;
/** The popup looks for a missing/outdated host again at most this often. */
export const RETRY_NOW_MIN_MS = 5_000;
/** ui:state waits this long for such a fresh look to end before answering. */
export const RETRY_NOW_WAIT_MS = 1_500;

// --- flattr.com handshake (src/background/handshake.js, signin.js) -----------------------------
export const FLATTR_ORIGIN = "https://flattr.com";
export const SIGN_IN_URL = "https://flattr.com/oauth/ext";
export const MAX_TOKEN_LENGTH = 4096;

// --- Limits of the protocol schema (schema.test.mjs checks them against protocol.schema.json) ----
export const MAX_URL_LENGTH = 8192;
export const MAX_TITLE_LENGTH = 1024;
export const MAX_FLATTR_ID_LENGTH = 256;
export const MAX_FLATTR_PARAM_LENGTH = 1024;
export const MAX_SITE_LENGTH = 253;
export const MAX_HISTORY_LIMIT = 200;

// --- Toolbar -------------------------------------------------------------------------------------
export const BADGE_COLOR_ALERT = "#c62828";
export const BADGE_COLOR_WARN = "#ef6c00";
export const BADGE_COLOR_COUNT = "#2e7d32";
/** Counts above this show as "99+". */
export const BADGE_MAX_COUNT = 99;

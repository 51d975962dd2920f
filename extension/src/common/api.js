// The WebExtension API object: Firefox's promise-based `browser`, else Chromium's `chrome`
// (which returns promises too in Manifest V3). Import `api` rather than touching either global.
export const api = globalThis.browser ?? globalThis.chrome;

/** "firefox" or "chromium", from the extension's own URL scheme. */
export function browserName(ext = api) {
  try {
    return ext.runtime.getURL("").startsWith("moz-extension:") ? "firefox" : "chromium";
  } catch {
    return "chromium";
  }
}

export default api;

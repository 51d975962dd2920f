// Calls a function the attention content script (src/content/attention.js) puts on the globalThis
// of its world, in a tab's top frame: scripting.executeScript runs `func` in the extension's
// isolated world, the one the content script runs in, where the page cannot reach. This replaces
// a runtime.onMessage listener in the content script, which cost every page load more than
// anything else the script does.
export const LIVE_KEY = "__flattrCompanionAttention"; // () => whether a live copy runs there
export const META_KEY = "__flattrCompanionMeta"; // () => {meta, url, status?}, or null when not live

/** What the content script's function `key` returns in `tabId`'s top frame; null without it. */
export async function callPage(api, tabId, key) {
  const [frame] = await api.scripting.executeScript({
    target: { tabId, frameIds: [0] },
    injectImmediately: true, // a page still loading has no script yet: no need to wait for it
    func: (name) => (typeof globalThis[name] === "function" ? globalThis[name]() : null),
    args: [key],
  });
  return frame?.result ?? null;
}

"""A tiny stand-in extension proving the recipe without the real one: same ids, the native host
started through its installed manifest, and a content script on https://flattr.com/* proving the
browser reaches the local Flattr server over TLS under the real name."""

from __future__ import annotations

import json
from pathlib import Path

from .hostinstall import FIREFOX_ID, HOST_NAME

REPO = Path(__file__).resolve().parents[2]
DEV_KEY = REPO / "extension" / "dev-key.pub.b64"
STATUS_PAGE = "status.html"

BACKGROUND = """
const api = globalThis.browser ?? globalThis.chrome;
const state = { hello: null, disconnect: null, content: [], started: Date.now() };
globalThis.stub = state;
const save = () => api.storage.local.set({ stub: state });
const port = api.runtime.connectNative(%(host)s);
port.onMessage.addListener((message) => {
  if (message.id === 1) { state.hello = message; state.helloAt = Date.now(); save(); }
});
port.onDisconnect.addListener((p) => {
  state.disconnect = String((api.runtime.lastError || p.error || {}).message);
  save();
});
port.postMessage({ id: 1, type: "hello" });
api.runtime.onMessage.addListener((message, sender) => {
  state.content.push({ message, url: sender.url });
  save();
});
"""

CONTENT = """
document.documentElement.dataset.stubContent = "ready";
const api = globalThis.browser ?? globalThis.chrome;
api.runtime.sendMessage({ kind: "content", href: location.href });
"""


def write_stub(directory: Path, browser: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {
        "manifest_version": 3,
        "name": "Flattr Companion (e2e stub)",
        "version": "0.0.1",
        "permissions": ["nativeMessaging", "storage"],
        "content_scripts": [{"matches": ["https://flattr.com/*"], "js": ["content.js"]}],
    }
    if browser == "chromium":
        # The dev key gives the id the host manifest allows (pceboilfpeijfppedbhfdflpddadaoml).
        manifest["key"] = DEV_KEY.read_text().strip()
        manifest["background"] = {"service_worker": "background.js"}
    else:
        manifest["browser_specific_settings"] = {"gecko": {"id": FIREFOX_ID}}
        manifest["background"] = {"scripts": ["background.js"]}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2))
    (directory / "background.js").write_text(BACKGROUND % {"host": json.dumps(HOST_NAME)})
    (directory / "content.js").write_text(CONTENT)
    (directory / STATUS_PAGE).write_text("<!doctype html><meta charset='utf-8'><title>stub</title>")
    return directory

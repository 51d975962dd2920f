"""Debian's Firefox ESR through WebDriver BiDi (no geckodriver).

Firefox runs headless with its own profile; `--remote-allow-system-access` lets the test open the
extension's pages and private windows from the browser's chrome scope, which BiDi's navigate
refuses for moz-extension: URLs. Everything a user does (clicks, keys, wheel) goes through BiDi
input actions, so pages get trusted events.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .bidi import BidiClient
from .browser import POLL_SECONDS, Browser, Tab, json_wrapper, parse_json_result, poll
from .hostinstall import FIREFOX_ID
from .network import Network
from .run import RunDir, headed

EXECUTABLE = Path("/usr/lib/firefox-esr/firefox-esr")
INSTALL_COMMAND = "sudo apt-get install -y firefox-esr"
STARTUP_TIMEOUT_SECONDS = 30.0
EXIT_TIMEOUT_SECONDS = 10.0
LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")
VIEWPORT = {"width": 1000, "height": 700}

# Quiet, offline, deterministic. (The remote agent adds its own recommended prefs on top.)
BASE_PREFS: dict[str, Any] = {
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "browser.newtabpage.enabled": False,
    "browser.aboutwelcome.enabled": False,
    "browser.tabs.warnOnClose": False,
    "browser.sessionstore.resume_from_crash": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "app.update.enabled": False,
    "app.normandy.enabled": False,
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    # The content sites are plain HTTP: no HTTPS-First upgrade, in normal or private windows.
    "dom.security.https_first": False,
    "dom.security.https_first_pbm": False,
    "dom.security.https_first_schemeless": False,
    "dom.security.https_only_mode": False,
    "dom.security.https_only_mode_pbm": False,
    # The audio page starts playing by itself.
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
}


def write_user_js(profile: Path, network: Network) -> Path:
    prefs = {**BASE_PREFS, **network.firefox_prefs()}
    path = profile / "user.js"
    path.write_text(
        "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())
    )
    return path


@dataclass(eq=False)
class FirefoxTab(Tab):
    """A top-level browsing context, driven over the browser's BiDi session."""

    bidi: BidiClient
    context: str

    @property
    def url(self) -> str:
        tree = self.bidi.command("browsingContext.getTree", {"root": self.context, "maxDepth": 0})
        return str(tree["contexts"][0]["url"])

    def goto(self, url: str) -> None:
        self.bidi.command(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    def _evaluate(self, context: str, expression: str) -> Any:
        reply = self.bidi.command(
            "script.evaluate",
            {
                "expression": json_wrapper(expression),
                "target": {"context": context},
                "awaitPromise": True,
                "userActivation": False,
            },
        )
        if reply.get("type") == "exception":
            details = reply.get("exceptionDetails", {})
            raise RuntimeError(f"JavaScript error: {details.get('text')} in {expression[:200]}")
        return parse_json_result(reply["result"].get("value"))

    def eval(self, expression: str) -> Any:
        return self._evaluate(self.context, expression)

    def frame_eval(self, url_prefix: str, expression: str) -> Any:
        tree = self.bidi.command("browsingContext.getTree", {"root": self.context})
        stack = list(tree["contexts"][0]["children"] or [])
        while stack:
            child = stack.pop(0)
            if child["url"].startswith(url_prefix):
                return self._evaluate(child["context"], expression)
            stack.extend(child.get("children") or [])
        raise AssertionError(f"no frame starting with {url_prefix} in {self.url}")

    def _actions(self, *sources: dict[str, Any]) -> None:
        self.bidi.command(
            "input.performActions", {"context": self.context, "actions": list(sources)}
        )

    @staticmethod
    def _mouse(*actions: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "pointer",
            "id": "mouse",
            "parameters": {"pointerType": "mouse"},
            "actions": list(actions),
        }

    def click(self, x: float, y: float) -> None:
        self._actions(
            self._mouse(
                {"type": "pointerMove", "x": int(x), "y": int(y)},
                {"type": "pointerDown", "button": 0},
                {"type": "pointerUp", "button": 0},
            )
        )

    def move(self, x: float, y: float) -> None:
        self._actions(self._mouse({"type": "pointerMove", "x": int(x), "y": int(y)}))

    def press(self, key: str) -> None:
        value = KEY_VALUES.get(key, key)
        self._actions(
            {
                "type": "key",
                "id": "keyboard",
                "actions": [{"type": "keyDown", "value": value}, {"type": "keyUp", "value": value}],
            }
        )

    def wheel(self, delta_y: float, x: float = 200, y: float = 200) -> None:
        self._actions(
            {
                "type": "wheel",
                "id": "wheel",
                "actions": [
                    {
                        "type": "scroll",
                        "x": int(x),
                        "y": int(y),
                        "deltaX": 0,
                        "deltaY": int(delta_y),
                    }
                ],
            }
        )

    def screenshot(self, path: Path) -> Path:
        data = self.bidi.command("browsingContext.captureScreenshot", {"context": self.context})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def set_viewport(self, width: int, height: int) -> None:
        self.bidi.command(
            "browsingContext.setViewport",
            {"context": self.context, "viewport": {"width": width, "height": height}},
        )

    def activate(self) -> None:
        self.bidi.command("browsingContext.activate", {"context": self.context})

    def close(self) -> None:
        self.bidi.command("browsingContext.close", {"context": self.context})


# WebDriver's code points for named keys (the spec's "normalised key values" table).
KEY_VALUES = {
    "Enter": "\ue007",
    "Tab": "\ue004",
    "Escape": "\ue00c",
    "Space": " ",
    "PageDown": "\ue00f",
    "PageUp": "\ue00e",
    "End": "\ue010",
    "Home": "\ue011",
    "ArrowLeft": "\ue012",
    "ArrowUp": "\ue013",
    "ArrowRight": "\ue014",
    "ArrowDown": "\ue015",
}


class FirefoxBrowser(Browser):
    name = "firefox"

    def __init__(self, run: RunDir, extension: Path, network: Network) -> None:
        self.run = run
        write_user_js(run.profile, network)
        self.log_path = run.root / "firefox.log"
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    str(EXECUTABLE),
                    *([] if headed() else ["--headless"]),
                    "--no-remote",
                    "--profile",
                    str(run.profile),
                    "--remote-debugging-port=0",
                    "--remote-allow-system-access",
                ],
                env=run.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=run.tmp,
            )
        self.pid = self.proc.pid
        try:
            self.bidi = BidiClient(self._wait_listening() + "/session")
            self.bidi.command(
                "session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}}
            )
            installed = self.bidi.command(
                "webExtension.install", {"extensionData": {"type": "path", "path": str(extension)}}
            )
            assert installed["extension"] == FIREFOX_ID, installed
            hostname = self.chrome_eval(
                f"WebExtensionPolicy.getByID({json.dumps(FIREFOX_ID)}).mozExtensionHostname"
            )
            self.extension_origin = f"moz-extension://{hostname}"
        except BaseException:
            self.close()
            raise

    def _wait_listening(self) -> str:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log_path.read_text(errors="replace"))
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(POLL_SECONDS)
        raise RuntimeError(
            f"Firefox did not start its BiDi server (exit {self.proc.poll()}):\n"
            + self.log_path.read_text(errors="replace")[-3000:]
        )

    # --- chrome scope (setup only; never used for what a user does) ------------------------
    def _chrome_context(self) -> str:
        tree = self.bidi.command("browsingContext.getTree", {"maxDepth": 0, "moz:scope": "chrome"})
        return str(tree["contexts"][0]["context"])

    def chrome_eval(self, expression: str) -> Any:
        reply = self.bidi.command(
            "script.evaluate",
            {
                "expression": json_wrapper(expression),
                "target": {"context": self._chrome_context()},
                "awaitPromise": True,
            },
        )
        if reply.get("type") == "exception":
            raise RuntimeError(
                f"chrome-scope error: {reply.get('exceptionDetails', {}).get('text')}"
            )
        return parse_json_result(reply["result"].get("value"))

    def _contexts(self) -> list[dict[str, Any]]:
        tree = self.bidi.command("browsingContext.getTree", {"maxDepth": 0})
        contexts: list[dict[str, Any]] = tree["contexts"]
        return contexts

    def _new_context_after(self, before: set[str]) -> str:
        def fresh() -> str | None:
            contexts = self._contexts()
            return next((str(c["context"]) for c in contexts if c["context"] not in before), None)

        return poll(fresh, "no new tab appeared")

    # --- Browser ---------------------------------------------------------------------------
    def new_tab(self, url: str | None = None) -> Tab:
        created = self.bidi.command("browsingContext.create", {"type": "tab"})
        tab = FirefoxTab(self.bidi, created["context"])
        tab.set_viewport(VIEWPORT["width"], VIEWPORT["height"])
        if url:
            tab.goto(url)
        return tab

    def extension_tab(self, path: str, background: bool = False) -> Tab:
        url = f"{self.extension_origin}/{path}"
        before = {c["context"] for c in self._contexts()}
        select = "" if background else " gBrowser.selectedTab = tab;"
        self.chrome_eval(
            "(() => { const tab = gBrowser.addTab("
            + json.dumps(url)
            + ", {triggeringPrincipal: Services.scriptSecurityManager.getSystemPrincipal()});"
            + select
            + " return true; })()"
        )
        tab = FirefoxTab(self.bidi, self._new_context_after(before))
        tab.wait_loaded(url, message=f"{url} loads")
        return tab

    def allow_private_browsing(self) -> None:
        """What the user does in about:addons: "Run in Private Windows" → Allow."""
        # As about:addons does it: grant the permission, then reload the add-on.
        self.chrome_eval(
            "(async () => { const { ExtensionPermissions } = ChromeUtils.importESModule("
            "'resource://gre/modules/ExtensionPermissions.sys.mjs');"
            " const { AddonManager } = ChromeUtils.importESModule("
            "'resource://gre/modules/AddonManager.sys.mjs');"
            f" const id = {json.dumps(FIREFOX_ID)};"
            " const policy = WebExtensionPolicy.getByID(id);"
            " await ExtensionPermissions.add(id,"
            " { permissions: ['internal:privateBrowsingAllowed'], origins: [] },"
            " policy && policy.extension);"
            " const addon = await AddonManager.getAddonByID(id); await addon.reload();"
            " return WebExtensionPolicy.getByID(id).privateBrowsingAllowed; })()"
        )

    def new_private_tab(self, url: str) -> Tab:
        before = {c["context"] for c in self._contexts()}
        # A new private window opening url, as a link opened "in a new private window" does.
        self.chrome_eval(
            f"(() => {{ openTrustedLinkIn({json.dumps(url)}, 'window', {{ private: true }});"
            " return true; })()"
        )
        tab = FirefoxTab(self.bidi, self._new_context_after(before))
        tab.wait_loaded(url, message=f"{url} loads in a private window")
        return tab

    def add_preload_script(self, source: str) -> None:
        self.bidi.command(
            "script.addPreloadScript", {"functionDeclaration": f"() => {{ {source} }}"}
        )

    def _tab_at(self, url_prefix: str) -> Tab | None:
        for context in self._contexts():
            if context["url"].startswith(url_prefix):
                return FirefoxTab(self.bidi, context["context"])
        return None

    def top_level_urls(self) -> list[str]:
        return [str(c["url"]) for c in self._contexts()]

    def close(self) -> None:
        bidi = getattr(self, "bidi", None)
        if bidi is not None and not bidi.closed:
            try:
                bidi.command("browser.close", timeout=EXIT_TIMEOUT_SECONDS)
            except Exception:
                self.proc.terminate()  # the run's final sweep checks every process is gone
            bidi.close()
        elif self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(EXIT_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(EXIT_TIMEOUT_SECONDS)

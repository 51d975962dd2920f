"""Debian's Chromium through Playwright (persistent context, never `playwright install`)."""

from __future__ import annotations

import base64
import itertools
import json
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import (
    BrowserContext,
    CDPSession,
    Page,
    Playwright,
    ViewportSize,
    Worker,
    sync_playwright,
)

from .browser import DEFAULT_WAIT_SECONDS, Browser, Tab, json_wrapper, parse_json_result, poll
from .hostinstall import CHROMIUM_ID
from .network import Network
from .procs import marked_pids
from .run import RunDir, headed

EXECUTABLE = Path("/usr/lib/chromium/chromium")
INSTALL_COMMAND = "sudo apt-get install -y chromium"
LAUNCH_TIMEOUT_MS = 30_000
NAVIGATION_TIMEOUT_MS = 15_000
VIEWPORT: ViewportSize = {"width": 1000, "height": 700}
CDP_REPLY_TIMEOUT_SECONDS = 10.0
# Lets Playwright's event loop run, so CDP events reach our handlers.
PUMP_MS = 20


def launch_args(extension: Path, network: Network) -> list[str]:
    return [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-breakpad",
        "--password-store=basic",
        # The content sites are plain HTTP: no automatic upgrade to HTTPS, no interstitial.
        "--disable-features=HttpsUpgrades,HttpsFirstBalancedModeAutoEnable,"
        "HttpsFirstModeV2ForTypicallySecureUsers,MediaRouter",
        "--autoplay-policy=no-user-gesture-required",
        f"--disable-extensions-except={extension}",
        f"--load-extension={extension}",
        f"--host-resolver-rules={network.chromium_resolver_rules()}",
        # Playwright's ignore_https_errors does not cover the service worker's own requests.
        f"--ignore-certificate-errors-spki-list={network.spki}",
    ]


class ChromiumTab(Tab):
    def __init__(self, browser: ChromiumBrowser, page: Page) -> None:
        self.browser = browser
        self.page = page

    @property
    def url(self) -> str:
        return self.page.url

    def goto(self, url: str) -> None:
        self.page.goto(url, wait_until="load")

    def eval(self, expression: str) -> Any:
        return parse_json_result(self.page.evaluate(json_wrapper(expression)))

    def frame_eval(self, url_prefix: str, expression: str) -> Any:
        for frame in self.page.frames:
            if frame != self.page.main_frame and frame.url.startswith(url_prefix):
                return parse_json_result(frame.evaluate(json_wrapper(expression)))
        raise AssertionError(f"no frame starting with {url_prefix} in {self.url}")

    def click(self, x: float, y: float) -> None:
        self.page.mouse.click(x, y)

    def move(self, x: float, y: float) -> None:
        self.page.mouse.move(x, y)

    def press(self, key: str) -> None:
        self.page.keyboard.press(key)

    def wheel(self, delta_y: float, x: float = 200, y: float = 200) -> None:
        self.page.mouse.move(x, y)
        self.page.mouse.wheel(0, delta_y)

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
        return path

    def set_viewport(self, width: int, height: int) -> None:
        self.page.set_viewport_size({"width": width, "height": height})

    def activate(self) -> None:
        self.page.bring_to_front()
        self.browser.selected = self.page

    def close(self) -> None:
        self.page.close()


class TargetTab(Tab):
    """A tab Playwright does not manage (an incognito window's), driven over the browser's CDP
    session: Target.sendMessageToTarget carries the page's own Runtime/Input/Page commands."""

    def __init__(self, browser: ChromiumBrowser, target_id: str) -> None:
        self.browser = browser
        self.target_id = target_id
        self.cdp = browser.browser_cdp()
        self._ids = itertools.count(1)
        self._replies: dict[int, dict[str, Any]] = {}
        self.cdp.on("Target.receivedMessageFromTarget", self._on_message)
        attached = self.cdp.send("Target.attachToTarget", {"targetId": target_id, "flatten": False})
        self.session = attached["sessionId"]

    def _on_message(self, event: dict[str, Any]) -> None:
        if event.get("sessionId") == self.session:
            message = json.loads(event["message"])
            if "id" in message:
                self._replies[message["id"]] = message

    def _call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        rid = next(self._ids)
        message = {"id": rid, "method": method, "params": params or {}}
        self.cdp.send(
            "Target.sendMessageToTarget",
            {"sessionId": self.session, "message": json.dumps(message)},
        )
        deadline = time.monotonic() + CDP_REPLY_TIMEOUT_SECONDS
        while rid not in self._replies:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{method}: no reply from the incognito tab")
            self.browser.pump()
        reply = self._replies.pop(rid)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    @property
    def url(self) -> str:
        info = self.cdp.send("Target.getTargetInfo", {"targetId": self.target_id})
        return str(info["targetInfo"]["url"])

    def goto(self, url: str) -> None:
        self._call("Page.navigate", {"url": url})
        self.wait_loaded(url)

    def eval(self, expression: str) -> Any:
        reply = self._call(
            "Runtime.evaluate",
            {"expression": json_wrapper(expression), "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"JavaScript error: {reply['exceptionDetails'].get('text')}")
        return parse_json_result(reply["result"].get("value"))

    def frame_eval(self, url_prefix: str, expression: str) -> Any:
        raise NotImplementedError("not needed in incognito tabs")

    def _mouse(self, kind: str, x: float, y: float, **extra: Any) -> None:
        self._call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, **extra})

    def click(self, x: float, y: float) -> None:
        self._mouse("mouseMoved", x, y)
        self._mouse("mousePressed", x, y, button="left", clickCount=1)
        self._mouse("mouseReleased", x, y, button="left", clickCount=1)

    def move(self, x: float, y: float) -> None:
        self._mouse("mouseMoved", x, y)

    def press(self, key: str) -> None:
        text = key if len(key) == 1 else ""
        self._call("Input.dispatchKeyEvent", {"type": "keyDown", "key": key, "text": text})
        self._call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key})

    def wheel(self, delta_y: float, x: float = 200, y: float = 200) -> None:
        self._mouse("mouseWheel", x, y, deltaX=0, deltaY=delta_y)

    def screenshot(self, path: Path) -> Path:
        data = self._call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def set_viewport(self, width: int, height: int) -> None:
        self._call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def activate(self) -> None:
        self.cdp.send("Target.activateTarget", {"targetId": self.target_id})

    def close(self) -> None:
        self.cdp.send("Target.closeTarget", {"targetId": self.target_id})


class ChromiumBrowser(Browser):
    name = "chromium"

    def __init__(self, run: RunDir, extension: Path, network: Network) -> None:
        self.run = run
        self.extension_origin = f"chrome-extension://{CHROMIUM_ID}"
        self._playwright: Playwright | None = sync_playwright().start()
        try:
            self.context: BrowserContext = self._playwright.chromium.launch_persistent_context(
                str(run.profile),
                executable_path=str(EXECUTABLE),
                headless=not headed(),
                args=launch_args(extension, network),
                # Playwright's defaults disable extensions and mute audio (a muted tab is never
                # "audible", and the extension's audio attention needs that).
                ignore_default_args=["--disable-extensions", "--mute-audio"],
                env=dict[str, str | float | bool](run.env()),
                viewport=VIEWPORT,
                timeout=LAUNCH_TIMEOUT_MS,
            )
        except BaseException:
            self._playwright.stop()
            raise
        self.context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        self.pid = _browser_pid(run)
        self._cdp: CDPSession | None = None
        # The tab the test selected last: new tabs opened "in the background" give it back focus.
        self.selected: Page | None = None

    def browser_cdp(self) -> CDPSession:
        if self._cdp is None:
            browser = self.context.browser
            assert browser is not None, "Playwright gave no browser for the persistent context"
            self._cdp = browser.new_browser_cdp_session()
        return self._cdp

    def pump(self) -> None:
        """Run Playwright's event loop a moment. Its sync API dispatches events (pages closed,
        workers started, CDP messages) only inside API calls: reading `context.pages` in a
        polling loop without this sees a stale list forever."""
        pages = [page for page in self.context.pages if not page.is_closed()]
        if pages:
            pages[0].wait_for_timeout(PUMP_MS)
        else:
            self.context.cookies()

    def service_worker(self, timeout: float = DEFAULT_WAIT_SECONDS) -> Worker:
        """The extension's current service worker (a new one after the browser restarts it)."""

        def current() -> Worker | None:
            self.pump()
            workers = self.context.service_workers
            return next((w for w in workers if w.url.startswith(self.extension_origin)), None)

        return poll(current, "the extension's service worker did not start", timeout)

    def new_tab(self, url: str | None = None) -> Tab:
        tab = ChromiumTab(self, self.context.new_page())
        self.selected = tab.page
        if url:
            tab.goto(url)
        return tab

    def extension_tab(self, path: str, background: bool = False) -> Tab:
        previous = self.selected
        tab = ChromiumTab(self, self.context.new_page())
        if background and previous is not None and not previous.is_closed():
            previous.bring_to_front()  # before the page loads: it asks which tab is selected
        else:
            self.selected = tab.page
        tab.goto(f"{self.extension_origin}/{path}")
        return tab

    def _extensions_page_call(self, expression: str) -> Any:
        page = self.context.new_page()
        try:
            page.goto("chrome://extensions")
            return page.evaluate(expression)
        finally:
            page.close()

    def allow_private_browsing(self) -> None:
        # chrome://extensions: developer mode first (else the unpacked extension is disabled on
        # its reload), then "Allow in Incognito", which reloads the extension.
        before = self.service_worker()
        self._extensions_page_call(
            "(async () => {"
            " await new Promise((r) => chrome.developerPrivate.updateProfileConfiguration("
            "{inDeveloperMode: true}, r));"
            " await new Promise((r) => chrome.developerPrivate.updateExtensionConfiguration("
            f"{{extensionId: {json.dumps(CHROMIUM_ID)}, incognitoAccess: true}}, r));"
            " })()"
        )

        def reloaded_and_allowed() -> bool:
            worker = self.service_worker()
            return worker is not before and bool(
                worker.evaluate("chrome.extension.isAllowedIncognitoAccess()")
            )

        poll(
            reloaded_and_allowed,
            lambda _: (
                "the extension did not come back allowed in incognito (workers: "
                f"{[w.url for w in self.context.service_workers]})"
            ),
        )

    def new_private_tab(self, url: str) -> Tab:
        # The extension's own windows API opens it (setup, not something the test asserts on).
        self.service_worker().evaluate(
            f"chrome.windows.create({{incognito: true, url: {json.dumps(url)}}}).then(() => true)"
        )
        normal = {self._target_context(p) for p in self.context.pages[:1]}

        def incognito_target() -> str | None:
            targets = self.browser_cdp().send("Target.getTargets")["targetInfos"]
            for target in targets:
                if (
                    target["type"] == "page"
                    and target["url"] == url
                    and target.get("browserContextId") not in normal
                ):
                    return str(target["targetId"])
            return None

        tab = TargetTab(self, poll(incognito_target, f"no incognito tab at {url}"))
        tab.wait_for("document.readyState === 'complete'")
        return tab

    def _target_context(self, page: Page) -> str:
        session = self.context.new_cdp_session(page)
        try:
            info = session.send("Target.getTargetInfo")
            return str(info["targetInfo"].get("browserContextId"))
        finally:
            session.detach()

    def add_preload_script(self, source: str) -> None:
        self.context.add_init_script(source)

    def _tab_at(self, url_prefix: str) -> Tab | None:
        self.pump()
        for page in self.context.pages:
            if page.url.startswith(url_prefix):
                return ChromiumTab(self, page)
        return None

    def top_level_urls(self) -> list[str]:
        self.pump()
        return [page.url for page in self.context.pages]

    def close(self) -> None:
        if self._playwright is None:
            return
        try:
            if self._cdp is not None:
                self._cdp.detach()
            self.context.close()
        finally:
            self._playwright.stop()
            self._playwright = None


def _browser_pid(run: RunDir) -> int:
    """The browser's main process: the run's marked process whose parent is not marked."""
    marked = set(marked_pids(run.marker))
    for pid in sorted(marked):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parent = int(stat.rpartition(")")[2].split()[1])
        if parent not in marked:
            return pid
    raise RuntimeError("Chromium started but its process was not found")

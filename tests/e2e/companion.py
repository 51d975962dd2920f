"""Talking to the real extension the way its own pages do, and acting like a reader.

`Companion.call` sends the popup's UI messages (`ui:state`, `ui:sign-in`, …) from an extension
page (the popup, opened as a background tab), exactly as the popup does. `read()` is a person
reading: real mouse moves, clicks, wheel and key presses through the driver.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import procs
from .browser import Tab, WaitTimeout, poll
from .rig import ARTIFACTS, Rig

POPUP = "src/popup/popup.html"
SIGN_IN_URL = "https://flattr.com/oauth/ext"
# The popup's own width (popup.css); tall enough for its longest state.
POPUP_VIEWPORT = (360, 600)
# The background's answer on screen, not the last status kept that the popup paints first.
POPUP_RENDERED = (
    "document.getElementById('main')?.getAttribute('aria-busy') === 'false'"
    " && document.getElementById('main').dataset.status === 'live'"
)
# One interaction roughly this often while reading (the content script reports at most one of
# each kind per second; any one restarts the 15 s attention window).
READ_STEP_SECONDS = 0.3
STATE_WAIT_SECONDS = 15.0
# A killed host is gone this fast; the extension starts the next one within the other.
HOST_GONE_SECONDS = 5.0
HOST_RESTART_SECONDS = 10.0
API = "(globalThis.browser ?? globalThis.chrome)"


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return poll(check, lambda last: f"{what}: not within {timeout} s (last: {last!r})", timeout)


def close_if_open(tab: Tab) -> None:
    with contextlib.suppress(Exception):  # already closed by the page itself
        tab.close()


def is_sign_in_page(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" and parts.netloc == "flattr.com" and parts.path == "/oauth/ext"


def read(tab: Tab, seconds: float) -> None:
    """Interact with the page like a reader for `seconds`: move, scroll, click, press keys."""
    tab.activate()
    deadline = time.monotonic() + seconds
    step = 0
    while time.monotonic() < deadline:
        x, y = 150 + (step * 37) % 400, 150 + (step * 53) % 300
        kind = step % 4
        if kind == 0:
            tab.move(x, y)
        elif kind == 1:
            tab.wheel(120, x, y)
        elif kind == 2:
            tab.click(x, y)
        else:
            tab.press("ArrowDown")
        step += 1
        time.sleep(READ_STEP_SECONDS)


class Companion:
    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self._api: Tab | None = None

    # --- the UI API -----------------------------------------------------------------------------
    def api_page(self) -> Tab:
        if self._api is None:
            self._api = self.rig.b.extension_tab(POPUP, background=True)
            self._api.wait_for(POPUP_RENDERED, timeout=STATE_WAIT_SECONDS, message="popup renders")
        return self._api

    def forget_api_page(self) -> None:
        """After the extension reloaded: its pages are gone."""
        self._api = None

    def eval(self, expression: str) -> Any:
        return self.api_page().eval(expression)

    def call(self, message: dict[str, Any]) -> dict[str, Any]:
        answer = self.eval(f"{API}.runtime.sendMessage({json.dumps(message)})")
        assert isinstance(answer, dict), f"{message['kind']}: no answer ({answer!r})"
        return answer

    def tab_id(self, url_prefix: str) -> int:
        tabs = self.eval(f"{API}.tabs.query({{}}).then((ts) => ts.map((t) => [t.id, t.url]))")
        for tab_id, url in tabs:
            if url and url.startswith(url_prefix):
                return int(tab_id)
        raise AssertionError(f"no tab at {url_prefix}: {tabs}")

    def state(self, url_prefix: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"kind": "ui:state"}
        if url_prefix is not None:
            message["tabId"] = self.tab_id(url_prefix)
        return self.call(message)

    def wait_state(
        self,
        check: Callable[[dict[str, Any]], bool],
        what: str,
        url_prefix: str | None = None,
        timeout: float = STATE_WAIT_SECONDS,
    ) -> dict[str, Any]:
        last: dict[str, Any] = {}

        def probe() -> bool:
            nonlocal last
            last = self.state(url_prefix)
            return check(last)

        try:
            wait_until(probe, timeout, what)
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}; last ui:state: {json.dumps(last)[:1500]}") from None
        return last

    def wait_host_ready(self) -> dict[str, Any]:
        return self.wait_state(lambda s: s["host"]["state"] == "ready", "the host is ready")

    def kill_host(self) -> int:
        """SIGKILL the running host (mid-session); returns its pid once the extension has started a
        new one and it is ready."""
        (old_pid,) = self.rig.live_host_pids()
        os.kill(old_pid, signal.SIGKILL)
        assert procs.wait_gone([old_pid], HOST_GONE_SECONDS) == []
        wait_until(
            lambda: [p for p in self.rig.live_host_pids() if p != old_pid],
            HOST_RESTART_SECONDS,
            "the extension started a new host",
        )
        self.wait_host_ready()
        return old_pid

    # --- sign-in --------------------------------------------------------------------------------
    def sign_in(self) -> None:
        """The popup's Sign-in, as its button sends it; returns once the host holds the token."""
        self.wait_host_ready()
        assert self.call({"kind": "ui:sign-in"})["ok"] is True
        self.wait_signed_in()
        # The host checks a new token with the API (and learns the user name) right away.
        wait_until(
            lambda: any(a["token"] and a["username"] for a in self.rig.accounts()),
            STATE_WAIT_SECONDS,
            "the host verified the token",
        )

    def wait_signed_in(self) -> None:
        """A token is stored (the demo user's first one, or a new one after a revocation)."""
        wait_until(lambda: self.rig.stored_tokens(), STATE_WAIT_SECONDS, "token stored")
        try:
            wait_until(
                lambda: not any(is_sign_in_page(u) for u in self.rig.b.top_level_urls()),
                STATE_WAIT_SECONDS,
                "the sign-in tab closes",
            )
        except WaitTimeout as exc:
            tabs = self.eval(f"{API}.tabs.query({{}}).then((ts) => ts.map((t) => t.url))")
            page = self.rig.b.tab_for(SIGN_IN_URL)
            heard = page.eval("window.__flattrSim && window.__flattrSim.received")
            raise WaitTimeout(
                f"{exc}; the browser's tabs: {tabs}; the page heard {heard}"
            ) from None

    def sign_out(self) -> None:
        assert self.call({"kind": "ui:sign-out"})["ok"] is True
        assert self.rig.stored_tokens() == []

    def normal_windows(self) -> list[dict[str, Any]]:
        windows: list[dict[str, Any]] = self.eval(
            f"{API}.windows.getAll({{populate: true, windowTypes: ['normal']}})"
            ".then((ws) => ws.map((w) => ({id: w.id, incognito: w.incognito,"
            " tabs: w.tabs.map((t) => t.url)})))"
        )
        return windows

    def flattr_now(self, page: Tab) -> None:
        """The popup's "Flattr now" for page, clicked for real."""
        page.activate()
        popup = self.open_popup()
        popup.activate()
        try:
            popup.wait_for("!document.getElementById('flattr-now').disabled")
        except WaitTimeout as exc:
            state = self.state(page.url)
            raise WaitTimeout(f"Flattr now stays disabled: {exc}; ui:state {state}") from None
        popup.click_element("#flattr-now")
        popup.wait_for("document.getElementById('notice').textContent !== 'Flattring…'")
        popup.close()

    # --- the popup ------------------------------------------------------------------------------
    def open_popup(self) -> Tab:
        """The popup page, opened in the background so that it describes the selected tab."""
        popup = self.rig.b.extension_tab(POPUP, background=True)
        popup.wait_for(POPUP_RENDERED, timeout=STATE_WAIT_SECONDS, message="popup renders")
        return popup

    def popup_text(self, popup: Tab, element_id: str) -> str | None:
        """The text of a popup element, or None when it is hidden."""
        return popup.eval(  # type: ignore[no-any-return]
            f"(() => {{ const e = document.getElementById({json.dumps(element_id)});"
            " return e && !e.closest('[hidden]') ? e.textContent.trim() : null; })()"
        )

    def screenshot_popup(self, popup: Tab, state: str) -> Path:
        """Saved as artifacts/e2e/popup/<browser>-<state>.png (the popup's own size)."""
        return self.screenshot_popup_to(
            popup, ARTIFACTS / "popup" / f"{self.rig.browser_name}-{state}.png"
        )

    def screenshot_popup_to(self, popup: Tab, path: Path) -> Path:
        popup.activate()
        popup.set_viewport(*POPUP_VIEWPORT)
        popup.wait_for(POPUP_RENDERED)
        popup.screenshot(path)
        assert path.stat().st_size > 0
        return path

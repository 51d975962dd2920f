"""The dashboard window (pywebview; Qt WebEngine on Linux). It runs in its own process, which the
GUI toolkit owns: started by ``flattr-host dashboard`` or, detached, by the host on the
extension's ``open_dashboard``. ``--screenshot`` renders offscreen and writes a PNG."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..settings import Settings
from . import instance
from .launch import PAGES, GuiMissing, gui_installed

TITLE = "Flattr Companion"
SIZE = (1100, 800)
PAGE_DIR = Path(__file__).with_name("page")
# How long a screenshot waits for the page to report it has drawn the asked page.
READY_TIMEOUT_SECONDS = 60.0
READY_POLL_SECONDS = 0.1
# After the page says it has painted, Qt may still be compositing the frame it grabs.
SETTLE_SECONDS = 0.5
DISPLAY_VARS = ("DISPLAY", "WAYLAND_DISPLAY")


def prepare_qt(offscreen: bool) -> None:
    """Environment Qt WebEngine needs, set before it is imported: no display for a screenshot;
    as root Chromium refuses its sandbox, so it must be told to run without one."""
    if not sys.platform.startswith("linux"):
        return
    flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "").split()
    headless = not any(os.environ.get(name) for name in (*DISPLAY_VARS, "QT_QPA_PLATFORM"))
    if headless and not offscreen:
        # No screen to show it on (a headless browser started us): run it offscreen rather than
        # abort in Qt; it still answers focus requests and can be closed.
        print("flattr-host: no display found; the dashboard runs offscreen", file=sys.stderr)
    if offscreen or headless:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen" and "--disable-gpu" not in flags:
        flags.append("--disable-gpu")
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--no-sandbox" not in flags:
        flags.append("--no-sandbox")
    os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = " ".join(flags)


def page_url(page: str | None) -> str:
    url = (PAGE_DIR / "index.html").resolve().as_uri()
    return f"{url}#{page}" if page else url


def read_js(window: Any, expression: str) -> Any:
    """The JSON value of ``expression`` in the page. Not ``evaluate_js``: that wraps the script in
    ``eval``, which the page's Content-Security-Policy refuses."""
    raw = window.run_js(f"JSON.stringify({expression})")
    return None if raw in (None, "") else json.loads(raw)


def _import_webview() -> Any:
    if not gui_installed():
        raise GuiMissing()
    import webview

    return webview


def run(home: Path, settings: Settings, page: str | None = None) -> int:
    """Open the window (or bring the open one to the front) and return when it is closed."""
    if page is not None and page not in PAGES:
        raise ValueError(f"no page {page!r}; pages: {', '.join(PAGES)}")
    if instance.focus(home):
        print("The dashboard is already open; brought it to the front.", file=sys.stderr)
        return 0
    prepare_qt(offscreen=False)
    webview = _import_webview()
    claimed = instance.claim(home)
    if claimed is None:  # another one started at this very moment
        instance.focus(home)
        return 0
    from .jsapi import DashboardApi

    api = DashboardApi(home, settings)
    window = webview.create_window(
        TITLE, url=page_url(page), js_api=api, width=SIZE[0], height=SIZE[1], min_size=(720, 520)
    )

    def bring_to_front() -> None:
        window.show()
        window.restore()
        window.run_js("window.dashboard && window.dashboard.focused()")

    claimed.serve(bring_to_front)
    window.events.shown += claimed.mark_shown
    try:
        webview.start(gui=_backend(), private_mode=True)
    finally:
        claimed.close()
        api._close()
    return 0


def _backend() -> str | None:
    return "qt" if sys.platform.startswith("linux") else None


def screenshot(home: Path, settings: Settings, target: Path, page: str | None = None) -> int:
    """Render ``page`` offscreen with this data folder's figures and write a PNG to ``target``."""
    if page is not None and page not in PAGES:
        raise ValueError(f"no page {page!r}; pages: {', '.join(PAGES)}")
    prepare_qt(offscreen=True)
    webview = _import_webview()
    from qtpy.QtCore import QObject, Signal  # type: ignore[attr-defined]

    from .jsapi import DashboardApi

    done = threading.Event()
    outcome: dict[str, Any] = {}

    class Grabber(QObject):
        """Qt wants widgets touched on its GUI thread: the worker signals, this slot grabs."""

        grab = Signal(object)

        def __init__(self) -> None:
            super().__init__()
            self.grab.connect(self._grab)

        def _grab(self, view: Any) -> None:
            try:
                outcome["saved"] = bool(view.grab().save(str(target), "PNG"))
            finally:
                done.set()

    grabber = Grabber()
    api = DashboardApi(home, settings)
    window = webview.create_window(
        TITLE, url=page_url(page), js_api=api, width=SIZE[0], height=SIZE[1]
    )

    def shoot() -> None:
        try:
            wanted = page or PAGES[0]
            deadline = time.monotonic() + READY_TIMEOUT_SECONDS
            while read_js(window, "document.body.dataset.ready || ''") != wanted:
                if time.monotonic() > deadline:
                    outcome["error"] = f"the {wanted} page did not finish drawing"
                    return
                time.sleep(READY_POLL_SECONDS)
            time.sleep(SETTLE_SECONDS)
            view = window.gui.BrowserView.instances[window.uid]
            grabber.grab.emit(view)
            done.wait(READY_TIMEOUT_SECONDS)
        finally:
            window.destroy()

    try:
        webview.start(shoot, gui=_backend(), private_mode=True)
    finally:
        api._close()
    if not outcome.get("saved"):
        print(
            f"flattr-host: no screenshot written: {outcome.get('error', 'Qt could not save it')}",
            file=sys.stderr,
        )
        return 1
    print(f"wrote {target}", file=sys.stderr)
    return 0

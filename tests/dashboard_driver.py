"""Runs the real dashboard window offscreen for the tests and obeys JSON lines on stdin:
``{"js": EXPR}`` answers ``{"value": …}`` (EXPR's JSON value in the page), ``{"run": SCRIPT}``
runs a script, ``{"shot": PATH}`` writes a PNG of the window, ``{"quit": true}`` closes it.

Usage: python dashboard_driver.py HOME PAGE (the page shown first). Only the answers go to stdout;
everything Qt or Chromium prints goes to stderr."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from flattr_host.dashboard import window as dashboard_window
from flattr_host.settings import load_settings

answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
os.dup2(2, 1)

dashboard_window.prepare_qt(offscreen=True)

import webview  # noqa: E402 - after the Qt environment is set
from qtpy.QtCore import QObject, Signal  # type: ignore[attr-defined]  # noqa: E402

from flattr_host.dashboard.jsapi import DashboardApi  # noqa: E402


class Grabber(QObject):
    grab = Signal(object, str)

    def __init__(self) -> None:
        super().__init__()
        self.done = threading.Event()
        self.saved = False
        self.grab.connect(self._grab)

    def _grab(self, view: Any, path: str) -> None:
        try:
            self.saved = bool(view.grab().save(path, "PNG"))
        finally:
            self.done.set()


def main() -> None:
    home, page = Path(sys.argv[1]), sys.argv[2]
    grabber = Grabber()
    api = DashboardApi(home, load_settings(home))
    window = webview.create_window(
        "Flattr Companion", url=dashboard_window.page_url(page), js_api=api, width=1100, height=800
    )

    def serve() -> None:
        try:
            for line in sys.stdin:
                command = json.loads(line)
                answer: dict[str, Any] = {}
                try:
                    if "js" in command:
                        answer["value"] = dashboard_window.read_js(window, command["js"])
                    elif "run" in command:
                        window.run_js(command["run"])
                    elif "shot" in command:
                        time.sleep(dashboard_window.SETTLE_SECONDS)
                        grabber.done.clear()
                        view = window.gui.BrowserView.instances[window.uid]
                        grabber.grab.emit(view, command["shot"])
                        grabber.done.wait(30)
                        answer["saved"] = grabber.saved
                    elif command.get("quit"):
                        break
                except Exception as exc:
                    answer["error"] = repr(exc)
                answers.write(json.dumps(answer) + "\n")
                answers.flush()
        finally:
            window.destroy()

    webview.start(serve, gui="qt", private_mode=True)
    api._close()


if __name__ == "__main__":
    main()

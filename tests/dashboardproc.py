"""The real dashboard window in a child process (tests/dashboard_driver.py), offscreen."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DRIVER = Path(__file__).with_name("dashboard_driver.py")
# Upper bounds for waiting on the page (never asserted as timings: a limit, then a clear failure).
WAIT_LIMIT_SECONDS = 60.0
POLL_SECONDS = 0.1
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "dashboard"


def offscreen_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLATTR_")}
    env.update(FLATTR_HOST_HOME=str(home), QT_QPA_PLATFORM="offscreen", **extra)
    flags = "--disable-gpu" + (" --no-sandbox" if os.geteuid() == 0 else "")
    env["QTWEBENGINE_CHROMIUM_FLAGS"] = flags
    return env


class DashboardWindow:
    def __init__(self, home: Path, page: str = "account", **env: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(DRIVER), str(home), page],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=offscreen_env(home, **env),
            text=True,
        )

    def _ask(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the dashboard window exited ({self.proc.poll()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def js(self, expression: str) -> Any:
        return self._ask({"js": expression})["value"]

    def run(self, script: str) -> None:
        self._ask({"run": script})

    def wait_for(self, expression: str, limit: float = WAIT_LIMIT_SECONDS) -> None:
        """Poll until ``expression`` is truthy in the page (an element counts as true)."""
        deadline = time.monotonic() + limit
        while True:
            if self.js(f"Boolean({expression})"):
                return
            if time.monotonic() > deadline:
                shown = self.js("document.body.innerText")
                raise AssertionError(
                    f"the page never made this true: {expression}\nthe page shows:\n{shown}"
                )
            time.sleep(POLL_SECONDS)

    def show(self, page: str) -> None:
        self.run(f"location.hash = '{page}'")
        self.wait_for(f"document.body.dataset.ready === '{page}'")

    def redraw(self) -> None:
        """Draw the current page again from the database and wait until it is drawn."""
        self.run("document.body.dataset.ready = ''; window.dashboard.show(window.dashboard.page)")
        self.wait_for("document.body.dataset.ready === window.dashboard.page")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        assert self._ask({"shot": str(path)})["saved"], f"no screenshot written to {path}"
        return path

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(RuntimeError, BrokenPipeError, OSError):
                self._ask({"quit": True})
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

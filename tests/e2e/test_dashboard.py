"""The popup's and the options page's "Open dashboard", clicked for real: the browser's host starts
the dashboard window as its own process (offscreen here: the browser has no display), and the
second click brings that window to the front instead of opening another."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from flattr_host.dashboard import instance, launch

from .companion import Companion, close_if_open, wait_until
from .rig import Rig

OPTIONS = "src/options/options.html"
WINDOW_START_SECONDS = 60.0

pytestmark = pytest.mark.skipif(not launch.gui_installed(), reason="needs the gui extra")


def test_open_dashboard_from_the_popup_then_from_the_options_page(
    rig: Rig, companion: Companion
) -> None:
    home: Path = rig.run.host_home
    companion.wait_host_ready()
    popup = companion.open_popup()
    popup.activate()
    popup.click_element("#open-dashboard")
    info = wait_until(lambda: instance.running(home), WINDOW_START_SECONDS, "the dashboard window")
    try:
        cmdline = Path(f"/proc/{info['pid']}/cmdline").read_bytes().split(b"\0")
        assert b"dashboard" in cmdline and b"flattr_host" in cmdline, cmdline
        assert info["pid"] not in rig.live_host_pids()  # its own process, not the host
        close_if_open(popup)

        options = rig.b.extension_tab(OPTIONS)
        options.wait_for("document.getElementById('open-dashboard') !== null")
        options.click_element("#open-dashboard")

        def answered() -> str | None:
            text = options.eval("document.getElementById('notice').textContent")
            return None if text in ("", "Opening the dashboard…") else str(text)

        notice = wait_until(answered, WINDOW_START_SECONDS, "the options page's answer")
        assert notice == "The dashboard is open."
        now = instance.running(home) or {}
        assert (now.get("pid"), now.get("port")) == (info["pid"], info["port"])  # no second window
        options.close()
    finally:
        stop_window(info["pid"])


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_window(pid: int) -> None:
    """Stop the window this test opened, and the Qt WebEngine helpers it started, by their pids."""
    family = [pid, *_descendants(pid)]
    for member in family:
        with contextlib.suppress(ProcessLookupError):
            os.kill(member, signal.SIGTERM)
    wait_until(
        lambda: not [p for p in family if Path(f"/proc/{p}").exists()],
        WINDOW_START_SECONDS,
        "the dashboard and its helpers to stop",
    )

"""Open the dashboard from the native-messaging host (``open_dashboard``): focus the open window,
or start one as a separate, detached process. The host never imports the GUI toolkit: a toolkit
wants the main thread, and the host's stdin/stdout belong to the browser."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from ..logs import redact
from . import instance

PAGES = ("account", "queue", "history", "creators", "settings")
INSTALL_COMMAND = f'{sys.executable} -m pip install "flattr-companion[gui]"'
LOG_FILE = "dashboard.log"
# How long `open_dashboard` waits for a new window to be on screen before answering "started"
# anyway: long enough for a window that cannot start (a system library missing) to end first,
# so the browser hears why instead of a "started" that never shows.
START_CHECK_SECONDS = 15.0
START_POLL_SECONDS = 0.05
# How much of the window's last words the error quotes.
LOG_TAIL_CHARS = 300
# The line that says why, rather than the list of plugins Qt prints after it.
FAILURE_WORDS = re.compile(r"error|fail|cannot|could not|not found|missing", re.IGNORECASE)
# What to say when Qt WebEngine is installed but cannot load a system library.
LIBRARIES_HINT = (
    "On Debian/Ubuntu install the libraries Qt WebEngine loads: sudo apt-get install "
    "libnss3 libxkbcommon0 libegl1 libgl1 libfontconfig1 libxcomposite1 libxdamage1 "
    "libxrandr2 libxtst6 libasound2"
)


class WindowFailed(Exception):
    """The window process ended before its window was shown; the message quotes its log."""

    def __init__(self, said: str, log_path: Path) -> None:
        super().__init__(
            f"The dashboard window could not start ({said or 'it said nothing'}; "
            f"its log: {log_path}). Run this in a terminal to see why:"
        )
        self.command = "flattr-host dashboard"


class GuiMissing(Exception):
    """pywebview (the ``gui`` extra) is not installed for this Python."""

    def __init__(self) -> None:
        super().__init__(
            "The dashboard needs the optional gui extra (pywebview"
            + (" with Qt WebEngine" if sys.platform.startswith("linux") else "")
            + f"). Install it with: {INSTALL_COMMAND}"
        )
        self.command = INSTALL_COMMAND


def gui_installed() -> bool:
    return importlib.util.find_spec("webview") is not None


@dataclass(frozen=True)
class Opened:
    started: bool  # a new window process was started
    focused: bool  # the open window was asked to come to the front
    pid: int | None


def open_dashboard(home: Path, page: str | None = None) -> Opened:
    """Focus the open window or start one (it finds ``home`` as this process did: same
    environment). Waits at most START_CHECK_SECONDS for a new window to be shown, and raises
    WindowFailed when its process ends before that."""
    if instance.focus(home):
        info = instance.running(home) or {}
        return Opened(started=False, focused=True, pid=info.get("pid"))
    if not gui_installed():
        raise GuiMissing()
    argv = [sys.executable, "-m", "flattr_host", "dashboard"]
    if page is not None:
        argv += ["--page", page]
    log_path = paths.private_dir(paths.log_dir()) / LOG_FILE
    with open(log_path, "ab") as log:
        said_from = log.seek(0, 2)
        options: dict[str, object] = {}
        if sys.platform == "win32":
            flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
            options["creationflags"] = flags
        else:
            options["start_new_session"] = True  # a closed browser does not take it along
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,  # never the host's stdout: that is the browser's channel
            stderr=log,
            close_fds=True,
            **options,  # type: ignore[call-overload]
        )
    if _ended_before_shown(proc, home):
        raise WindowFailed(_last_words(log_path, said_from), log_path)
    # Reap it when it exits, so a long-lived host leaves no zombie behind.
    threading.Thread(target=proc.wait, daemon=True).start()
    return Opened(started=True, focused=False, pid=proc.pid)


def _ended_before_shown(proc: subprocess.Popen[bytes], home: Path) -> bool:
    deadline = time.monotonic() + START_CHECK_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return True
        info = instance.running(home)
        if info is not None and info.get("pid") == proc.pid and info.get("shown"):
            return False
        time.sleep(START_POLL_SECONDS)
    return False  # slow, not failed: it may still come up


def _last_words(log_path: Path, start: int) -> str:
    """The last line the window process wrote to its log that says why (or its last line),
    redacted and cut."""
    try:
        with open(log_path, "rb") as log:
            log.seek(start)
            text = log.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    telling = [line for line in lines if FAILURE_WORDS.search(line)]
    said = (telling or lines or [""])[-1]
    return redact(said)[:LOG_TAIL_CHARS]

"""Open the dashboard from the native-messaging host (``open_dashboard``): focus the open window,
or start one as a separate, detached process. The host never imports the GUI toolkit: a toolkit
wants the main thread, and the host's stdin/stdout belong to the browser."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from . import instance

PAGES = ("account", "queue", "history", "creators", "settings")
INSTALL_COMMAND = f'{sys.executable} -m pip install "flattr-companion[gui]"'
LOG_FILE = "dashboard.log"
# What to say when Qt WebEngine is installed but cannot load a system library.
LIBRARIES_HINT = (
    "On Debian/Ubuntu install the libraries Qt WebEngine loads: sudo apt-get install "
    "libnss3 libxkbcommon0 libegl1 libgl1 libfontconfig1 libxcomposite1 libxdamage1 "
    "libxrandr2 libxtst6 libasound2"
)


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
    environment); never waits for the window itself."""
    if instance.focus(home):
        info = instance.running(home) or {}
        return Opened(started=False, focused=True, pid=info.get("pid"))
    if not gui_installed():
        raise GuiMissing()
    argv = [sys.executable, "-m", "flattr_host", "dashboard"]
    if page is not None:
        argv += ["--page", page]
    logs = paths.private_dir(paths.log_dir())
    with open(logs / LOG_FILE, "ab") as log:
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
    # Reap it when it exits, so a long-lived host leaves no zombie behind.
    threading.Thread(target=proc.wait, daemon=True).start()
    return Opened(started=True, focused=False, pid=proc.pid)

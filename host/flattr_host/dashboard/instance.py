"""One dashboard window per data folder: the window holds an exclusive lock on ``dashboard.lock``
and listens on a loopback port (written to ``dashboard.json``) for ``focus`` requests. A second
`flattr-host dashboard`, or the host answering ``open_dashboard``, asks the open one to come to
the front instead of opening another."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .. import paths
from ..logs import log

LOCK_FILE = "dashboard.lock"
INFO_FILE = "dashboard.json"
FOCUS = b"focus\n"
FOCUSED = b"focused\n"
# How long a focus request may take: a window that does not answer in time counts as gone.
SIGNAL_TIMEOUT_SECONDS = 2.0


class Instance:
    """The lock and the focus listener of the running window."""

    def __init__(self, home: Path, lock: IO[bytes], server: socket.socket) -> None:
        self.home, self._lock, self._server = home, lock, server
        self.port = server.getsockname()[1]
        self._thread: threading.Thread | None = None

    def serve(self, on_focus: Callable[[], None]) -> None:
        def loop() -> None:
            while True:
                try:
                    client, _ = self._server.accept()
                except OSError:
                    return  # closed
                with client:
                    client.settimeout(SIGNAL_TIMEOUT_SECONDS)
                    try:
                        wanted = client.recv(64) == FOCUS
                        if wanted:
                            client.sendall(FOCUSED)  # at once: raising the window may take a while
                    except OSError:
                        wanted = False
                if wanted:
                    threading.Thread(target=_guarded(on_focus), daemon=True).start()

        self._thread = threading.Thread(target=loop, daemon=True, name="dashboard-focus")
        self._thread.start()

    def mark_shown(self) -> None:
        """Say in the info file that the window is on screen: whoever started this process
        waits for that, or for the process to end, to know whether the start worked."""
        _write_info(self.home, {"pid": os.getpid(), "port": self.port, "shown": True})

    def close(self) -> None:
        with contextlib.suppress(OSError):
            (self.home / INFO_FILE).unlink()
        self._server.close()
        self._lock.close()  # releases the lock


def _guarded(action: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        try:
            action()
        except Exception:  # the window may be closing; the next request starts a new one
            log.exception("could not bring the dashboard to the front")

    return run


def _try_lock(handle: IO[bytes]) -> bool:
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def claim(home: Path) -> Instance | None:
    """Become the one window, or None when another holds the lock."""
    paths.private_dir(home)
    handle = open(home / LOCK_FILE, "a+b")  # noqa: SIM115 - held for the window's lifetime
    paths.restrict(home / LOCK_FILE)
    if not _try_lock(handle):
        handle.close()
        return None
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    _write_info(home, {"pid": os.getpid(), "port": server.getsockname()[1]})
    return Instance(home, handle, server)


def _write_info(home: Path, info: dict[str, Any]) -> None:
    tmp = home / (INFO_FILE + ".tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    paths.restrict(tmp)
    os.replace(tmp, home / INFO_FILE)


def running(home: Path) -> dict[str, Any] | None:
    """``{pid, port[, shown]}`` of the open window, or None."""
    try:
        info = json.loads((home / INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("port"), int):
        return None
    return info


def focus(home: Path) -> bool:
    """Ask the open window to come to the front; False when none answers."""
    info = running(home)
    if info is None:
        return False
    try:
        with socket.create_connection(
            ("127.0.0.1", info["port"]), timeout=SIGNAL_TIMEOUT_SECONDS
        ) as conn:
            conn.sendall(FOCUS)
            return conn.recv(64) == FOCUSED
    except OSError:
        return False

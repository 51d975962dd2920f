"""Every process a run starts carries a marker in its environment, so the run can find exactly its
own processes (browser, its children, the hosts it launched) by PID, stop them and prove they are
gone — never by name, never anyone else's."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

MARKER_VAR = "FLATTR_E2E_RUN"
TERM_GRACE_SECONDS = 3.0
KILL_GRACE_SECONDS = 3.0
POLL_SECONDS = 0.05


def marked_pids(marker: str) -> list[int]:
    """PIDs whose environment holds MARKER_VAR=marker (zombies have no environment: skipped)."""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return sorted(found)


def alive(pid: int) -> bool:
    """True while pid exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may itself hold spaces.
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_gone(pids: Iterable[int], timeout: float) -> list[int]:
    """The pids still alive after timeout."""
    left = list(pids)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        if left:
            time.sleep(POLL_SECONDS)
    return [p for p in left if alive(p)]


def signal_pids(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop_marked(marker: str) -> list[int]:
    """SIGTERM, then SIGKILL, every process of the run that is still alive.

    Returns the pids that needed a signal at all (empty when the browser shut down cleanly)."""
    strays = [p for p in marked_pids(marker) if alive(p)]
    if strays:
        signal_pids(strays, signal.SIGTERM)
        left = wait_gone(strays, TERM_GRACE_SECONDS)
        signal_pids(left, signal.SIGKILL)
        wait_gone(left, KILL_GRACE_SECONDS)
    return strays

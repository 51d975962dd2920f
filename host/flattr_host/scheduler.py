"""Runs due submission work in the background while the browser is connected.

One thread, its own SQLite connection, woken when new flattrs arrive (or ``tick``) and otherwise
sleeping until the submitter says work is next due. The thread imports nothing: all it runs is
imported before it starts, since a first import racing the main thread's (pydantic, at the first
request) can leave a module half-initialised for the whole process.
"""

from __future__ import annotations

# What the thread sends with is imported here, before it starts: the IDNA codec (the socket layer
# imports it at the first connection to a host name), httpx, and httpcore (httpx imports it lazily).
import encodings.idna  # noqa: F401
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import certifi
import httpcore  # noqa: F401
import httpx  # noqa: F401

from . import store
from .logs import log
from .settings import Settings
from .submitter import Submitter

# A client made without SSL_CERT_FILE (always for the local server) asks certifi for its CA file,
# whose first reading imports importlib's resource readers: read it here once.
certifi.where()

# Re-check at least this often even when nothing seems due (another process may have queued work).
MAX_SLEEP = 30.0
# At shutdown, wait this long for a request in flight (Chrome kills the host 2 s after EOF).
STOP_GRACE = 1.0


class SubmitLoop:
    def __init__(
        self, db: Path, settings: Settings, *, emit_event: Callable[[str, dict[str, Any]], None]
    ) -> None:
        self._db = db
        self._settings = settings
        self._emit = emit_event
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._forced = False
        # Daemon: a request stuck in the network must never keep the host alive after EOF.
        self._thread = threading.Thread(target=self._run, name="submit", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def force(self) -> None:
        """Next round retries everything now, failed flattrs and back-off included."""
        self._forced = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(STOP_GRACE)

    def _run(self) -> None:
        conn = store.connect(self._db, self._settings)
        submitter = Submitter(conn, self._settings, on_event=self._emit)
        try:
            while not self._stop.is_set():
                forced, self._forced = self._forced, False
                try:
                    submitter.run_due(force=forced)
                    due = submitter.next_due()
                except Exception:
                    log.exception("submission round failed; retrying later")
                    due = None
                delay = MAX_SLEEP if due is None else min(MAX_SLEEP, max(0.0, due - time.time()))
                self._wake.wait(delay)
                self._wake.clear()
        finally:
            submitter.close()
            conn.close()

"""The window's ``js_api`` (``window.pywebview.api.NAME()`` in the page): thin calls into the same
functions the CLI and the protocol use (figures, status, sites, accounts, export, submitter).

pywebview calls these from its own threads, so the one connection is used under a lock; anything
slow or networked (sign-in, sending, Flattr look-ups) runs in a background thread and reports
through ``jobs()``. Every method answers plain JSON; failures are ``{"ok": false, "error": …}``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import accounts, export, figures, flattrs, paths, sites, status, store, urls
from ..logs import log, redact
from ..settings import Settings, SettingsError, save_settings
from . import remote

MODES = ("all", "enabled", "metadata")
# The batch sizes the Settings page accepts (the API's limit is unknown: docs/flattr-api.md).
MIN_BATCH, MAX_BATCH = 1, 500
SITE_SETTINGS = {"enabled": "enabled", "disabled": "disabled", "default": None}


def _ok(**fields: Any) -> dict[str, Any]:
    return {"ok": True, **fields}


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


class _Job:
    """A slow action in a thread; ``state`` for the page: idle, running, done or error."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {"status": "idle"}
        self._thread: threading.Thread | None = None

    def start(self, work: Callable[[], str]) -> bool:
        if self._thread is not None and self._thread.is_alive():
            return False
        self.state = {"status": "running", "started_at": time.time()}

        def run() -> None:
            try:
                self.state = {"status": "done", "message": work(), "at": time.time()}
            except Exception as exc:
                log.exception("dashboard action failed")
                self.state = {"status": "error", "error": redact(str(exc)), "at": time.time()}

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class DashboardApi:
    def __init__(self, home: Path, settings: Settings) -> None:
        self._home = home
        self._settings = settings
        self._conn = store.connect(paths.database_path(home), settings)
        accounts.redact_stored_tokens(self._conn)
        self._lock = threading.RLock()
        self._lookups = remote.Lookups(home, settings)
        self._recorded = remote.Recorded(home, settings)
        self._jobs = {"sign_in": _Job(), "retry": _Job()}
        self._on_focus: list[Callable[[], None]] = []

    def _close(self) -> None:
        for job in self._jobs.values():
            job.join(1.0)
        self._lookups.join(1.0)
        self._recorded.join(1.0)
        self._conn.close()

    @contextmanager
    def _db(self, write: bool = False) -> Iterator[Any]:
        with self._lock:
            if write:
                with store.transaction(self._conn):
                    yield self._conn
            else:
                yield self._conn

    # --- figures (read only) ----------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        with self._db() as conn:
            return figures.overview(conn, time.time(), self._settings)

    def queue(self) -> dict[str, Any]:
        with self._db() as conn:
            return figures.queue_items(conn, time.time(), self._settings)

    def history(self) -> dict[str, Any]:
        """The History page; also starts learning the creators its top list needs."""
        with self._db() as conn:
            result = figures.history(conn, time.time(), self._settings)
            unknown = self._lookups.pending(conn, time.time())
        if unknown and self._lookups.state.get("status") != "error":
            self._lookups.start()
        return result

    def creators(self) -> dict[str, Any]:
        """The flattred pages and what things/lookup said; starts looking up the unknown ones."""
        now = time.time()
        with self._db() as conn:
            items = figures.creators(conn)
            todo = self._lookups.pending(conn, now)
        if todo and self._lookups.state.get("status") != "error":
            self._lookups.start()
        return {"items": items, "lookups": self._lookups.state, "unchecked": len(todo)}

    def check_creators(self) -> dict[str, Any]:
        """Look up again after an error (the button on the Creators page)."""
        self._lookups.start()
        return _ok(lookups=self._lookups.state)

    def compare(self) -> dict[str, Any]:
        """What the host sent per day next to what Flattr recorded (once fetched)."""
        now = time.time()
        days = figures.last_days(now, self._settings)
        with self._db() as conn:
            sent = figures.sent_per_day(conn, now, self._settings)
        state = self._recorded.state
        recorded = state.get("recorded") if state.get("status") == "done" else None
        return {
            "state": {k: v for k, v in state.items() if k != "recorded"},
            "rows": figures.compare(sent, recorded or {}, days) if recorded is not None else None,
            "sent": [{"day": d, "count": sent.get(d, 0)} for d in days],
        }

    def check_flattr(self) -> dict[str, Any]:
        self._recorded.start()
        return _ok()

    def settings(self) -> dict[str, Any]:
        with self._db() as conn:
            return figures.settings_view(conn, time.time(), self._settings)

    def jobs(self) -> dict[str, Any]:
        return {name: job.state for name, job in self._jobs.items()}

    # --- actions -----------------------------------------------------------------------------

    def set_mode(self, mode: str) -> dict[str, Any]:
        if mode not in MODES:
            return _error(f"mode must be one of {', '.join(MODES)}")
        with self._db(write=True) as conn:
            sites.set_mode(conn, mode)
        return _ok(mode=mode)

    def set_site(self, site: str, setting: str) -> dict[str, Any]:
        name = urls.site_of(str(site))
        if name is None:
            return _error(f"{site!r} is not a public site name")
        if setting not in SITE_SETTINGS:
            return _error("setting must be enabled, disabled or default")
        try:
            with self._db(write=True) as conn:
                name = sites.set_site(conn, name, SITE_SETTINGS[setting], time.time())
        except ValueError as exc:
            return _error(str(exc))
        return _ok(site=name, setting=setting)

    def export(self, path: str) -> dict[str, Any]:
        target = Path(str(path)).expanduser()
        if not target.is_absolute():
            return _error("give the whole path of the file to write, e.g. ~/flattr-export.json")
        try:
            with self._db() as conn:
                export.write_file(conn, target)
        except OSError as exc:
            return _error(f"cannot write {target}: {exc.strerror or exc}")
        return _ok(path=str(target))

    def set_figures(
        self, thresholds: list[int], audio_thresholds: list[int], batch_size: int
    ) -> dict[str, Any]:
        """Thresholds for pages and for audio pages (seconds of attention a day, rising) and the
        batch size, into settings.json; the host uses them from its next start."""
        try:
            steps = [int(t) for t in thresholds]
            audio = [int(t) for t in audio_thresholds]
            size = int(batch_size)
        except (TypeError, ValueError):
            return _error("thresholds and batch size must be whole numbers")
        for name, values in (("thresholds", steps), ("audio thresholds", audio)):
            if not values or any(t <= 0 for t in values) or values != sorted(set(values)):
                return _error(f"{name} must be rising whole numbers of seconds, e.g. 50, 96, 138")
        if not MIN_BATCH <= size <= MAX_BATCH:
            return _error(f"the batch size must be from {MIN_BATCH} to {MAX_BATCH}")
        changes = {"thresholds": steps, "audio_thresholds": audio, "batch_size": size}
        try:
            self._settings = save_settings(self._home, changes)
        except (SettingsError, OSError) as exc:
            return _error(str(exc))
        return _ok(**changes)

    def sign_out(self) -> dict[str, Any]:
        with self._db(write=True) as conn:
            account = accounts.sign_out(conn, time.time())
        return _ok(was_signed_in=account is not None)

    def sign_in(self) -> dict[str, Any]:
        """The ``flattr-host login`` flow: opens the system browser, waits in the background."""
        from ..login import LoginFailed, run_login

        def work() -> str:
            conn = store.connect(paths.database_path(self._home), self._settings)
            try:
                name = run_login(
                    conn,
                    self._settings,
                    scopes=tuple(dict.fromkeys(self._settings.login_scopes)),
                    open_browser=True,
                    timeout=self._settings.login_timeout,
                )
            except LoginFailed as exc:
                raise RuntimeError(str(exc)) from None
            finally:
                conn.close()
            return f"Signed in to Flattr as {name}."

        started = self._jobs["sign_in"].start(work)
        return _ok(started=started)

    def retry(self) -> dict[str, Any]:
        """Send every queued flattr now, failed ones included (``flattr-host flush``)."""
        from ..submitter import Submitter

        with self._db() as conn:
            account = accounts.current(conn)
        if account is None or not account.signed_in:
            return _error("Not signed in: sign in first, then retry.")

        def work() -> str:
            conn = store.connect(paths.database_path(self._home), self._settings)
            submitter = Submitter(conn, self._settings, on_event=None)
            try:
                return status.describe_report(submitter.flush())
            finally:
                submitter.close()
                conn.close()

        return _ok(started=self._jobs["retry"].start(work))

    def adopt(self) -> dict[str, Any]:
        """Move the flattrs waiting for another account to the signed-in one (``queue --adopt``)."""
        with self._db(write=True) as conn:
            account = accounts.current(conn)
            if account is None or not account.signed_in:
                return _error("Not signed in: sign in first, then move them.")
            adoptions = accounts.adopt_waiting(conn, account.id, time.time())
        return _ok(
            moved=sum(a.rebound.moved for a in adoptions),
            left=sum(a.rebound.uncertain + a.rebound.in_flight for a in adoptions),
        )

    def discard(self, ids: list[int]) -> dict[str, Any]:
        """Delete these undelivered flattrs (the page asked the user first)."""
        try:
            wanted = [int(i) for i in ids]
        except (TypeError, ValueError):
            return _error("ids must be flattr ids")
        with self._db(write=True) as conn:
            gone = flattrs.discard(conn, wanted)
        return _ok(discarded=gone, kept=len(wanted) - gone)

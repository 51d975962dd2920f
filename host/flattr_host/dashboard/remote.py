"""What the dashboard asks Flattr, always in a background thread so the window never waits:
whether the creator of a flattred page is on Flattr (things/lookup, cached in the database), and
what Flattr itself recorded (GET /user/flattrs) to set next to what the host sent.

Privacy: only URLs that earned a flattr (rows of ``flattrs``, which are sent to Flattr anyway) are
ever looked up; pages that only earned attention never leave the machine."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import accounts, figures, paths, store
from ..api.client import FlattrClient
from ..api.errors import FlattrError
from ..days import attention_day
from ..logs import log, redact
from ..settings import Settings

# A lookup answer is asked again after this long (a creator may join Flattr later).
LOOKUP_MAX_AGE = 7 * 86_400
# GET /user/flattrs: page size and the most pages read (newest first, stops at 30 days back).
RECORDED_PAGE_COUNT = 50
RECORDED_MAX_PAGES = 40


def _stale(entry: dict[str, Any] | None, now: float) -> bool:
    return (
        entry is None
        or entry.get("status") == "error"
        or (now - float(entry.get("checked_at", 0)) > LOOKUP_MAX_AGE)
    )


class _Worker:
    """One background job at a time; ``state`` is what the page shows about it."""

    def __init__(self, home: Path, settings: Settings) -> None:
        self._home, self._settings = home, settings
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.state: dict[str, Any] = {"status": "idle"}

    def start(self) -> bool:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self._thread = threading.Thread(target=self._guarded, daemon=True)
            self._thread.start()
            return True

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _guarded(self) -> None:
        conn = store.connect(paths.database_path(self._home), self._settings)
        try:
            self._run(conn)
        except FlattrError as exc:
            self.state = {**self.state, "status": "error", "error": redact(str(exc))}
        except Exception:  # a bug: the window stays usable, the log has the trace
            log.exception("dashboard background job failed")
            self.state = {**self.state, "status": "error", "error": "failed; see the log"}
        finally:
            conn.close()

    def _run(self, conn: Any) -> None:
        raise NotImplementedError


class Lookups(_Worker):
    """things/lookup (and the thing, for its owner and link) for each flattred URL not yet
    known; answers are cached in the database's kv table under ``figures.LOOKUPS_KEY``."""

    def __init__(
        self, home: Path, settings: Settings, client: Callable[[], FlattrClient] | None = None
    ) -> None:
        super().__init__(home, settings)
        self._client = client or (lambda: FlattrClient.from_settings(settings, None))

    def pending(self, conn: Any, now: float) -> list[str]:
        known = figures.lookups(conn)
        return [u["url"] for u in figures.flattred_urls(conn) if _stale(known.get(u["url"]), now)]

    def _run(self, conn: Any) -> None:
        todo = self.pending(conn, time.time())
        self.state = {"status": "running", "done": 0, "total": len(todo)}
        with self._client() as client:  # no token: lookups are public
            for n, url in enumerate(todo, 1):
                entry = _look_up(client, url)
                with store.transaction(conn):
                    cache = figures.lookups(conn)
                    cache[url] = entry
                    store.put(conn, figures.LOOKUPS_KEY, cache)
                self.state = {"status": "running", "done": n, "total": len(todo)}
                if entry["status"] == "error":  # Flattr unreachable: try again later, not 500x
                    self.state = {**self.state, "status": "error", "error": entry["error"]}
                    return
        self.state = {"status": "done", "done": len(todo), "total": len(todo)}


def _look_up(client: FlattrClient, url: str) -> dict[str, Any]:
    now = time.time()
    try:
        found = client.lookup(url)
        entry: dict[str, Any] = {"status": found.message, "checked_at": now}
        thing_id = found.thing_id
        if found.message == "found" and thing_id is not None:
            thing = client.thing(thing_id)
            entry.update(
                thing_id=thing.id,
                link=thing.link or None,
                owner=thing.owner.username if thing.owner is not None else None,
                thing_title=thing.title or None,
            )
        return entry
    except FlattrError as exc:
        return {"status": "error", "checked_at": now, "error": redact(str(exc))}


class Recorded(_Worker):
    """Flattr's own count of the signed-in user's flattrs per day (GET /user/flattrs), over the
    dashboard's chart days."""

    def _run(self, conn: Any) -> None:
        account = accounts.current(conn)
        if account is None or account.token is None:
            self.state = {"status": "error", "error": "Sign in to compare with Flattr."}
            return
        self.state = {"status": "running"}
        now = time.time()
        days = figures.last_days(now, self._settings)
        counts: Counter[str] = Counter()
        with FlattrClient.from_settings(self._settings, account.token) as client:
            for flattr in client.iter_flattrs(
                count=RECORDED_PAGE_COUNT, max_pages=RECORDED_MAX_PAGES
            ):
                day = attention_day(float(flattr.created_at), self._settings)
                if day < days[0]:
                    break  # newest first: the rest is older than the chart
                counts[day] += 1
        self.state = {
            "status": "done",
            "checked_at": now,
            "username": account.username,
            "recorded": dict(counts),
        }

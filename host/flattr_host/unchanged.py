"""What attention requests read at every request, kept while the database has not changed: the
current account, the mode and each site's setting. ``PRAGMA data_version`` says when another
connection (the submitter, another host, the CLI) committed; this connection changes them only in
requests other than attention, after which the service calls ``forget``."""

from __future__ import annotations

import sqlite3

from . import accounts, sites
from .settings import Settings


class Unchanged:
    def __init__(self, conn: sqlite3.Connection, settings: Settings) -> None:
        self._conn = conn
        self._settings = settings
        self._version: int | None = None
        self._account: tuple[int | None] | None = None  # (id,) once read
        self._mode: str | None = None
        self._site_settings: dict[str, str | None] = {}

    def begin(self) -> None:
        """Call at the start of each transaction, before it writes: forget everything when
        another connection committed since the last time."""
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._version:
            self.forget()
            self._version = version

    def forget(self) -> None:
        self._account = None
        self._mode = None
        self._site_settings.clear()

    def account_id(self) -> int | None:
        if self._account is None:
            account = accounts.current(self._conn)
            self._account = (None if account is None else account.id,)
        return self._account[0]

    def mode(self) -> str:
        if self._mode is None:
            self._mode = sites.get_mode(self._conn, self._settings)
        return self._mode

    def setting(self, site: str) -> str | None:
        if site not in self._site_settings:
            self._site_settings[site] = sites.get_setting(self._conn, site)
        return self._site_settings[site]

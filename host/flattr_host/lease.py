"""A named lease in the database, so that one process at a time does a job (the submitter).

Every browser profile may start its own host process on the same database. A lease row names its
holder (``"<pid>:<uuid>"``), pid and hostname, and expires. It can be taken when free, expired, or
held by a pid that no longer exists on this host (a holder killed with ``kill -9`` does not wait out
its lease). All writes go through ``store.transaction`` (BEGIN IMMEDIATE + busy timeout) and are
retried a few times if SQLite still reports the database as locked, so that never reaches a user.
"""

from __future__ import annotations

import logging
import os
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from typing import TypeVar

from . import store

log = logging.getLogger(__name__)

T = TypeVar("T")

# On top of SQLite's own busy timeout: how often, and how long between tries, to retry a write that
# still found the database locked (e.g. BEGIN IMMEDIATE during another process's checkpoint).
LOCK_RETRIES = 5
LOCK_RETRY_PAUSE = 0.2


def new_holder() -> str:
    return f"{os.getpid()}:{uuid.uuid4().hex}"


def is_locked_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def retry_locked(
    write: Callable[[], T],
    *,
    retries: int = LOCK_RETRIES,
    pause: float = LOCK_RETRY_PAUSE,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``write`` (which opens its own transaction), retrying while the database is locked."""
    for attempt in range(retries):
        try:
            return write()
        except sqlite3.OperationalError as exc:
            if not is_locked_error(exc) or attempt == retries - 1:
                raise
            log.info("database busy, retrying (%d/%d)", attempt + 1, retries)
            sleep(pause * (attempt + 1))
    raise AssertionError("unreachable")


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (errs towards "alive")."""
    if pid <= 0:
        return True
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, it just is not ours
        return True
    return True


def _windows_pid_alive(pid: int) -> bool:
    # os.kill(pid, 0) would *terminate* the process on Windows; ask the kernel instead.
    import ctypes

    query_limited_information = 0x1000
    still_active = 259
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return False
    try:
        code = ctypes.c_ulong()
        if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
            return True
        return bool(code.value == still_active)
    finally:
        kernel32.CloseHandle(handle)


def _takeable(row: sqlite3.Row, holder: str, now: float, hostname: str) -> bool:
    if row["holder"] == holder or float(row["expires_at"]) <= now:
        return True
    pid = int(row["pid"])
    return row["hostname"] == hostname and pid != os.getpid() and not pid_alive(pid)


def acquire(conn: sqlite3.Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """Take (or extend) the lease ``name`` for ``holder`` until ``now + ttl``. False when another
    live holder has it, or when the database stayed locked (the caller simply tries later)."""
    hostname = socket.gethostname()

    def write() -> bool:
        with store.transaction(conn):
            row = conn.execute(
                "SELECT holder, pid, hostname, expires_at FROM lease WHERE name = ?", (name,)
            ).fetchone()
            if row is not None and not _takeable(row, holder, now, hostname):
                return False
            if row is not None and row["holder"] != holder:
                log.info("taking over lease %s from %s", name, row["holder"])
            conn.execute(
                "INSERT INTO lease (name, holder, pid, hostname, expires_at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, pid = excluded.pid, "
                "hostname = excluded.hostname, expires_at = excluded.expires_at",
                (name, holder, os.getpid(), hostname, now + ttl),
            )
            return True

    try:
        return retry_locked(write)
    except sqlite3.OperationalError as exc:
        if is_locked_error(exc):
            return False
        raise


def renew(conn: sqlite3.Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """Extend a lease still held by ``holder``; False when it was lost (someone took it over)."""

    def write() -> bool:
        with store.transaction(conn):
            return extend(conn, name, holder, now, ttl)

    return retry_locked(write)


def extend(conn: sqlite3.Connection, name: str, holder: str, now: float, ttl: float) -> bool:
    """``renew`` inside the caller's transaction, so that what it does under the lease commits
    only if the lease was still held."""
    cursor = conn.execute(
        "UPDATE lease SET expires_at = ? WHERE name = ? AND holder = ?", (now + ttl, name, holder)
    )
    return cursor.rowcount == 1


def release(conn: sqlite3.Connection, name: str, holder: str) -> None:
    def write() -> None:
        with store.transaction(conn):
            conn.execute("DELETE FROM lease WHERE name = ? AND holder = ?", (name, holder))

    try:
        retry_locked(write)
    except sqlite3.OperationalError as exc:
        if not is_locked_error(exc):
            raise
        log.warning("could not release lease %s (database busy); it expires on its own", name)


def holder_of(conn: sqlite3.Connection, name: str, now: float) -> str | None:
    """Who holds an unexpired lease ``name`` (for status displays)."""
    row = conn.execute(
        "SELECT holder FROM lease WHERE name = ? AND expires_at > ?", (name, now)
    ).fetchone()
    return None if row is None else str(row["holder"])

"""What was made: counts and history of flattrs for the popup, the options page and the CLI
(read-only; the queue itself is the package's ``__init__``). Rejected flattrs are never counted."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from ..logs import redact

# The history page size is capped so that a reply stays far below the native-messaging limit.
MAX_HISTORY_LIMIT = 500


def made_on(
    conn: sqlite3.Connection, day: str, site: str | None = None, page: str | None = None
) -> int:
    """Flattrs made on attention day ``day`` (of ``site``, of its page ``page``)."""
    sql = "SELECT COUNT(*) FROM flattrs WHERE day = ? AND state != 'rejected'"
    args: tuple[str, ...] = (day,)
    if site is not None:
        sql += " AND site = ?"
        args += (site,)
    if page is not None:
        sql += " AND page_url = ?"
        args += (page,)
    return int(conn.execute(sql, args).fetchone()[0])


def made_on_site(conn: sqlite3.Connection, site: str, day: str) -> tuple[int, int]:
    """The site's flattrs made on attention day ``day``, and of all time."""
    row = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(day = ?), 0) FROM flattrs "
        "WHERE site = ? AND state != 'rejected'",
        (day, site),
    ).fetchone()
    return int(row[1]), int(row[0])


def pages_on(
    conn: sqlite3.Connection, site: str, day: str, limit: int
) -> list[tuple[str, str | None, int]]:
    """(page, title, flattrs) of the site's pages flattred on ``day``, most flattred first."""
    rows = conn.execute(
        "SELECT page_url, MAX(title), COUNT(*) AS n FROM flattrs "
        "WHERE site = ? AND day = ? AND state != 'rejected' "
        "GROUP BY page_url ORDER BY n DESC, page_url LIMIT ?",
        (site, day, limit),
    ).fetchall()
    return [(r[0], r[1], int(r[2])) for r in rows]


def listing(conn: sqlite3.Connection, *, delivered: bool) -> list[sqlite3.Row]:
    """Every flattr (without the delivered ones unless ``delivered``), oldest first."""
    where = "" if delivered else "WHERE state != 'delivered'"
    return conn.execute(
        f"SELECT id, state, reason, url, error, created_at, account_id FROM flattrs {where} "
        "ORDER BY id"
    ).fetchall()


@dataclass(frozen=True)
class HistoryEntry:
    id: int
    url: str
    page_url: str
    site: str
    title: str | None
    reason: str
    state: str
    created_at: float
    delivered_at: float | None
    error: str | None


def history(conn: sqlite3.Connection, *, before_id: int | None, limit: int) -> list[HistoryEntry]:
    """A page of flattrs, newest first; pass the last id seen as ``before_id`` for the next."""
    limit = max(1, min(limit, MAX_HISTORY_LIMIT))
    rows = conn.execute(
        "SELECT id, url, page_url, site, title, reason, state, created_at, delivered_at, error "
        "FROM flattrs WHERE id < ? ORDER BY id DESC LIMIT ?",
        (before_id if before_id is not None else 2**63 - 1, limit),
    ).fetchall()
    return [
        HistoryEntry(
            id=int(r[0]),
            url=r[1],
            page_url=r[2],
            site=r[3],
            title=r[4],
            reason=r[5],
            state=r[6],
            created_at=float(r[7]),
            delivered_at=None if r[8] is None else float(r[8]),
            error=None if r[9] is None else redact(r[9]),
        )
        for r in rows
    ]

"""The durable flattr queue: what was earned and where it stands.

States: ``pending`` (waiting for its batch's next attempt), ``in_flight`` (its batch is being sent),
``delivered``, ``failed`` (attempts exhausted; retried on the slow schedule and on demand) and
``rejected`` (the server refused that URL; kept with the server's error, never resent).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


def enqueue(
    conn: sqlite3.Connection,
    *,
    url: str,
    page_url: str,
    site: str,
    title: str | None,
    day: str,
    reason: str,
    account_id: int | None,
    now: float,
) -> int:
    """Queue one flattr. Call inside the transaction that earned it."""
    cursor = conn.execute(
        "INSERT INTO flattrs (url, page_url, site, title, day, reason, account_id, state, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
        (url, page_url, site, title, day, reason, account_id, now, now),
    )
    return int(cursor.lastrowid or 0)


@dataclass(frozen=True)
class Counts:
    pending: int = 0
    in_flight: int = 0
    delivered: int = 0
    failed: int = 0
    rejected: int = 0


def counts(conn: sqlite3.Connection) -> Counts:
    rows = conn.execute("SELECT state, COUNT(*) FROM flattrs GROUP BY state").fetchall()
    return Counts(**{state: n for state, n in rows})

"""A long queue is sent in time linear in its length: each of the submitter's per-batch queries
finds its rows through an index, never by scanning the queue (see docs/benchmarks.md)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from flattr_host import flattrs, store
from flattr_host.settings import Settings


def plans_of(conn: sqlite3.Connection, call: object) -> list[str]:
    """The query plan of every statement ``call()`` runs."""
    issued: list[str] = []
    conn.set_trace_callback(issued.append)
    try:
        call()  # type: ignore[operator]
    finally:
        conn.set_trace_callback(None)
    return [
        " / ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall())
        for sql in issued
    ]


def test_per_batch_queries_never_scan_the_queue(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "db.sqlite3", Settings())
    now = time.time()
    steps = [
        lambda: flattrs.newest_unbatched(conn, 1),
        lambda: flattrs.due_batch(conn, 1, now),
        lambda: flattrs.start_sending(conn, 1, 1, now),
    ]
    for step in steps:
        for plan in plans_of(conn, step):
            assert "SCAN" not in plan, plan

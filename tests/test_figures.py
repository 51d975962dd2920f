"""The dashboard's figures and queue actions on a real database, without a window."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from flattr_host import accounts, days, figures, flattrs, holds, paths, store
from flattr_host.settings import Settings
from helpers import queue_flattr

SETTINGS = Settings()


def _flattr(conn: sqlite3.Connection, url: str, account_id: int | None, at: float) -> int:
    day = days.attention_day(at, SETTINGS)
    return queue_flattr(
        conn, url, site="example.org", day=day, reason="manual", account_id=account_id, now=at
    )


def test_discard_keeps_what_is_being_sent_or_delivered_and_drops_empty_batches(
    tmp_path: Path,
) -> None:
    conn = store.connect(paths.database_path(tmp_path), SETTINGS)
    now = time.time()
    with store.transaction(conn):
        me = accounts.sign_in(conn, "token-1", True, now)
        ids = [_flattr(conn, f"https://example.org/{i}", me.id, now) for i in range(5)]
        lone = flattrs.new_batch(conn, me.id, [ids[0]], now, "k-lone")
        busy = flattrs.new_batch(conn, me.id, [ids[1], ids[2]], now, "k-busy")
        conn.execute("UPDATE flattrs SET state = 'in_flight' WHERE id = ?", (ids[1],))
        conn.execute("UPDATE flattrs SET state = 'delivered' WHERE id = ?", (ids[3],))
        gone = flattrs.discard(conn, [ids[0], ids[1], ids[2], ids[3], ids[4], 9999])
    left = {int(r[0]) for r in conn.execute("SELECT id FROM flattrs")}
    batches = {int(r[0]) for r in conn.execute("SELECT id FROM batches")}
    conn.close()
    # ids[2] waits in a batch being sent: its outcome belongs to that request, so it stays.
    assert gone == 2 and left == {ids[1], ids[2], ids[3]}
    assert lone not in batches and busy in batches


def test_queue_groups_say_why_a_flattr_is_held(tmp_path: Path) -> None:
    conn = store.connect(paths.database_path(tmp_path), SETTINGS)
    now = time.time()
    with store.transaction(conn):
        old = accounts.sign_in(conn, "token-old", True, now)
        accounts.verify(conn, old.id, "old-user")
        theirs = _flattr(conn, "https://example.org/theirs", old.id, now)
        me = accounts.sign_in(conn, "token-new", True, now)
        mine = _flattr(conn, "https://example.org/mine", me.id, now)
    result = figures.queue_items(conn, now, SETTINGS)
    assert [i["id"] for i in result["groups"]["pending"]] == [mine]
    [held] = result["groups"]["held"]
    assert held["id"] == theirs and "old-user" in held["held"]
    with store.transaction(conn):
        accounts.sign_out(conn, now)
    result = figures.queue_items(conn, now, SETTINGS)
    assert result["counts"]["pending"] == 0 and result["counts"]["held"] == 2
    assert all(i["held"].startswith("Waits for") for i in result["groups"]["held"])
    assert figures.hold_words(holds.SIGNED_OUT) == figures.HOLD_WORDS[holds.SIGNED_OUT]
    conn.close()

"""The durable flattr queue: what was earned and where it stands. This package is the only code
that reads or writes the ``flattrs`` and ``batches`` tables (but for ``export``, which copies every
table); ``made`` holds its read-only counts and history of what was made.

States: ``pending`` (waiting for its batch's next attempt), ``in_flight`` (its batch is being sent),
``delivered``, ``failed`` (attempts exhausted; retried on the slow schedule and on demand) and
``rejected`` (the server refused that URL; kept with the server's error, never resent).
"""

from __future__ import annotations

import sqlite3
import uuid
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


# --- batches: how the submitter moves flattrs through the states above ---------------------------
# Write functions expect to run inside ``store.transaction``; the submitter commits before and
# after each request, never across one.

SENDABLE = ("pending", "failed")


@dataclass(frozen=True)
class Batch:
    id: int
    account_id: int
    idempotency_key: str
    attempts: int
    next_attempt_at: float
    last_status: int | None


@dataclass(frozen=True)
class Item:
    id: int
    url: str


def _batch(row: sqlite3.Row | None) -> Batch | None:
    if row is None:
        return None
    return Batch(
        id=int(row["id"]),
        account_id=int(row["account_id"]),
        idempotency_key=str(row["idempotency_key"]),
        attempts=int(row["attempts"]),
        next_attempt_at=float(row["next_attempt_at"]),
        last_status=None if row["last_status"] is None else int(row["last_status"]),
    )


def new_key() -> str:
    """A fresh Idempotency-Key."""
    return str(uuid.uuid4())


def get_batch(conn: sqlite3.Connection, batch_id: int) -> Batch | None:
    return _batch(conn.execute("SELECT * FROM batches WHERE id = ?", (batch_id,)).fetchone())


def new_batch(
    conn: sqlite3.Connection, account_id: int, item_ids: list[int], now: float, key: str
) -> int:
    """A batch with a fresh Idempotency-Key, due now, holding ``item_ids`` (as pending)."""
    batch_id = _insert_batch(conn, account_id, now, key)
    conn.executemany(
        "UPDATE flattrs SET batch_id = ?, state = 'pending', updated_at = ? WHERE id = ?",
        [(batch_id, now, item_id) for item_id in item_ids],
    )
    return batch_id


def _insert_batch(conn: sqlite3.Connection, account_id: int, now: float, key: str) -> int:
    cursor = conn.execute(
        "INSERT INTO batches (account_id, idempotency_key, next_attempt_at, created_at) "
        "VALUES (?, ?, ?, ?)",
        (account_id, key, now, now),
    )
    return int(cursor.lastrowid or 0)


def unbatched(conn: sqlite3.Connection, account_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM flattrs WHERE state = 'pending' AND batch_id IS NULL AND account_id = ? "
        "ORDER BY id",
        (account_id,),
    ).fetchall()
    return [int(row[0]) for row in rows]


def fills_a_batch(conn: sqlite3.Connection, account_id: int, size: int) -> bool:
    """Whether the account has at least ``size`` flattrs not yet in a batch."""
    row = conn.execute(
        "SELECT 1 FROM flattrs WHERE state = 'pending' AND batch_id IS NULL AND account_id = ? "
        "ORDER BY created_at, id LIMIT 1 OFFSET ?",
        (account_id, max(0, size - 1)),
    ).fetchone()
    return row is not None


def newest_unbatched(conn: sqlite3.Connection, account_id: int) -> float | None:
    """When the newest flattr not yet in a batch was queued (None: there is none)."""
    row = conn.execute(
        "SELECT MAX(created_at) FROM flattrs "
        "WHERE state = 'pending' AND batch_id IS NULL AND account_id = ?",
        (account_id,),
    ).fetchone()
    return None if row[0] is None else float(row[0])


# A batch not ``done`` (see ``close_if_done``) that still has flattrs to send. ``done = 0`` lets the
# queries use the index of open batches: the thousands already sent are never visited.
_OPEN = (
    "b.done = 0 AND EXISTS (SELECT 1 FROM flattrs f WHERE f.batch_id = b.id "
    "AND f.state IN ('pending', 'failed'))"
)


def due_batch(conn: sqlite3.Connection, account_id: int, now: float) -> Batch | None:
    """The account's batch to send next: the longest-waiting due one with items to send."""
    return _batch(
        conn.execute(
            f"SELECT b.* FROM batches b WHERE b.account_id = ? AND b.next_attempt_at <= ? "
            f"AND {_OPEN} ORDER BY b.next_attempt_at, b.id LIMIT 1",
            (account_id, now),
        ).fetchone()
    )


def next_batch_at(conn: sqlite3.Connection, account_id: int) -> float | None:
    row = conn.execute(
        f"SELECT MIN(b.next_attempt_at) FROM batches b WHERE b.account_id = ? AND {_OPEN}",
        (account_id,),
    ).fetchone()
    return None if row[0] is None else float(row[0])


def start_sending(
    conn: sqlite3.Connection, batch_id: int, account_id: int, now: float
) -> list[Item]:
    """Mark the batch's pending/failed items of ``account_id`` in flight and return them."""
    conn.execute(
        "UPDATE flattrs SET state = 'in_flight', updated_at = ? "
        "WHERE batch_id = ? AND account_id = ? AND state IN ('pending', 'failed')",
        (now, batch_id, account_id),
    )
    return in_flight(conn, batch_id)


def start_new_batch(
    conn: sqlite3.Connection, account_id: int, size: int, now: float, key: str
) -> Batch | None:
    """A new batch with Idempotency-Key ``key``, due now, of the account's oldest ``size``
    flattrs not yet in a batch, marked in flight in the same pass (None: there were none)."""
    batch_id = _insert_batch(conn, account_id, now, key)
    cursor = conn.execute(
        "UPDATE flattrs SET batch_id = ?, state = 'in_flight', updated_at = ? WHERE id IN "
        "(SELECT id FROM flattrs WHERE state = 'pending' AND batch_id IS NULL AND account_id = ? "
        "ORDER BY created_at, id LIMIT ?)",
        (batch_id, now, account_id, size),
    )
    if cursor.rowcount == 0:
        conn.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
        return None
    return Batch(batch_id, account_id, key, attempts=0, next_attempt_at=now, last_status=None)


def stop_sending(conn: sqlite3.Connection, batch_id: int, now: float) -> int:
    """The batch's flattrs in flight were never sent after all: back to pending in their batch,
    which keeps its key and stays due."""
    cursor = conn.execute(
        "UPDATE flattrs SET state = 'pending', updated_at = ? "
        "WHERE batch_id = ? AND state = 'in_flight'",
        (now, batch_id),
    )
    return cursor.rowcount


def in_flight(conn: sqlite3.Connection, batch_id: int) -> list[Item]:
    """The batch's flattrs being sent, in the order they were queued."""
    rows = conn.execute(
        "SELECT id, url FROM flattrs WHERE batch_id = ? AND state = 'in_flight' ORDER BY id",
        (batch_id,),
    ).fetchall()
    return [Item(int(item_id), str(url)) for item_id, url in rows]


def settle(
    conn: sqlite3.Connection, batch_id: int, state: str, now: float, error: str | None = None
) -> int:
    """Move the batch's in-flight items back to ``state`` (pending or failed); see ``deliver``."""
    cursor = conn.execute(
        "UPDATE flattrs SET state = ?, updated_at = ?, error = ? "
        "WHERE batch_id = ? AND state = 'in_flight'",
        (state, now, error, batch_id),
    )
    return cursor.rowcount


# Nothing in the batch (its id the parameter) is left to send: it is done (``close_if_done``).
_NOTHING_LEFT = (
    "NOT EXISTS (SELECT 1 FROM flattrs WHERE batch_id = ? "
    "AND state IN ('pending', 'failed', 'in_flight'))"
)


def deliver(conn: sqlite3.Connection, batch_id: int, status: int, now: float) -> int:
    """The batch's flattrs in flight were delivered: recorded so, with the answer's status; the
    batch is done when nothing in it is left to send (``close_if_done``; it cannot be empty)."""
    cursor = conn.execute(
        "UPDATE flattrs SET state = 'delivered', delivered_at = ?, updated_at = ?, "
        "error = NULL WHERE batch_id = ? AND state = 'in_flight'",
        (now, now, batch_id),
    )
    conn.execute(
        f"UPDATE batches SET last_status = ?, last_error = NULL, done = {_NOTHING_LEFT} "
        "WHERE id = ?",
        (status, batch_id, batch_id),
    )
    return cursor.rowcount


def reschedule(
    conn: sqlite3.Connection,
    batch_id: int,
    *,
    next_attempt_at: float,
    attempts: int | None = None,
    status: int | None = None,
    error: str | None = None,
) -> None:
    conn.execute(
        "UPDATE batches SET next_attempt_at = ?, attempts = COALESCE(?, attempts), "
        "last_status = ?, last_error = ? WHERE id = ?",
        (next_attempt_at, attempts, status, error, batch_id),
    )


def reject(conn: sqlite3.Connection, item_ids: list[int], error: str, now: float) -> int:
    """The server refused these flattrs: keep them, with its reason, and never send them again."""
    conn.executemany(
        "UPDATE flattrs SET state = 'rejected', error = ?, updated_at = ? WHERE id = ?",
        [(error, now, item_id) for item_id in item_ids],
    )
    return len(item_ids)


def close_if_done(conn: sqlite3.Connection, batch_id: int) -> None:
    """Forget a batch whose items all moved to other batches (or were discarded), and mark one
    with nothing left to send done. Flattrs never become sendable again in a done batch: only
    delivered and rejected flattrs stay in one, and neither state is ever left."""
    conn.execute(
        "DELETE FROM batches WHERE id = ? AND NOT EXISTS "
        "(SELECT 1 FROM flattrs WHERE batch_id = ?)",
        (batch_id, batch_id),
    )
    conn.execute(
        f"UPDATE batches SET done = 1 WHERE id = ? AND {_NOTHING_LEFT}", (batch_id, batch_id)
    )


# What a user may discard: never a flattr being sent (its outcome belongs to that request) and
# never a delivered one (it is history, and Flattr has it).
DISCARDABLE = ("pending", "failed", "rejected")


def discard(conn: sqlite3.Connection, item_ids: list[int]) -> int:
    """Delete these flattrs if they are still discardable; batches left empty go too. Call inside
    a transaction. Returns how many went."""
    marks = ",".join("?" * len(item_ids))
    if not item_ids:
        return 0
    batches = [
        int(r[0])
        for r in conn.execute(
            f"SELECT DISTINCT batch_id FROM flattrs WHERE id IN ({marks}) AND batch_id IS NOT NULL",
            item_ids,
        )
    ]
    cursor = conn.execute(
        f"DELETE FROM flattrs WHERE id IN ({marks}) AND state IN {DISCARDABLE} "
        "AND NOT EXISTS (SELECT 1 FROM flattrs g WHERE g.batch_id = flattrs.batch_id "
        "AND g.state = 'in_flight')",
        item_ids,
    )
    for batch_id in batches:
        close_if_done(conn, batch_id)
    return cursor.rowcount


def recover_in_flight(conn: sqlite3.Connection, now: float) -> int:
    """Items a dead submitter left in flight go back to pending in their batch (same
    Idempotency-Key, so a de-duplicating server records them once)."""
    cursor = conn.execute(
        "UPDATE flattrs SET state = 'pending', updated_at = ? WHERE state = 'in_flight'", (now,)
    )
    return cursor.rowcount


def make_due(conn: sqlite3.Connection, account_id: int, now: float) -> int:
    """Everything of the account that waits (back-off, slow schedule) becomes due now."""
    cursor = conn.execute(
        f"UPDATE batches AS b SET next_attempt_at = ? WHERE b.account_id = ? "
        f"AND b.next_attempt_at > ? AND {_OPEN}",
        (now, account_id, now),
    )
    return cursor.rowcount


def sendable(conn: sqlite3.Connection, account_id: int) -> int:
    """How many of the account's flattrs are still to be delivered (pending, failed, in flight)."""
    row = conn.execute(
        "SELECT COUNT(*) FROM flattrs WHERE account_id = ? "
        "AND state IN ('pending', 'failed', 'in_flight')",
        (account_id,),
    ).fetchone()
    return int(row[0])


def unsent_by_account(conn: sqlite3.Connection) -> dict[int | None, int]:
    """Flattrs not yet delivered (nor rejected), per account they are bound to."""
    rows = conn.execute(
        "SELECT account_id, COUNT(*) FROM flattrs "
        "WHERE state IN ('pending', 'failed', 'in_flight') GROUP BY account_id"
    ).fetchall()
    return {(None if row[0] is None else int(row[0])): int(row[1]) for row in rows}


def move_account(conn: sqlite3.Connection, source: int, target: int) -> None:
    """Every flattr and batch of account ``source`` becomes ``target``'s (one user's accounts
    merge)."""
    conn.execute("UPDATE flattrs SET account_id = ? WHERE account_id = ?", (target, source))
    conn.execute("UPDATE batches SET account_id = ? WHERE account_id = ?", (target, source))


def bound_to(conn: sqlite3.Connection, account_id: int) -> bool:
    """Whether a flattr or a batch still refers to the account."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM flattrs WHERE account_id = ?) "
        "OR EXISTS (SELECT 1 FROM batches WHERE account_id = ?)",
        (account_id, account_id),
    ).fetchone()
    return bool(row[0])


@dataclass(frozen=True)
class Rebound:
    """What ``rebind`` moved, and what it left where it was (and why)."""

    moved: int = 0
    in_flight: int = 0  # their batch is being sent right now
    uncertain: int = 0  # an earlier request with them may have been recorded under their account


def rebind(
    conn: sqlite3.Connection,
    source: int | None,
    target: int,
    now: float,
    *,
    uncertain_too: bool,
    dry_run: bool = False,
) -> Rebound:
    """Bind the unsent flattrs of account ``source`` to ``target``, a whole batch at a time so that
    each batch keeps its Idempotency-Key. A batch being sent stays: its outcome belongs to the
    request in flight. Unless ``uncertain_too``, so does a batch with a counted attempt (network or
    server error: the server may have recorded it under ``source``), since sent as another user it
    could be flattred twice. Moved batches are due now. Call inside a transaction."""
    rows = conn.execute(
        "SELECT f.id, f.state, f.batch_id, COALESCE(b.attempts, 0) AS attempts, "
        "EXISTS (SELECT 1 FROM flattrs g WHERE g.batch_id = f.batch_id AND g.state = 'in_flight') "
        "AS busy FROM flattrs f LEFT JOIN batches b ON b.id = f.batch_id "
        "WHERE f.account_id IS ? AND f.state IN ('pending', 'failed', 'in_flight')",
        (source,),
    ).fetchall()
    moved: list[int] = []
    batches: set[int] = set()
    in_flight = uncertain = 0
    for row in rows:
        if row["busy"] or row["state"] == "in_flight":
            in_flight += 1
        elif row["attempts"] and not uncertain_too:
            uncertain += 1
        else:
            moved.append(int(row["id"]))
            if row["batch_id"] is not None:
                batches.add(int(row["batch_id"]))
    if not dry_run:
        conn.executemany(
            "UPDATE flattrs SET account_id = ?, updated_at = ? WHERE id = ?",
            [(target, now, item_id) for item_id in moved],
        )
        conn.executemany(
            "UPDATE batches SET account_id = ?, next_attempt_at = MIN(next_attempt_at, ?) "
            "WHERE id = ?",
            [(target, now, batch_id) for batch_id in sorted(batches)],
        )
    return Rebound(moved=len(moved), in_flight=in_flight, uncertain=uncertain)


def make_402_due(conn: sqlite3.Connection, now: float, account_id: int | None) -> int:
    """The batches that got a 402 (of ``account_id``, or of all accounts) become due now."""
    cursor = conn.execute(
        "UPDATE batches SET next_attempt_at = ? WHERE last_status = 402 AND done = 0 "
        "AND next_attempt_at > ? AND (? IS NULL OR account_id = ?)",
        (now, now, account_id, account_id),
    )
    return cursor.rowcount


def waiting_after_402(conn: sqlite3.Connection, account_id: int, now: float) -> bool:
    """Whether some batch of the account waits on the slow schedule after a 402."""
    row = conn.execute(
        "SELECT 1 FROM batches "
        "WHERE account_id = ? AND done = 0 AND last_status = 402 AND next_attempt_at > ?",
        (account_id, now),
    ).fetchone()
    return row is not None

"""Moving unsent flattrs between accounts on a real SQLite file: whole batches with their
Idempotency-Key, never a batch in flight, never one that may be recorded under another user."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flattr_host import accounts, flattrs, store
from flattr_host.settings import Settings
from flattr_host.submitter import Submitter
from helpers import queue_flattr

NOW = 1_800_000_000.0


@pytest.fixture()
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    connection = store.connect(tmp_path / "companion.sqlite3", Settings())
    yield connection
    connection.close()


def sign_in(conn: sqlite3.Connection, token: str) -> accounts.Account:
    with store.transaction(conn):
        return accounts.sign_in(conn, token, True, NOW)


def enqueue(conn: sqlite3.Connection, account_id: int, *names: str) -> list[int]:
    with store.transaction(conn):
        return [
            queue_flattr(
                conn,
                f"https://adopt.example/{name}",
                site="adopt.example",
                day="2026-11-25",
                account_id=account_id,
                now=NOW,
            )
            for name in names
        ]


def batch(conn: sqlite3.Connection, account_id: int, ids: list[int], key: str) -> int:
    with store.transaction(conn):
        return flattrs.new_batch(conn, account_id, ids, NOW + 50, key)


def owners(conn: sqlite3.Connection) -> dict[int, int | None]:
    rows = conn.execute("SELECT id, account_id FROM flattrs").fetchall()
    return {int(r["id"]): r["account_id"] for r in rows}


def batch_rows(conn: sqlite3.Connection) -> dict[str, tuple[int, float]]:
    rows = conn.execute("SELECT idempotency_key, account_id, next_attempt_at FROM batches")
    return {r[0]: (int(r[1]), float(r[2])) for r in rows}


def test_a_never_verified_accounts_flattrs_go_to_the_next_sign_in(
    conn: sqlite3.Connection,
) -> None:
    nameless = sign_in(conn, "first-token")
    loose, batched = enqueue(conn, nameless.id, "loose", "batched")
    batch(conn, nameless.id, [batched], "key-1")
    with store.transaction(conn):
        accounts.token_rejected(conn, nameless.id, NOW)
    after = sign_in(conn, "second-token")
    assert owners(conn) == {loose: after.id, batched: after.id}
    assert batch_rows(conn) == {"key-1": (after.id, NOW)}  # same key, due at once
    assert accounts.get(conn, nameless.id) is None  # nothing refers to it any more
    assert flattrs.unsent_by_account(conn) == {after.id: 2}


def test_a_verified_accounts_flattrs_wait_for_its_user(conn: sqlite3.Connection) -> None:
    alice = sign_in(conn, "alice-token")
    with store.transaction(conn):
        accounts.verify(conn, alice.id, "alice")
    (item,) = enqueue(conn, alice.id, "alice")
    bob = sign_in(conn, "bob-token")
    assert owners(conn) == {item: alice.id}
    assert accounts.get(conn, alice.id) is not None and bob.id != alice.id


def test_a_batch_in_flight_stays_until_it_settles(conn: sqlite3.Connection) -> None:
    nameless = sign_in(conn, "first-token")
    sending, waiting = enqueue(conn, nameless.id, "sending", "waiting")
    first = batch(conn, nameless.id, [sending], "key-sending")
    with store.transaction(conn):
        flattrs.start_sending(conn, first, nameless.id, NOW)
    second = sign_in(conn, "second-token")
    assert owners(conn) == {sending: nameless.id, waiting: second.id}
    assert accounts.get(conn, nameless.id) is not None  # still referred to
    # The request's process died: its items are pending again, and the next sign-in takes them.
    with store.transaction(conn):
        flattrs.recover_in_flight(conn, NOW)
    third = sign_in(conn, "third-token")
    assert set(owners(conn).values()) == {third.id}
    assert batch_rows(conn)["key-sending"][0] == third.id


def test_adopt_moves_what_can_go_and_dry_run_moves_nothing(conn: sqlite3.Connection) -> None:
    alice = sign_in(conn, "alice-token")
    with store.transaction(conn):
        accounts.verify(conn, alice.id, "alice")
    fresh, uncertain, busy, loose = enqueue(conn, alice.id, "fresh", "uncertain", "busy", "loose")
    batch(conn, alice.id, [fresh], "key-fresh")
    tried = batch(conn, alice.id, [uncertain], "key-uncertain")
    in_flight = batch(conn, alice.id, [busy], "key-busy")
    with store.transaction(conn):
        flattrs.reschedule(conn, tried, next_attempt_at=NOW + 999, attempts=1, status=503)
        flattrs.start_sending(conn, in_flight, alice.id, NOW)
    bob = sign_in(conn, "bob-token")
    with store.transaction(conn):
        accounts.verify(conn, bob.id, "bob")
    before = owners(conn), batch_rows(conn)

    with store.transaction(conn):
        preview = accounts.adopt_waiting(conn, bob.id, NOW, dry_run=True)
    assert (owners(conn), batch_rows(conn)) == before
    with store.transaction(conn):
        adopted = accounts.adopt_waiting(conn, bob.id, NOW)
    assert preview == adopted
    (only,) = adopted
    assert only.source is not None and only.source.username == "alice"
    assert only.rebound == flattrs.Rebound(moved=2, in_flight=1, uncertain=1)
    assert owners(conn) == {fresh: bob.id, uncertain: alice.id, busy: alice.id, loose: bob.id}
    assert batch_rows(conn)["key-fresh"] == (bob.id, NOW)
    assert batch_rows(conn)["key-uncertain"][0] == alice.id
    with store.transaction(conn):
        assert accounts.adopt_waiting(conn, bob.id, NOW)[0].rebound.moved == 0


def test_adopt_is_one_transaction(conn: sqlite3.Connection) -> None:
    alice = sign_in(conn, "alice-token")
    with store.transaction(conn):
        accounts.verify(conn, alice.id, "alice")
    first, second = enqueue(conn, alice.id, "first", "second")
    batch(conn, alice.id, [first], "key-first")
    failing = batch(conn, alice.id, [second], "key-second")
    bob = sign_in(conn, "bob-token")
    conn.execute(
        f"CREATE TEMP TRIGGER stop BEFORE UPDATE OF account_id ON batches WHEN OLD.id = {failing} "
        "BEGIN SELECT RAISE(ABORT, 'disk gone'); END"
    )
    with pytest.raises(sqlite3.IntegrityError), store.transaction(conn):
        accounts.adopt_waiting(conn, bob.id, NOW)
    assert owners(conn) == {first: alice.id, second: alice.id}
    assert {account for account, _ in batch_rows(conn).values()} == {alice.id}


def test_verifying_an_account_a_sign_in_adopted_meanwhile(tmp_path: Path) -> None:
    """GET /user of the first token is answered after a second sign-in took its flattrs."""
    path = tmp_path / "race.sqlite3"
    settings = Settings(api_base="https://api.flattr.test", submit_delay=0.0)
    conn = store.connect(path, settings)
    other = store.connect(path, settings)
    users = {"Bearer first-token": "alice", "Bearer second-token": "alice"}
    delivered: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"]
        if request.url.path == "/rest/v2/user":
            if token == "Bearer first-token":  # the user signs in again while this is asked
                with store.transaction(other):
                    accounts.sign_in(other, "second-token", True, NOW)
            return httpx.Response(200, json={"username": users[token]})
        assert token == "Bearer second-token"
        delivered.extend(item["url"] for item in json.loads(request.content))
        return httpx.Response(200, json={"status": "success"})

    transport = httpx.MockTransport(handler)
    submitter = Submitter(conn, settings, transport=transport, clock=lambda: NOW)
    try:
        first = sign_in(conn, "first-token")
        enqueue(conn, first.id, "raced")
        report = submitter.run_due()
        assert delivered == ["https://adopt.example/raced"] and report.delivered == 1
        account = accounts.current(conn)
        assert account is not None and account.username == "alice"
        assert accounts.get(conn, first.id) is None
    finally:
        submitter.close()
        other.close()
        conn.close()

"""A long backlog drains at a cost per request that does not grow with what was already sent, and
the shortcuts that buy it keep every guarantee: a batch's flattrs and key are committed before its
request, nothing is settled once the lease is lost (see docs/benchmarks.md, backlog drain)."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from flattr_host import accounts, flattrs, lease, store
from flattr_host.settings import Settings
from flattr_host.submitter import LEASE_NAME, Submitter

BASE = "https://api.flattr.test"
Handler = Callable[[httpx.Request], httpx.Response]


def delivered(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"status": "success"})


def signed_in(path: Path, settings: Settings) -> tuple[sqlite3.Connection, int]:
    """A database with a verified account (no GET /user needed)."""
    conn = store.connect(path, settings)
    with store.transaction(conn):
        account = accounts.sign_in(conn, "token-of-the-drain", True, time.time())
        accounts.verify(conn, account.id, "drainer")
    return conn, account.id


def enqueue(conn: sqlite3.Connection, account_id: int, count: int, start: int = 0) -> list[int]:
    with store.transaction(conn):
        return [
            flattrs.enqueue(
                conn,
                url=f"https://drain.example/{n}",
                page_url=f"https://drain.example/{n}",
                site="drain.example",
                title=None,
                day="2026-11-29",
                reason="attention",
                account_id=account_id,
                now=time.time(),
            )
            for n in range(start, start + count)
        ]


@dataclass
class Queued:
    """A database at ``path`` with a verified account and ``count`` flattrs queued."""

    settings: Settings
    path: Path
    conn: sqlite3.Connection
    account_id: int

    def connect(self) -> sqlite3.Connection:
        """Another connection: another process (a browser's host, a restart) on the same file."""
        return store.connect(self.path, self.settings)


def queued(tmp_path: Path, name: str, count: int, **options: Any) -> Queued:
    settings = Settings(**{"api_base": BASE, "submit_delay": 0.0, **options})
    path = tmp_path / f"{name}.sqlite3"
    conn, account_id = signed_in(path, settings)
    enqueue(conn, account_id, count)
    return Queued(settings, path, conn, account_id)


def submitter(conn: sqlite3.Connection, settings: Settings, handler: Handler) -> Submitter:
    return Submitter(conn, settings, transport=httpx.MockTransport(handler))


def vm_steps(conn: sqlite3.Connection, query: Callable[[], object]) -> int:
    """SQLite virtual-machine instructions ``query`` runs: the work it does, without a clock."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    conn.set_progress_handler(count, 1)
    try:
        query()
    finally:
        conn.set_progress_handler(None, 1)
    return steps


def test_finding_the_next_batch_never_visits_the_batches_already_sent(tmp_path: Path) -> None:
    settings = Settings(api_base=BASE, batch_size=1, submit_delay=0.0)

    def cost_after(sent: int, name: str) -> tuple[int, int]:
        conn, account_id = signed_in(tmp_path / f"{name}.sqlite3", settings)
        enqueue(conn, account_id, sent)
        drain = submitter(conn, settings, delivered)
        assert drain.flush().delivered == sent
        drain.close()
        (waiting,) = enqueue(conn, account_id, 1, start=sent)
        with store.transaction(conn):
            flattrs.new_batch(conn, account_id, [waiting], time.time(), flattrs.new_key())
        now = time.time() + 1
        due = vm_steps(conn, lambda: flattrs.due_batch(conn, account_id, now))
        upcoming = vm_steps(conn, lambda: flattrs.next_batch_at(conn, account_id))
        assert flattrs.due_batch(conn, account_id, now) is not None
        conn.close()
        return due, upcoming

    fresh = cost_after(1, "fresh")
    drained = cost_after(120, "drained")
    # The same work whether 1 or 120 batches were sent before (each visit would cost ~20 steps).
    assert drained[0] <= fresh[0] + 5, (fresh, drained)
    assert drained[1] <= fresh[1] + 5, (fresh, drained)


@pytest.mark.parametrize("batch_size", [1, 50])
def test_a_drain_commits_once_and_writes_each_flattr_twice_per_request(
    tmp_path: Path, batch_size: int
) -> None:
    settings = Settings(api_base=BASE, batch_size=batch_size, submit_delay=0.0)

    def cost(count: int) -> tuple[int, int, int]:
        """(requests, commits, rows written) of flushing ``count`` queued flattrs."""
        conn, account_id = signed_in(tmp_path / f"cost-{count}.sqlite3", settings)
        enqueue(conn, account_id, count)
        statements: list[str] = []
        conn.set_trace_callback(statements.append)
        changes = conn.total_changes
        drain = submitter(conn, settings, delivered)
        report = drain.flush()
        written = conn.total_changes - changes
        conn.set_trace_callback(None)
        drain.close()
        conn.close()
        assert report.delivered == count
        return report.requests, statements.count("COMMIT"), written

    small, large = cost(2 * batch_size), cost(6 * batch_size)
    requests = large[0] - small[0]
    assert requests == 4
    # Per request: one commit, that settles the answer before it and starts the batch after it
    # (lease, batch, in flight) while it is on the wire.
    assert large[1] - small[1] == requests, (small, large)
    # Per flattr: written once to go (batch and in flight at once), once delivered; per request
    # a handful of rows more (batch, lease, last delivery).
    assert large[2] - small[2] <= 2 * (4 * batch_size) + 6 * requests, (small, large)


class Crash(BaseException):
    """The process dies during the request: its outcome is never recorded."""


def test_a_batch_and_its_key_are_committed_before_its_request(tmp_path: Path) -> None:
    q = queued(tmp_path, "crash", 5, batch_size=3)
    keys: list[str] = []
    bodies: list[list[str]] = []

    def dies_during_the_first_request(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        bodies.append([item["url"] for item in json.loads(request.content)])
        if len(keys) == 1:
            raise Crash
        return delivered(request)

    with pytest.raises(Crash):
        submitter(q.conn, q.settings, dies_during_the_first_request).flush()
    other = q.connect()  # what a restart reads
    in_flight = other.execute(
        "SELECT f.url, b.idempotency_key FROM flattrs f JOIN batches b ON b.id = f.batch_id "
        "WHERE f.state = 'in_flight' ORDER BY f.id"
    ).fetchall()
    # The batch on the wire, with its key; the next one was started meanwhile (never sent).
    assert [tuple(row) for row in in_flight[:3]] == [(url, keys[0]) for url in bodies[0]]
    assert len(in_flight) == 5
    with store.transaction(other):  # the dead process's lease ends with it
        other.execute("DELETE FROM lease")
    report = submitter(other, q.settings, dies_during_the_first_request).flush()
    assert report.delivered == 5
    # The batch that may have reached the server goes again whole, with its key; the rest new.
    assert keys[1] == keys[0] and bodies[1] == bodies[0]
    sent = sorted(url for body in bodies[1:] for url in body)
    assert len(set(keys)) == 2 and sent == sorted(f"https://drain.example/{n}" for n in range(5))


def test_nothing_is_settled_once_the_lease_was_taken_during_the_request(tmp_path: Path) -> None:
    q = queued(tmp_path, "lease", 4, batch_size=2)
    rival = q.connect()

    def taken_over_meanwhile(request: httpx.Request) -> httpx.Response:
        # The request outlasted the lease and another process took it over.
        far = time.time() + 10 * q.settings.lease_seconds
        assert lease.acquire(rival, LEASE_NAME, "another:holder", far, q.settings.lease_seconds)
        return delivered(request)

    report = submitter(q.conn, q.settings, taken_over_meanwhile).flush()
    # The next batch may have gone before the lease was found lost (it was committed in flight,
    # with its key, while the lease was ours): never a third, and nothing settled.
    assert report.requests <= 2 and (report.delivered, report.waiting) == (0, "busy")
    states = [r[0] for r in q.conn.execute("SELECT state FROM flattrs ORDER BY id")]
    # The outcome belongs to the new holder, which re-sends them with the same key.
    assert states[:2] == ["in_flight", "in_flight"]
    # The next batch: sent, or started (in flight) or not before the lease was found lost.
    possible = [["in_flight"] * 2] if report.requests == 2 else [["in_flight"] * 2, ["pending"] * 2]
    assert states[2:] in possible
    rival.close()
    q.conn.close()


def test_schema_4_is_migrated_with_its_sent_batches_done(tmp_path: Path) -> None:
    path = tmp_path / "schema4.sqlite3"
    old = sqlite3.connect(path)
    for script in store.MIGRATIONS[:4]:
        old.executescript(script)
    old.execute("INSERT INTO accounts (id, token, signed_in_at) VALUES (1, 't', 0)")
    # Batch 1 delivered, 2 waiting, 3 refused, 4 being sent, 5 delivered but one flattr failed.
    states = {1: ["delivered"] * 2, 2: ["pending"], 3: ["rejected"], 4: ["in_flight"]}
    states[5] = ["delivered", "failed"]
    for batch, items in states.items():
        old.execute(
            "INSERT INTO batches (id, account_id, idempotency_key, next_attempt_at, created_at) "
            "VALUES (?, 1, ?, 0, 0)",
            (batch, f"key-{batch}"),
        )
        for state in items:
            old.execute(
                "INSERT INTO flattrs (url, page_url, site, day, reason, account_id, state, "
                "batch_id, created_at, updated_at) VALUES ('u', 'u', 's', 'd', 'attention', 1, "
                "?, ?, 0, 0)",
                (state, batch),
            )
    old.execute("PRAGMA user_version = 4")
    old.commit()
    old.close()
    conn = store.connect(path, Settings())
    assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
    done = dict(conn.execute("SELECT id, done FROM batches").fetchall())
    assert done == {1: 1, 2: 0, 3: 1, 4: 0, 5: 0}
    due = flattrs.due_batch(conn, 1, 1.0)
    assert due is not None and due.id == 2
    assert flattrs.next_batch_at(conn, 1) == 0.0
    conn.close()


def test_progress_counts_the_queue_once_and_again_when_flattrs_arrive(tmp_path: Path) -> None:
    q = queued(tmp_path, "progress", 6, batch_size=2)
    browser = q.connect()  # the host of a browser, queueing meanwhile
    seen: list[tuple[int, int]] = []

    def shown(done: int, total: int) -> None:
        seen.append((done, total))
        if len(seen) == 2:
            enqueue(browser, q.account_id, 2, start=100)

    statements: list[str] = []
    q.conn.set_trace_callback(statements.append)
    report = submitter(q.conn, q.settings, delivered).flush(progress=shown)
    q.conn.set_trace_callback(None)
    assert report.delivered == 8
    assert seen == [(0, 6), (2, 6), (4, 8), (6, 8), (8, 8)]
    counts = [s for s in statements if s.startswith("SELECT COUNT(*) FROM flattrs WHERE account")]
    # For progress at the start and once the browser's flattrs came; once more at the end, to
    # tell why the run stopped.
    assert len(counts) == 3, counts
    browser.close()
    q.conn.close()


def test_flattrs_arriving_during_a_drain_do_not_hold_back_its_full_batches(
    tmp_path: Path,
) -> None:
    q = queued(tmp_path, "trickle", 120, batch_size=50, submit_delay=1.0)
    browser = q.connect()  # a flattr earned meanwhile, at every request
    sizes: list[int] = []

    def meanwhile(request: httpx.Request) -> httpx.Response:
        sizes.append(len(json.loads(request.content)))
        enqueue(browser, q.account_id, 1, start=1000 + len(sizes))
        return delivered(request)

    run = submitter(q.conn, q.settings, meanwhile)
    # A scheduled round (not a flush) just after the last arrival: the submit delay runs.
    report = run.run_due(now=time.time())
    # Full batches go at once; the rest (the backlog's tail and the new flattrs) waits for the
    # delay, so that it shares a request.
    assert sizes == [50, 50] and report.waiting == "submit_delay"
    assert run.next_due(time.time()) is not None
    browser.close()
    q.conn.close()


def test_the_queries_of_each_request_never_scan_the_queue(tmp_path: Path) -> None:
    conn, account_id = signed_in(tmp_path / "plans.sqlite3", Settings())
    assert account_id == 1
    issued: list[str] = []
    conn.set_trace_callback(issued.append)
    with store.transaction(conn):
        flattrs.fills_a_batch(conn, 1, 50)
        flattrs.start_new_batch(conn, 1, 50, 1.0, "key")
        flattrs.in_flight(conn, 1)
        flattrs.deliver(conn, 1, 200, 1.0)
        flattrs.close_if_done(conn, 1)
        flattrs.next_batch_at(conn, 1)
    conn.set_trace_callback(None)
    for sql in issued:
        if sql.startswith(("SELECT", "UPDATE", "DELETE")):
            plan = " / ".join(r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN" not in plan, (sql, plan)
    conn.close()


# --- the pipeline: the next batch starts while a request is on the wire ------------------------


def wait_for(check: Callable[[], bool], what: str) -> None:
    """Poll until ``check`` holds (a generous bound: this tests order, never speed)."""
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)


def states_by_batch(conn: sqlite3.Connection) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for batch_id, state in conn.execute("SELECT batch_id, state FROM flattrs"):
        if batch_id is not None:
            found.setdefault(int(batch_id), set()).add(str(state))
    return found


def test_each_answer_is_recorded_and_the_next_batch_started_while_a_request_is_on_the_wire(
    tmp_path: Path,
) -> None:
    q = queued(tmp_path, "pipeline", 8, batch_size=2)
    observer = q.connect()
    keys: list[str] = []

    def key_of(batch: int) -> str | None:
        row = observer.execute(
            "SELECT idempotency_key FROM batches ORDER BY id LIMIT 1 OFFSET ?", (batch - 1,)
        ).fetchone()
        return None if row is None else str(row[0])

    def batch_states(batch: int) -> set[str]:
        found = states_by_batch(observer)
        return found[sorted(found)[batch - 1]] if len(found) >= batch else set()

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        n = len(keys)
        # This request's batch was committed in flight, with this key, before it was sent.
        assert key_of(n) == keys[-1] and batch_states(n) == {"in_flight"}
        if n < 4:  # the next batch is started while this request is on the wire ...
            wait_for(lambda: batch_states(n + 1) == {"in_flight"}, f"batch {n + 1} started")
        if n > 1:  # ... and the answer before this one recorded meanwhile
            wait_for(lambda: batch_states(n - 1) == {"delivered"}, f"batch {n - 1} recorded")
        return delivered(request)

    report = submitter(q.conn, q.settings, handler).flush()
    assert (report.requests, report.delivered) == (4, 8) and len(set(keys)) == 4
    observer.close()
    q.conn.close()


def answered(code: int, **body: object) -> Handler:
    """The first request gets status ``code`` (with ``body`` and headers ``X-...`` from keys of
    ``body`` starting with ``header_``); every later one is delivered."""
    seen: list[httpx.Request] = []
    headers = {
        k[len("header_") :].replace("_", "-"): str(v)
        for k, v in body.items()
        if k.startswith("header_")
    }
    payload = {k: v for k, v in body.items() if not k.startswith("header_")}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(code, json=payload, headers=headers)
        return delivered(request)

    return handler


@pytest.mark.parametrize(
    ("first", "waiting"),
    [
        (answered(503), "backoff"),
        (answered(429, error="rate_limit_exceeded"), "rate_limited"),
        (answered(401, error="invalid_token"), "signed_out"),
        (answered(402, error="subscription_inactive"), "subscription_inactive"),
        # Delivered, but the window has no more than the reserve left: wait for its reset.
        (
            answered(
                200,
                status="success",
                header_X_RateLimit_Remaining=1,
                header_X_RateLimit_Reset=int(time.time()) + 600,
            ),
            "rate_limited",
        ),
    ],
    ids=["503", "429", "401", "402", "window-used-up"],
)
def test_an_answer_that_stops_the_drain_sends_nothing_more_and_keeps_the_next_batch(
    tmp_path: Path, first: Handler, waiting: str
) -> None:
    q = queued(tmp_path, "stops", 6, batch_size=2)
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        keys.append(request.headers["Idempotency-Key"])
        # The drain must not go on before the first answer was recorded.
        if len(keys) == 1:
            wait_for(lambda: len(states_by_batch(conn_view)) == 2, "the next batch started")
        return first(request)

    conn_view = q.connect()
    report = submitter(q.conn, q.settings, handler).flush()
    assert (report.requests, report.waiting) == (1, waiting)
    batches = states_by_batch(conn_view)
    # The batch started while the first request was on the wire went back to waiting, unsent,
    # in its batch (with its key, never used).
    assert len(batches) == 2 and batches[sorted(batches)[1]] == {"pending"}
    assert not conn_view.execute("SELECT 1 FROM flattrs WHERE state = 'in_flight'").fetchone()
    conn_view.close()
    q.conn.close()


def test_a_sign_out_during_the_drain_starts_no_further_batch(tmp_path: Path) -> None:
    q = queued(tmp_path, "signout", 6, batch_size=1)
    browser = q.connect()  # the browser's host: the user signs out there
    requests: list[int] = []

    def signs_out_at_the_second(request: httpx.Request) -> httpx.Response:
        requests.append(1)
        if len(requests) == 2:
            with store.transaction(browser):
                accounts.sign_out(browser, time.time())
        return delivered(request)

    report = submitter(q.conn, q.settings, signs_out_at_the_second).flush()
    # The request on the wire at the sign-out, and the batch started before it, may go; no more.
    assert report.requests <= 3 and report.waiting == "signed_out"
    assert not q.conn.execute("SELECT 1 FROM flattrs WHERE state = 'in_flight'").fetchone()
    browser.close()
    q.conn.close()


def test_a_request_on_the_wire_never_keeps_the_process_alive(tmp_path: Path) -> None:
    # Its batch is committed in flight and goes again with its key at the next start, so neither
    # a host whose browser went away nor an interrupted `flattr-host flush` waits for it.
    q = queued(tmp_path, "daemon", 2, batch_size=1)
    threads: list[threading.Thread] = []

    def seen_from_the_request(request: httpx.Request) -> httpx.Response:
        threads.append(threading.current_thread())
        return delivered(request)

    run = submitter(q.conn, q.settings, seen_from_the_request)
    assert run.flush().delivered == 2
    run.close()
    assert threads and threads[0] is not threading.main_thread()
    assert all(thread.daemon for thread in threads)
    q.conn.close()

"""The submitter against the real local Flattr server over TCP (one server process per module).

Time: the submitter gets an injected clock that starts at the real time (the server's Date and
X-RateLimit-Reset headers are real) and is moved forward by the tests, so back-off waits cost
nothing. A few cases that need exact answers the server cannot give use httpx.MockTransport.
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flattr_host import accounts, flattrs, store
from flattr_host.api import ConfigError
from flattr_host.holds import (
    HOLD_KEY,
    LAST_DELIVERY_KEY,
    LAST_ERROR_KEY,
    RATE_LIMIT_KEY,
    subscription_reactivated,
)
from flattr_host.service import Service
from flattr_host.settings import Settings
from flattr_host.status import status_summary
from flattr_host.submitter import SubmitReport, Submitter
from flattr_sim import SimProcess
from flattr_sim.users import fingerprint
from helpers import fast_settings, queue_flattr

RETRY_STATUSES = (408, 409, 500, 502, 503, 504, 525, 599)
TOKEN_A = "token-alice-1"
TOKEN_B = "token-bob-1"
FLATTR_PAGE = "https://flattr.com/oauth/ext"
HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def to(self, when: float | None) -> None:
        assert when is not None
        self.t = max(self.t, when)


@dataclasses.dataclass
class Events:
    seen: list[tuple[str, dict[str, Any]]] = dataclasses.field(default_factory=list)

    def __call__(self, name: str, payload: dict[str, Any]) -> None:
        self.seen.append((name, payload))

    def named(self, name: str) -> list[dict[str, Any]]:
        return [payload for seen, payload in self.seen if seen == name]


@pytest.fixture(scope="module", autouse=True)
def _users(sim: SimProcess) -> None:
    sim.control.add_user("alice", TOKEN_A)
    sim.control.add_user("bob", TOKEN_B)


@pytest.fixture(autouse=True)
def _subscribed(fresh_sim: SimProcess) -> None:
    fresh_sim.control.set_subscription(username="alice", active=True, legacy_402=False)
    fresh_sim.control.set_subscription(username="bob", active=True)


def fast(sim: SimProcess, **overrides: Any) -> Settings:
    """Quicker still, without jitter, and a flattr fails after three attempts."""
    figures = {"backoff_base": 0.05, "backoff_max": 0.4, "backoff_jitter": 0.0, "max_attempts": 3}
    return fast_settings(sim, **{**figures, "failed_retry_interval": 100.0, **overrides})


@dataclasses.dataclass
class Rig:
    conn: sqlite3.Connection
    settings: Settings
    clock: Clock
    events: Events
    submitter: Submitter
    path: Path

    def sign_in(self, token: str, active: bool | None = True) -> accounts.Account:
        with store.transaction(self.conn):
            return accounts.sign_in(self.conn, token, active, self.clock())

    def enqueue(self, *urls: str, account_id: int | None = None) -> list[int]:
        if account_id is None:
            current = accounts.current(self.conn)
            assert current is not None
            account_id = current.id
        with store.transaction(self.conn):
            return [
                queue_flattr(
                    self.conn,
                    url,
                    site="example.org",
                    day="2026-01-01",
                    account_id=account_id,
                    now=self.clock(),
                )
                for url in urls
            ]

    def run_once(self, url: str) -> tuple[int, float, SubmitReport]:
        """TOKEN_A signs in, ``url`` is queued, the submitter runs once: (item, when, report)."""
        self.sign_in(TOKEN_A)
        (item,) = self.enqueue(url)
        start = self.clock()
        return item, start, self.submitter.run_due()

    def states(self) -> dict[str, str]:
        rows = self.conn.execute("SELECT url, state FROM flattrs ORDER BY id").fetchall()
        return {row["url"]: row["state"] for row in rows}

    def batch_of(self, item_id: int) -> flattrs.Batch:
        row = self.conn.execute("SELECT batch_id FROM flattrs WHERE id = ?", (item_id,)).fetchone()
        batch = flattrs.get_batch(self.conn, int(row[0]))
        assert batch is not None
        return batch

    def renew(self, **overrides: Any) -> Submitter:
        """A new submitter (as after a restart) on a new connection to the same file."""
        self.submitter.close()
        self.conn = store.connect(self.path, self.settings)
        self.settings = self.settings._replace(**overrides)
        self.submitter = Submitter(self.conn, self.settings, on_event=self.events, clock=self.clock)
        return self.submitter


@pytest.fixture()
def rig(sim: SimProcess, tmp_path: Path) -> Iterator[Rig]:
    settings = fast(sim)
    path = tmp_path / "companion.sqlite3"
    conn = store.connect(path, settings)
    clock, events = Clock(), Events()
    submitter = Submitter(conn, settings, on_event=events, clock=clock)
    rig = Rig(conn, settings, clock, events, submitter, path)
    yield rig
    rig.submitter.close()
    rig.conn.close()


def bulk(sim: SimProcess) -> list[dict[str, Any]]:
    return [r for r in sim.control.received() if r["path"].endswith("/flattr/bulk")]


def sign_in_from_flattr(rig: Rig, token: str, active: bool | None) -> None:
    """The ``token`` request of the flattr.com handshake, through the host's request handler."""
    service = Service(rig.conn, rig.settings, lambda event: None, None)
    service.clock = rig.clock
    message: dict[str, Any] = {"id": 1, "type": "token", "token": token, "page_url": FLATTR_PAGE}
    if active is not None:
        message["subscription"] = {"active": active}
    (reply,) = service.handle_batch([message])
    assert reply["ok"], reply


# --- delivery --------------------------------------------------------------------------------


def test_happy_path_delivers_once_with_headers(rig: Rig, sim: SimProcess) -> None:
    account = rig.sign_in(TOKEN_A)
    rig.enqueue("https://a.example/1", "https://a.example/1", "https://a.example/2")
    report = rig.submitter.run_due()
    assert (report.requests, report.delivered, report.waiting) == (2, 3, None)  # user + bulk
    assert set(rig.states().values()) == {"delivered"}
    assert [f["url"] for f in sim.control.flattrs()] == [
        "https://a.example/1",
        "https://a.example/1",
        "https://a.example/2",
    ]
    assert {f["username"] for f in sim.control.flattrs()} == {"alice"}
    (request,) = bulk(sim)
    assert request["token_ok"] and len(request["idempotency_key"]) == 36
    verified = accounts.get(rig.conn, account.id)
    assert verified is not None and verified.username == "alice"
    assert rig.events.named("queue")[-1]["delivered"] == 3
    assert store.get(rig.conn, LAST_DELIVERY_KEY) == pytest.approx(rig.clock())
    assert store.get(rig.conn, RATE_LIMIT_KEY)["limit"] == 1000
    assert rig.submitter.next_due() is None
    # Nothing more to do: no further request.
    assert rig.submitter.run_due().requests == 0


def test_batches_of_batch_size_each_with_its_own_key(rig: Rig, sim: SimProcess) -> None:
    rig.renew(batch_size=2)
    rig.sign_in(TOKEN_A)
    rig.enqueue(*[f"https://b.example/{i}" for i in range(5)])
    assert rig.submitter.run_due().delivered == 5
    requests = bulk(sim)
    assert [len(r["urls"]) for r in requests] == [2, 2, 1]
    assert len({r["idempotency_key"] for r in requests}) == 3


def test_submit_delay_lets_a_burst_share_a_batch(rig: Rig, sim: SimProcess) -> None:
    rig.renew(submit_delay=1.0)
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://c.example/1")
    report = rig.submitter.run_due()
    assert report.waiting == "submit_delay" and bulk(sim) == []
    rig.clock.t += 0.5
    rig.enqueue("https://c.example/2")
    assert rig.submitter.next_due() == pytest.approx(rig.clock() + 1.0)
    rig.clock.to(rig.submitter.next_due())
    assert rig.submitter.run_due().delivered == 2
    assert [len(r["urls"]) for r in bulk(sim)] == [2]


def test_retries_keep_the_idempotency_key(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"status": 503}, {"status": 503}], dedupe=True)
    rig.sign_in(TOKEN_A)
    (item,) = rig.enqueue("https://d.example/")
    first = rig.submitter.run_due()
    assert first.waiting == "backoff" and first.retry_at is not None
    assert first.retry_at == pytest.approx(rig.clock() + 0.05)
    assert rig.states() == {"https://d.example/": "pending"}
    rig.clock.to(first.retry_at)
    second = rig.submitter.run_due()
    assert second.waiting == "backoff"
    assert second.retry_at == pytest.approx(rig.clock() + 0.1)  # grows: 0.05, 0.1, ...
    assert rig.batch_of(item).attempts == 2
    rig.clock.to(second.retry_at)
    assert rig.submitter.run_due().delivered == 1
    requests = bulk(sim)
    assert [r["status"] for r in requests] == [503, 503, 200]
    assert len({r["idempotency_key"] for r in requests}) == 1
    assert len(sim.control.flattrs()) == 1
    assert store.get(rig.conn, LAST_ERROR_KEY) is None
    assert store.get(rig.conn, HOLD_KEY) is None


@pytest.mark.parametrize("status", RETRY_STATUSES)
def test_each_retry_status_backs_off_then_delivers(rig: Rig, sim: SimProcess, status: int) -> None:
    sim.control.set_faults(script=[{"status": status}])
    rig.sign_in(TOKEN_A)
    (item,) = rig.enqueue("https://e.example/")
    report = rig.submitter.run_due()
    assert (report.waiting, report.delivered) == ("backoff", 0)
    assert rig.batch_of(item).attempts == 1
    assert rig.batch_of(item).last_status == status
    assert store.get(rig.conn, LAST_ERROR_KEY)["status"] == status
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1
    assert len(sim.control.flattrs()) == 1


def test_dropped_connection_is_retried(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"drop": True}])
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://f.example/")
    report = rig.submitter.run_due()
    assert report.waiting == "backoff" and report.error and "network error" in report.error
    assert store.get(rig.conn, LAST_ERROR_KEY)["status"] is None
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


def test_accepted_but_unanswered_is_recorded_once(rig: Rig, sim: SimProcess) -> None:
    # The server records the batch, then the connection drops: the retry carries the same key
    # and the de-duplicating server does not record it twice.
    sim.control.set_faults(script=[{"drop": True, "accept": True}], dedupe=True)
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://g.example/", "https://g.example/")
    report = rig.submitter.run_due()
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 2
    requests = bulk(sim)
    assert len(requests) == 2 and requests[1]["duplicate"]
    assert len(sim.control.flattrs()) == 2  # two flattrs of one URL, each once


@pytest.mark.parametrize("http_date", [False, True])
def test_retry_after_is_honoured(rig: Rig, sim: SimProcess, http_date: bool) -> None:
    value: int | str = 30
    if http_date:
        value = email.utils.formatdate(time.time() + 30, usegmt=True)
    sim.control.set_faults(script=[{"status": 503, "retry_after": value}])
    item, start, report = rig.run_once("https://h.example/")
    assert report.retry_at is not None and report.retry_at >= start + 28
    assert rig.batch_of(item).next_attempt_at >= start + 28
    rig.clock.t = start + 10
    assert rig.submitter.run_due().requests == 0
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


def test_backoff_is_not_reset_by_new_flattrs(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"status": 503}, {"status": 503}])
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://i.example/1")
    first = rig.submitter.run_due()
    rig.clock.to(first.retry_at)
    second = rig.submitter.run_due()
    hold_until = second.retry_at
    assert hold_until is not None
    rig.enqueue("https://i.example/2")  # a new flattr (its own new batch) ...
    report = rig.submitter.run_due()  # ... does not bring the next attempt forward
    assert report.requests == 0 and report.waiting == "backoff"
    assert rig.submitter.next_due() == pytest.approx(hold_until)
    assert len(bulk(sim)) == 2
    rig.clock.to(hold_until)
    assert rig.submitter.run_due().delivered == 2


def test_max_attempts_then_failed_then_flush_delivers(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"status": 500}] * 3)
    rig.sign_in(TOKEN_A)
    (item,) = rig.enqueue("https://j.example/")
    report = rig.submitter.run_due()
    for _ in range(2):
        rig.clock.to(report.retry_at)
        report = rig.submitter.run_due()
    assert report.failed == 1 and rig.states() == {"https://j.example/": "failed"}
    batch = rig.batch_of(item)
    assert batch.attempts == 3
    assert batch.next_attempt_at == pytest.approx(rig.clock() + 100.0)  # the slow schedule
    assert status_summary(rig.conn, rig.clock(), rig.settings)["counts"]["failed"] == 1
    seen: list[tuple[int, int]] = []
    flushed = rig.submitter.flush(progress=lambda done, total: seen.append((done, total)))
    assert flushed.delivered == 1 and seen[-1] == (1, 1)
    assert rig.states() == {"https://j.example/": "delivered"}
    assert len({r["idempotency_key"] for r in bulk(sim)}) == 1


def test_failed_items_go_again_on_the_slow_schedule(rig: Rig, sim: SimProcess) -> None:
    rig.renew(max_attempts=1)
    sim.control.set_faults(script=[{"status": 502}])
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://k.example/")
    report = rig.submitter.run_due()
    assert rig.states() == {"https://k.example/": "failed"}
    assert report.retry_at == pytest.approx(rig.clock() + 100.0)
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


def test_a_2xx_whose_body_is_an_error_is_not_a_delivery(rig: Rig, sim: SimProcess) -> None:
    # 200 {"error": ...}: the API's error shape under a success status. Retried with the same
    # key (a de-duplicating server records it once if it did record it), never marked delivered.
    error = {"error": "server_error", "error_description": "try again later"}
    sim.control.set_faults(script=[{"status": 200, "body": error}], dedupe=True)
    rig.sign_in(TOKEN_A)
    (item,) = rig.enqueue("https://ok200.example/")
    report = rig.submitter.run_due()
    assert (report.delivered, report.waiting) == (0, "backoff")
    assert rig.states() == {"https://ok200.example/": "pending"}
    assert rig.batch_of(item).attempts == 1
    assert report.error is not None and "try again later" in report.error
    assert store.get(rig.conn, LAST_DELIVERY_KEY) is None
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1
    assert len({r["idempotency_key"] for r in bulk(sim)}) == 1
    assert len(sim.control.flattrs()) == 1


# --- account and subscription ----------------------------------------------------------------


def test_401_signs_out_and_keeps_the_items(rig: Rig, sim: SimProcess) -> None:
    sim.control.add_user("alice", "token-alice-2")
    account = rig.sign_in("token-alice-2")
    with store.transaction(rig.conn):  # verified earlier, so the bulk request is the first
        accounts.verify(rig.conn, account.id, "alice")
    (item,) = rig.enqueue("https://l.example/")
    sim.control.revoke("token-alice-2")
    report = rig.submitter.run_due()
    assert report.waiting == "signed_out"
    assert [r["status"] for r in bulk(sim)] == [401]
    (signed_out,) = rig.events.named("signed_out")
    assert signed_out["signed_out_reason"] == "token_rejected"
    assert (signed_out["signed_in"], signed_out["username"]) == (False, "alice")
    after = accounts.get(rig.conn, account.id)
    assert after is not None and after.token is None
    assert rig.states() == {"https://l.example/": "pending"}
    key = rig.batch_of(item).idempotency_key
    assert rig.submitter.next_due() is None
    assert rig.submitter.run_due().requests == 0
    # The same user signs in again: the items go with the new token, in their batch.
    rig.sign_in(TOKEN_A)
    assert rig.submitter.run_due().delivered == 1
    assert bulk(sim)[-1]["idempotency_key"] == key
    assert bulk(sim)[-1]["token_fingerprint"] == fingerprint(TOKEN_A)
    assert accounts.current(rig.conn) == accounts.get(rig.conn, account.id)


def test_402_marks_subscription_inactive_and_keeps_items(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_subscription(username="alice", active=False, legacy_402=True)
    account = rig.sign_in(TOKEN_A, active=True)
    rig.enqueue("https://m.example/")
    report = rig.submitter.run_due()
    assert report.waiting == "subscription_inactive"
    assert rig.events.named("subscription") == [{"active": False}]
    after = accounts.get(rig.conn, account.id)
    assert after is not None and after.subscription_active is False
    assert rig.states() == {"https://m.example/": "pending"}
    assert report.retry_at == pytest.approx(rig.clock() + 100.0)
    # New flattrs do not hit the server while it says 402.
    rig.enqueue("https://m.example/2")
    assert rig.submitter.run_due().requests == 0
    assert status_summary(rig.conn, rig.clock(), rig.settings)["hold"] == "subscription_inactive"
    # flattr.com reports the subscription active again: the batch is due at once.
    sim.control.set_subscription(username="alice", active=True)
    with store.transaction(rig.conn):
        accounts.set_subscription(rig.conn, account.id, True)
    assert subscription_reactivated(rig.conn, rig.clock()) == 1
    assert rig.submitter.next_due() == pytest.approx(rig.clock())
    assert rig.submitter.run_due().delivered == 2


@pytest.mark.parametrize("fresh_token", [False, True], ids=["same-token", "fresh-token"])
def test_a_sign_in_with_an_active_subscription_lifts_the_402_hold(
    rig: Rig, sim: SimProcess, fresh_token: bool
) -> None:
    sim.control.set_subscription(username="alice", active=False, legacy_402=True)
    sign_in_from_flattr(rig, TOKEN_A, active=True)
    rig.enqueue("https://renewed.example/")
    report = rig.submitter.run_due()
    assert report.waiting == "subscription_inactive"
    assert report.retry_at == pytest.approx(rig.clock() + 100.0)
    # The user renews on flattr.com, and its sign-in hands over a token with active: true.
    sim.control.set_subscription(username="alice", active=True)
    token = TOKEN_A
    if fresh_token:
        token = "token-alice-renewed"
        sim.control.add_user("alice", token)
    sign_in_from_flattr(rig, token, active=True)
    if not fresh_token:  # the same account: no hold left, due at once
        summary = status_summary(rig.conn, rig.clock(), rig.settings)
        assert summary["hold"] is None
        assert summary["next_retry_at"] == pytest.approx(rig.clock())
    report = rig.submitter.run_due()  # no time has passed
    assert (report.delivered, report.waiting) == (1, None)
    assert status_summary(rig.conn, rig.clock(), rig.settings)["hold"] is None
    assert [f["url"] for f in sim.control.flattrs()] == ["https://renewed.example/"]


def test_a_sign_in_that_says_nothing_of_the_subscription_keeps_the_402_hold(
    rig: Rig, sim: SimProcess
) -> None:
    sim.control.set_subscription(username="alice", active=False, legacy_402=True)
    sign_in_from_flattr(rig, TOKEN_A, active=True)
    rig.enqueue("https://still.example/")
    assert rig.submitter.run_due().waiting == "subscription_inactive"
    sign_in_from_flattr(rig, TOKEN_A, active=None)
    assert rig.submitter.run_due().requests == 0
    assert status_summary(rig.conn, rig.clock(), rig.settings)["hold"] == "subscription_inactive"


def test_body_subscription_inactive_is_read(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_subscription(username="alice", active=False, legacy_402=False)
    account = rig.sign_in(TOKEN_A, active=True)
    rig.enqueue("https://n.example/")
    assert rig.submitter.run_due().delivered == 1  # recorded, though sandboxed
    after = accounts.get(rig.conn, account.id)
    assert after is not None and after.subscription_active is False
    assert rig.events.named("subscription") == [{"active": False}]
    sim.control.set_subscription(username="alice", active=True)
    rig.enqueue("https://n.example/2")
    rig.submitter.run_due()
    assert rig.events.named("subscription") == [{"active": False}, {"active": True}]


def test_two_accounts_never_share_a_token(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"status": 503}])
    alice = rig.sign_in(TOKEN_A)
    rig.enqueue("https://alice.example/1")
    report = rig.submitter.run_due()  # verified, then 503: alice's batch waits with its key
    assert report.waiting == "backoff"
    rig.enqueue("https://alice.example/2")
    bob = rig.sign_in(TOKEN_B)  # another user signs in on this browser
    rig.enqueue("https://bob.example/1")
    rig.clock.t += 10
    report = rig.submitter.flush()
    assert report.delivered == 1
    assert rig.states()["https://alice.example/1"] == "pending"
    assert rig.states()["https://alice.example/2"] == "pending"
    summary = status_summary(rig.conn, rig.clock(), rig.settings)
    assert summary["waiting_for_other_accounts"] == 2
    # Nothing of alice's was ever sent with bob's token.
    for request in bulk(sim):
        if request["token_fingerprint"] == fingerprint(TOKEN_B):
            assert request["urls"] == ["https://bob.example/1"]
    assert {f["url"] for f in sim.control.flattrs() if f["username"] == "bob"} == {
        "https://bob.example/1"
    }
    assert rig.submitter.run_due().waiting == "waiting_for_account"
    # Alice signs in again (a new token): her items go, under her name.
    sim.control.add_user("alice", "token-alice-3")
    rig.sign_in("token-alice-3")
    assert rig.submitter.run_due().delivered == 2
    assert accounts.current(rig.conn) == accounts.get(rig.conn, alice.id)
    by_user = {(f["url"], f["username"]) for f in sim.control.flattrs()}
    assert by_user == {
        ("https://alice.example/1", "alice"),
        ("https://alice.example/2", "alice"),
        ("https://bob.example/1", "bob"),
    }
    assert bob.id != alice.id


def test_no_account_or_no_token_sends_nothing(rig: Rig, sim: SimProcess) -> None:
    account = rig.sign_in(TOKEN_A)
    rig.enqueue("https://o.example/")
    with store.transaction(rig.conn):
        accounts.sign_out(rig.conn, rig.clock())
    report = rig.submitter.run_due()
    assert report.waiting == "signed_out" and report.requests == 0
    assert rig.submitter.next_due() is None
    assert status_summary(rig.conn, rig.clock(), rig.settings)["hold"] == "signed_out"
    assert account.id


# --- rate limits -----------------------------------------------------------------------------


def test_403_rate_limit_holds_until_reset_without_counting(rig: Rig, sim: SimProcess) -> None:
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://p.example/")
    rig.submitter.run_due()  # verifies and delivers
    (item,) = rig.enqueue("https://p.example/2")
    sim.control.set_rate_limit(limit=10, remaining=0, reset_in=30)
    start = rig.clock()
    report = rig.submitter.run_due()
    assert report.waiting == "rate_limited"
    (request,) = [r for r in bulk(sim) if r["urls"] == ["https://p.example/2"]]
    assert request["status"] == 403
    assert rig.batch_of(item).attempts == 0  # not counted
    assert report.retry_at is not None and start + 29 <= report.retry_at <= start + 33
    assert status_summary(rig.conn, rig.clock(), rig.settings)["hold"] == "rate_limited"
    rig.clock.t = start + 10
    assert rig.submitter.run_due().requests == 0
    sim.control.set_rate_limit(limit=1000, remaining=1000, reset_in=3600)
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


def test_429_holds_for_retry_after_without_counting(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"status": 429, "retry_after": 20}])
    item, start, report = rig.run_once("https://q.example/")
    assert report.waiting == "rate_limited"
    assert rig.batch_of(item).attempts == 0
    assert report.retry_at is not None and report.retry_at >= start + 20
    rig.clock.t = start + 19
    assert rig.submitter.run_due().requests == 0
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


def test_429_retry_after_decides_while_the_window_has_room(rig: Rig, sim: SimProcess) -> None:
    # The answer carries the API's usual headers: 999 left, reset an hour away.
    sim.control.set_rate_limit(limit=1000, remaining=999, reset_in=3600)
    sim.control.set_faults(script=[{"status": 429, "retry_after": 2}])
    item, start, report = rig.run_once("https://ra.example/")
    assert report.waiting == "rate_limited" and rig.batch_of(item).attempts == 0
    assert store.get(rig.conn, RATE_LIMIT_KEY)["remaining"] >= 990
    assert report.retry_at is not None and start + 2 <= report.retry_at <= start + 3
    summary = status_summary(rig.conn, rig.clock(), rig.settings)
    assert summary["hold"] == "rate_limited"
    assert summary["next_retry_at"] == pytest.approx(report.retry_at)
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


def test_503_retry_after_decides_over_the_backoff(rig: Rig, sim: SimProcess) -> None:
    rig.renew(backoff_base=60.0, backoff_max=3840.0)
    sim.control.set_faults(script=[{"status": 503, "retry_after": 2}])
    item, start, report = rig.run_once("https://ra503.example/")
    assert report.waiting == "backoff" and rig.batch_of(item).attempts == 1
    assert report.retry_at is not None and start + 2 <= report.retry_at <= start + 3
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


def test_an_exhausted_window_holds_until_its_reset_despite_retry_after(
    rig: Rig, sim: SimProcess
) -> None:
    account = rig.sign_in(TOKEN_A)
    with store.transaction(rig.conn):  # verified earlier, so the bulk request is the first
        accounts.verify(rig.conn, account.id, "alice")
    rig.enqueue("https://rx.example/")
    sim.control.set_rate_limit(limit=1000, remaining=0, reset_in=600)
    sim.control.set_faults(script=[{"status": 429, "retry_after": 2}])
    start = rig.clock()
    report = rig.submitter.run_due()
    assert report.waiting == "rate_limited"
    assert report.retry_at is not None and start + 590 <= report.retry_at <= start + 603
    rig.clock.t = start + 10
    assert rig.submitter.run_due().requests == 0


def test_a_far_off_reset_is_clamped_and_status_shows_the_hold_obeyed(
    rig: Rig, sim: SimProcess
) -> None:
    # A reset 10^7 s away (116 days) with the window all but used; then a 503.
    sim.control.set_rate_limit(limit=1000, remaining=7, reset_in=1e7)
    sim.control.set_faults(script=[{"status": 503, "accept": True}], dedupe=True)
    # The run verifies the user (7 -> 6), then the bulk request is recorded (6 -> 5).
    _, start, report = rig.run_once("https://far.example/")
    stored = store.get(rig.conn, RATE_LIMIT_KEY)
    assert stored["remaining"] == 5 and stored["reset"] <= start + HOUR + 1
    due = rig.submitter.next_due()
    assert due is not None and start + HOUR - 60 <= due <= start + HOUR + 1
    assert report.retry_at == pytest.approx(due)
    summary = status_summary(rig.conn, rig.clock(), rig.settings)
    assert summary["hold"] == "rate_limited"
    assert summary["next_retry_at"] == pytest.approx(due)
    assert rig.submitter.flush().requests == 0  # the server's limit: a flush cannot lift it
    sim.control.set_rate_limit(limit=1000, remaining=1000, reset_in=3600)
    rig.clock.to(due)
    assert rig.submitter.run_due().delivered == 1
    assert len(sim.control.flattrs()) == 1


def test_stays_under_the_rate_limit_reserve(rig: Rig, sim: SimProcess) -> None:
    rig.renew(batch_size=1, rate_limit_reserve=5)
    sim.control.set_rate_limit(limit=100, remaining=7, reset_in=60)
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://r.example/1", "https://r.example/2")
    start = rig.clock()
    report = rig.submitter.run_due()  # user (7 → 6), first batch (6 → 5), then stop
    assert report.delivered == 1 and report.waiting == "rate_limited"
    assert len(bulk(sim)) == 1 and all(r["status"] == 200 for r in bulk(sim))
    assert report.retry_at is not None and start + 59 <= report.retry_at <= start + 63
    assert store.get(rig.conn, RATE_LIMIT_KEY)["remaining"] == 5
    assert rig.submitter.flush().requests == 0  # a flush cannot lift the server's limit
    sim.control.set_rate_limit(limit=100, remaining=100, reset_in=3600)
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1


# --- refused URLs ----------------------------------------------------------------------------


def test_400_rejects_exactly_the_named_urls(rig: Rig, sim: SimProcess) -> None:
    bad = "https://bad.example/"
    sim.control.set_faults(reject_urls=[bad])
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://s.example/1", bad, "https://s.example/2", bad)
    report = rig.submitter.run_due()
    assert (report.delivered, report.rejected) == (2, 2)
    rows = rig.conn.execute("SELECT url, state, error FROM flattrs").fetchall()
    assert {(r["url"], r["state"]) for r in rows} == {
        ("https://s.example/1", "delivered"),
        (bad, "rejected"),
        ("https://s.example/2", "delivered"),
    }
    assert all("cannot be flattred" in r["error"] for r in rows if r["state"] == "rejected")
    keys = [r["idempotency_key"] for r in bulk(sim)]
    assert len(keys) == 2 and keys[0] != keys[1]  # the rest went as a new batch
    assert sorted(f["url"] for f in sim.control.flattrs()) == [
        "https://s.example/1",
        "https://s.example/2",
    ]
    assert rig.submitter.flush().requests == 0  # rejected items are never resent


def test_a_400_that_names_no_url_of_the_batch_is_a_failed_attempt(
    rig: Rig, sim: SimProcess
) -> None:
    unnamed = {"status": 400, "body": {"error": "invalid_request"}}
    elsewhere = {
        "status": 400,
        "body": {"error": "invalid_parameters", "invalid_urls": ["https://elsewhere.example/"]},
    }
    sim.control.set_faults(script=[unnamed, elsewhere, unnamed])
    rig.sign_in(TOKEN_A)
    urls = [f"https://u400.example/{i}" for i in range(4)]
    rig.enqueue(*urls)
    report = rig.submitter.run_due()
    assert (report.rejected, report.waiting) == (0, "backoff")
    for _ in range(2):  # max_attempts is 3
        rig.clock.to(report.retry_at)
        report = rig.submitter.run_due()
        assert report.rejected == 0
    assert report.failed == 4 and set(rig.states().values()) == {"failed"}
    requests = bulk(sim)
    assert [len(r["urls"]) for r in requests] == [4, 4, 4]
    assert len({r["idempotency_key"] for r in requests}) == 1
    # The server has recovered: the slow schedule delivers everything.
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 4
    assert sorted(f["url"] for f in sim.control.flattrs()) == urls


NOT_RETRYABLE = [
    pytest.param(
        {"status": 403, "body": {"error": "insufficient_scope", "error_description": "no flattr"}},
        "insufficient_scope",
        id="403-insufficient_scope",
    ),
    pytest.param({"status": 404}, "404 not_found", id="404"),
    pytest.param({"status": 301, "body": {"moved": "elsewhere"}}, "HTTP 301", id="301"),
    pytest.param({"status": 413}, "HTTP 413", id="413-single"),
    pytest.param({"status": 501}, "HTTP 501", id="501"),
]


@pytest.mark.parametrize(("step", "reason"), NOT_RETRYABLE)
def test_a_status_retrying_cannot_fix_holds_until_the_user_asks(
    rig: Rig, sim: SimProcess, step: dict[str, Any], reason: str
) -> None:
    sim.control.set_faults(script=[step])
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://held.example/1")
    report = rig.submitter.run_due()
    assert (report.waiting, report.retry_at, report.failed) == ("refused", None, 1)
    rows = rig.conn.execute("SELECT state, error FROM flattrs").fetchall()
    assert [r["state"] for r in rows] == ["failed"] and reason in rows[0]["error"]
    summary = status_summary(rig.conn, rig.clock(), rig.settings)
    assert (summary["hold"], summary["next_retry_at"]) == ("refused", None)
    assert reason.split()[-1] in (summary["last_error_text"] or "")
    # Nothing goes by itself, however long it waits, new flattrs included.
    rig.enqueue("https://held.example/2")
    rig.clock.t += 100 * rig.settings.failed_retry_interval
    assert rig.submitter.run_due().requests == 0
    assert rig.submitter.next_due() is None
    assert len(bulk(sim)) == 1
    # The user asks (flattr-host flush, the popup's retry): everything goes.
    flushed = rig.submitter.flush()
    assert (flushed.delivered, flushed.waiting) == (2, None)
    assert status_summary(rig.conn, rig.clock(), rig.settings)["hold"] is None


def test_a_new_sign_in_lifts_a_refusal(rig: Rig, sim: SimProcess) -> None:
    scope = {"status": 403, "body": {"error": "insufficient_scope"}}
    sim.control.set_faults(script=[scope])
    sign_in_from_flattr(rig, TOKEN_A, active=True)
    rig.enqueue("https://scope.example/")
    assert rig.submitter.run_due().waiting == "refused"
    sim.control.add_user("alice", "token-alice-scoped")
    sign_in_from_flattr(rig, "token-alice-scoped", active=True)
    assert rig.submitter.run_due().delivered == 1


def test_per_item_refusals_are_rejected_with_their_reason(rig: Rig, sim: SimProcess) -> None:
    owner = {
        "status": 403,
        "body": {"error": "flattr_owner", "error_description": "that is your own thing"},
    }
    once = {"status": 403, "body": {"error": "flattr_once"}}
    sim.control.set_faults(script=[owner, {}, owner, once])
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://pi.example/1", "https://pi.example/mine")
    report = rig.submitter.run_due()
    # The batch is split until the refused flattr is alone, then that one is rejected.
    assert (report.delivered, report.rejected, report.waiting) == (1, 1, None)
    assert rig.states() == {
        "https://pi.example/1": "delivered",
        "https://pi.example/mine": "rejected",
    }
    error = rig.conn.execute("SELECT error FROM flattrs WHERE url LIKE '%mine'").fetchone()[0]
    assert "flattr_owner" in error and "your own thing" in error
    assert [len(r["urls"]) for r in bulk(sim)] == [2, 1, 1]
    rig.enqueue("https://pi.example/again")
    assert rig.submitter.run_due().rejected == 1  # flattr_once
    assert (
        "flattr_once"
        in rig.conn.execute("SELECT error FROM flattrs WHERE url LIKE '%again'").fetchone()[0]
    )


# --- restart and recovery --------------------------------------------------------------------


def test_restart_continues_the_schedule(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"status": 503, "retry_after": 50}])
    rig.sign_in(TOKEN_A)
    (item,) = rig.enqueue("https://u.example/")
    report = rig.submitter.run_due()
    key = rig.batch_of(item).idempotency_key
    restarted = rig.renew()
    assert restarted.next_due() == pytest.approx(report.retry_at)
    assert restarted.run_due().requests == 0
    rig.clock.to(report.retry_at)
    assert restarted.run_due().delivered == 1
    assert {r["idempotency_key"] for r in bulk(sim)} == {key}


def test_items_left_in_flight_go_again_with_the_same_key(rig: Rig, sim: SimProcess) -> None:
    # As if a submitter died mid-request after the server recorded the batch.
    sim.control.set_faults(script=[{"drop": True, "accept": True}], dedupe=True)
    rig.sign_in(TOKEN_A)
    (item,) = rig.enqueue("https://v.example/")
    report = rig.submitter.run_due()
    with store.transaction(rig.conn):
        rig.conn.execute("UPDATE flattrs SET state = 'in_flight'")
    rig.renew()
    rig.clock.to(report.retry_at)
    assert rig.submitter.run_due().delivered == 1
    assert len(sim.control.flattrs()) == 1
    assert len({r["idempotency_key"] for r in bulk(sim)}) == 1
    assert item


def test_status_summary_shape(rig: Rig, sim: SimProcess) -> None:
    sim.control.set_faults(script=[{"status": 503}])
    rig.sign_in(TOKEN_A)
    rig.enqueue("https://w.example/")
    report = rig.submitter.run_due()
    summary = status_summary(rig.conn, rig.clock(), rig.settings)
    assert summary["counts"] == {
        "pending": 1,
        "in_flight": 0,
        "delivered": 0,
        "failed": 0,
        "rejected": 0,
    }
    assert summary["hold"] == "backoff"
    assert summary["next_retry_at"] == pytest.approx(report.retry_at)
    assert summary["last_error"]["status"] == 503
    assert "503" in summary["last_error_text"]
    assert summary["rate_limit"]["remaining"] is not None
    json.dumps(summary)


# --- cases the local server cannot produce (exact answers via MockTransport) -------------------


def mock_rig(tmp_path: Path, handler: Any, **overrides: Any) -> Rig:
    settings = Settings(
        api_base="https://api.flattr.test", backoff_jitter=0.0, submit_delay=0.0, **overrides
    )
    path = tmp_path / "mock.sqlite3"
    conn = store.connect(path, settings)
    clock, events = Clock(), Events()
    submitter = Submitter(
        conn, settings, on_event=events, transport=httpx.MockTransport(handler), clock=clock
    )
    return Rig(conn, settings, clock, events, submitter, path)


def user_or(bulk_answer: Any) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/rest/v2/user":
            return httpx.Response(200, json={"username": "mock"})
        result: httpx.Response = bulk_answer(request)
        return result

    return handler


def test_plain_http_only_to_loopback(tmp_path: Path) -> None:
    conn = store.connect(tmp_path / "x.sqlite3", Settings())
    for base in ("http://127.0.0.1:8080", "http://[::1]:80", "http://localhost:9"):
        Submitter(conn, Settings(api_base=base))
    for base in ("http://api.flattr.com", "http://10.0.0.1", "ftp://api.flattr.com"):
        with pytest.raises(ConfigError, match="api_base"):
            Submitter(conn, Settings(api_base=base))


def test_413_halves_the_batch(tmp_path: Path) -> None:
    sizes: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)
        sizes.append(len(items))
        return httpx.Response(413 if len(items) > 2 else 200, json={"status": "success"})

    rig = mock_rig(tmp_path, user_or(answer))
    rig.sign_in("t")
    rig.enqueue(*[f"https://x.example/{i}" for i in range(5)])
    report = rig.submitter.run_due()
    assert report.delivered == 5 and report.rejected == 0
    assert sizes == [5, 3, 2, 2, 1]


def test_401_no_means_is_not_a_sign_out(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "no_means", "error_description": "no money"})

    rig = mock_rig(tmp_path, user_or(answer))
    account = rig.sign_in("t")
    rig.enqueue("https://y.example/")
    report = rig.submitter.run_due()
    assert report.waiting == "subscription_inactive"
    after = accounts.get(rig.conn, account.id)
    assert after is not None and after.token == "t"
    assert rig.events.named("signed_out") == []


def test_a_2xx_without_an_error_is_a_delivery(tmp_path: Path) -> None:
    # The 2018 extension's own test server answered 200 with an empty body; 204 has none.
    answers = iter([httpx.Response(200, content=b""), httpx.Response(204)])
    rig = mock_rig(tmp_path, user_or(lambda request: next(answers)), batch_size=1)
    rig.sign_in("t")
    rig.enqueue("https://empty.example/1", "https://empty.example/2")
    assert rig.submitter.run_due().delivered == 2


def test_verification_refused_holds_until_asked(tmp_path: Path) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(403, json={"error": "insufficient_scope"})
        if request.url.path == "/rest/v2/user":
            return httpx.Response(200, json={"username": "mock"})
        return httpx.Response(200, json={"status": "success"})

    rig = mock_rig(tmp_path, handler)
    rig.sign_in("t")
    rig.enqueue("https://vr.example/")
    report = rig.submitter.run_due()
    assert (report.waiting, report.retry_at) == ("refused", None)
    assert rig.submitter.run_due(now=rig.clock() + 10**6).requests == 0
    assert rig.submitter.flush().delivered == 1
    assert calls == ["/rest/v2/user", "/rest/v2/user", "/rest/v2/flattr/bulk"]


def test_verification_network_error_backs_off(tmp_path: Path) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.ConnectError("refused", request=request)

    rig = mock_rig(tmp_path, handler)
    rig.sign_in("t")
    rig.enqueue("https://v.example/")
    report = rig.submitter.run_due()
    assert report.waiting == "backoff" and calls == ["/rest/v2/user"]
    assert report.retry_at is not None and report.retry_at > rig.clock()
    assert rig.submitter.run_due().requests == 0  # held
    second = rig.submitter.run_due(now=report.retry_at)
    assert second.retry_at is not None
    assert second.retry_at - report.retry_at > report.retry_at - rig.clock()  # grows


def test_redirects_are_not_followed_with_the_token(tmp_path: Path) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "https://evil.example/"})

    rig = mock_rig(tmp_path, handler)
    rig.sign_in("t")
    rig.enqueue("https://w.example/")
    rig.submitter.run_due()
    assert all("evil" not in url for url in seen)

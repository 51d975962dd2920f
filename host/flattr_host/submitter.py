"""Sends queued flattrs to ``POST /rest/v2/flattr/bulk`` and never loses one.

Every decision is stored in SQLite: a batch, its Idempotency-Key and its flattrs in flight are
committed before its request, its answer after (while the next request is on the wire, see
``_send``), so a restart or ``kill -9`` continues where it stopped: batches keep their key across
retries, the back-off and rate-limit holds live in ``kv`` (``holds``), and items a dead process
left in flight go back to pending in their batch. One process at a time submits (``lease``).

This module is the sending loop; what each answer does to the flattrs is in ``outcomes`` (which
``verdict`` decides), the HTTP in ``api``. See docs/flattr-api.md#bulk-flattr and
docs/architecture.md#6-submission.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from . import accounts, flattrs, holds, lease, outcomes, store
from .accounts import Account
from .api import Answer, FlattrClient
from .api.client import check_base
from .holds import BACKOFF, BUSY, FORCE_LIFTS, SIGNED_OUT, SUBMIT_DELAY, WAITING_FOR_ACCOUNT
from .logs import redact_secret
from .outcomes import Attempt, SubmitReport
from .request_thread import RequestThread
from .settings import Settings

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

LEASE_NAME = "submitter"
# When another process holds the lease, look again after this long (it releases when done).
BUSY_RETRY_SECONDS = 2.0

BULK_PATH = "/flattr/bulk"
USER_PATH = "/user"

EventSink = Callable[[str, dict[str, Any]], None]
Progress = Callable[[int, int], None]


class LeaseLost(Exception):
    """Another process took the lease over: what would have been written under it is not."""


Started = tuple[flattrs.Batch, list[flattrs.Item]]


@dataclasses.dataclass(frozen=True)
class Flight:
    """A bulk request for a started batch (committed in flight, with its key), on the request
    thread: whether it went (not if the answer before it stopped the pipeline), then its answer
    (None: it did not go)."""

    batch: flattrs.Batch
    items: list[flattrs.Item]
    went: Future[bool]
    answer: Future[Answer | None]


class Submitter:
    def __init__(
        self,
        conn: sqlite3.Connection,
        settings: Settings,
        *,
        on_event: EventSink | None = None,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._conn = conn
        self._settings = settings
        self._on_event = on_event
        self._clock = clock
        self._holder = lease.new_holder()
        # Set per run: the run's clock (fixed when run_due was given ``now``) and whether forced.
        self._tick: Callable[[], float] = clock
        self._force = False
        self._on_progress: Progress | None = None
        self._transport = transport
        check_base(settings.api_base)  # api.ConfigError: the token must not be sent there
        self._client: FlattrClient | None = None  # made at the first request, as it loads CAs
        # Requests run on one thread of their own, so that each answer is recorded while the
        # next request is on the wire (``_send``); one at a time, never two.
        self._wire = RequestThread("flattr-request")
        # For progress: (account, data_version, verifications) when the account's sendable
        # flattrs were counted, the count, and how many this run had settled then.
        self._counted: tuple[tuple[int, int, int], int, int] | None = None
        self._verifications = 0

    # --- public ---------------------------------------------------------------------------

    def run_due(
        self, now: float | None = None, *, force: bool = False, progress: Progress | None = None
    ) -> SubmitReport:
        """Do all the work that is due (everything, with ``force``) and say what happened."""
        if self._conn.in_transaction:
            raise RuntimeError(
                "run_due must not run inside a transaction (requests would be sent "
                "before their state is committed)"
            )
        report = SubmitReport()
        self._counted = None
        self._tick = self._clock if now is None else (lambda: now)
        self._force = force
        self._on_progress = progress
        start = self._tick()
        ttl = self._settings.lease_seconds
        if not lease.acquire(self._conn, LEASE_NAME, self._holder, start, ttl):
            report.waiting = BUSY
            report.retry_at = start + BUSY_RETRY_SECONDS
            return report
        before = flattrs.counts(self._conn)
        try:
            self._write(lambda: flattrs.recover_in_flight(self._conn, start))
            if force:
                self._write(lambda: self._lift(start))
            self._progress(report)
            while self._step(self._tick(), report):
                pass
        finally:
            lease.release(self._conn, LEASE_NAME, self._holder)
        if report.waiting != BUSY:
            report.retry_at = self.next_due(self._tick())
        after = flattrs.counts(self._conn)
        if after != before:
            self._emit("queue", dataclasses.asdict(after))
        return report

    def _progress(self, report: SubmitReport) -> None:
        """``progress(done, total)`` for ``run_due``'s caller: flattrs settled in this run, of
        those settled plus those of the current account still to go (the total grows if flattrs
        arrive meanwhile)."""
        progress = self._on_progress
        if progress is None:
            return
        done = report.delivered + report.rejected
        account = accounts.current(self._conn)
        if account is None:
            progress(done, done)
            return
        # Counting reads the whole queue: recount only when it may have changed otherwise than
        # by what this run settled (another connection committed, another account, a merge).
        version = int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        key = (account.id, version, self._verifications)
        if self._counted is None or self._counted[0] != key:
            self._counted = (key, flattrs.sendable(self._conn, account.id), done)
        _, left, settled_then = self._counted
        progress(done, done + left - (done - settled_then))

    def flush(self, progress: Progress | None = None) -> SubmitReport:
        """Send everything now: failed items and back-off are made due, then the loop runs until
        nothing more can be done right now (a rate limit still holds)."""
        return self.run_due(force=True, progress=progress)

    def next_due(self, now: float | None = None) -> float | None:
        """When ``run_due`` next has something to do (None: nothing queued that can go)."""
        now = self._now(now)
        account = accounts.current(self._conn)
        if account is None or account.token is None:
            return None
        candidates: list[float] = []
        if account.username is None:
            candidates.append(now)
        else:
            batch_at = flattrs.next_batch_at(self._conn, account.id)
            if batch_at is not None:
                candidates.append(batch_at)
            newest = flattrs.newest_unbatched(self._conn, account.id)
            if newest is not None:
                candidates.append(newest + self._settings.submit_delay)
                if flattrs.fills_a_batch(self._conn, account.id, self._settings.batch_size):
                    candidates.append(now)
        if not candidates:
            return None
        due = min(candidates)
        hold = holds.current_hold(self._conn, account, now, self._settings)
        if hold is not None:
            if math.isinf(hold.until):
                return None  # held until the user asks
            due = max(due, hold.until)
        holder = lease.holder_of(self._conn, LEASE_NAME, now)
        if holder is not None and holder != self._holder:
            # Another process is submitting; look again later rather than spin on the lease.
            due = max(due, now + BUSY_RETRY_SECONDS)
        return due

    def close(self) -> None:
        self._wire.shutdown()
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- the loop -------------------------------------------------------------------------

    def _step(self, now: float, report: SubmitReport) -> bool:
        """One unit of work; False (with ``report.waiting`` when work remains) when done for now."""
        conn = self._conn
        account = accounts.current(conn)
        if account is None or account.token is None:
            if flattrs.unsent_by_account(conn):
                report.waiting = SIGNED_OUT
            return False
        if account.subscription_active and holds.paused_by_402(conn, account.id, now):
            # Active again since the 402 (a sign-in, a merged account, flattr.com's event).
            self._write(lambda: holds.subscription_reactivated(conn, now, account.id))
        hold = holds.current_hold(conn, account, now, self._settings)
        if hold is not None:
            report.waiting = hold.reason
            return False
        if account.username is None:
            # Learn whose token this is at once, not at the first flattr: if the token is rejected
            # before that, flattrs bound to a nameless account could never be claimed again.
            return self._verify(account, now, report)
        try:
            started = self._write(lambda: self._start(account.id, now))
        except LeaseLost:
            report.waiting = BUSY
            return False
        if started is None:
            if flattrs.newest_unbatched(conn, account.id) is not None:
                report.waiting = SUBMIT_DELAY
            elif flattrs.sendable(conn, account.id):
                report.waiting = BACKOFF  # its batches wait for their next attempt
            elif flattrs.unsent_by_account(conn):
                report.waiting = WAITING_FOR_ACCOUNT
            return False
        return self._send(account, started, report)

    def _lift(self, now: float) -> None:
        """Force: lift back-off, 402 and refusal holds, make the current account's batches due
        now."""
        hold = holds.load_hold(self._conn)
        if hold is not None and hold.reason in FORCE_LIFTS:
            holds.save_hold(self._conn, dataclasses.replace(hold, until=now))
        holds.lift_refusal(self._conn)
        account = accounts.current(self._conn)
        if account is not None:
            flattrs.make_due(self._conn, account.id, now)

    def _start(self, account_id: int, now: float) -> Started | None:
        """Keep the lease and start the next batch (``_next_batch``), in one transaction."""
        self._keep_lease(now)
        return self._next_batch(account_id, now)

    def _next_batch(self, account_id: int, now: float) -> Started | None:
        """Mark the next batch's flattrs in flight: the longest-waiting due batch, else a new one
        of the oldest flattrs not yet in a batch — once the submit delay has passed since the
        newest arrived (it lets a burst share a request), at once when they fill a batch (no
        room left to share) or when forced. Batches are formed one at a time, as they go, so
        that each flattr is written once on its way out rather than once to batch it and again
        to send it. None: nothing may go now."""
        conn = self._conn
        batch = flattrs.due_batch(conn, account_id, now)
        if batch is not None:
            items = flattrs.start_sending(conn, batch.id, account_id, now)
            return (batch, items) if items else None
        newest = flattrs.newest_unbatched(conn, account_id)
        size = max(1, self._settings.batch_size)
        if newest is None or not (
            self._force
            or now >= newest + self._settings.submit_delay
            or flattrs.fills_a_batch(conn, account_id, size)
        ):
            return None
        batch = flattrs.start_new_batch(conn, account_id, size, now, flattrs.new_key())
        return None if batch is None else (batch, flattrs.in_flight(conn, batch.id))

    def _next_in_line(self, account: Account, now: float) -> Started | None:
        """``_next_batch``, if nothing stops the account meanwhile (another connection signed it
        out or in anew, a hold): the batch to send as soon as the current request's answer
        lets it go."""
        current = accounts.current(self._conn)
        if current is None or current.id != account.id or current.token != account.token:
            return None
        if holds.current_hold(self._conn, current, now, self._settings) is not None:
            return None
        return self._next_batch(account.id, now)

    def _keep_lease(self, now: float) -> None:
        """Extend the lease inside the current transaction; LeaseLost rolls it back."""
        ttl = self._settings.lease_seconds
        if not lease.extend(self._conn, LEASE_NAME, self._holder, now, ttl):
            raise LeaseLost

    # --- requests -------------------------------------------------------------------------

    def _verify(self, account: Account, now: float, report: SubmitReport) -> bool:
        """Learn the token's user (GET /rest/v2/user) and merge with an earlier account of it."""
        answer = self._request("GET", USER_PATH, account)
        report.requests += 1
        self._verifications += 1
        now = self._tick()
        username = answer.body.get("username") if isinstance(answer.body, dict) else None
        if answer.status is not None and 200 <= answer.status < 300 and isinstance(username, str):
            verified = self._write(lambda: self._verified(account.id, username, answer, now))
            if verified is None:  # a sign-in adopted it meanwhile; go on with the current account
                log.info("account %d was adopted by a sign-in meanwhile", account.id)
            else:
                log.info("token verified (account %d)", verified.id)
            return True
        if answer.status is not None and 200 <= answer.status < 300:
            answer = dataclasses.replace(answer, message="the user object has no username")
        attempt = Attempt(self._conn, self._settings, account, answer, now, report)
        self._write(lambda: outcomes.settle_token_check(attempt))
        self._emit_all(attempt)
        return False

    def _verified(
        self, account_id: int, username: str, answer: Answer, now: float
    ) -> Account | None:
        outcomes.note_rate(self._conn, answer)
        return accounts.verify(self._conn, account_id, username)

    def _send(self, account: Account, started: Started, report: SubmitReport) -> bool:
        """Send a started batch and, while the answers are plain deliveries, the batches after
        it, pipelined: the next batch is started (committed in flight, with its key) while the
        request before it is on the wire, and queued behind it on the request thread, which
        sends it the moment that request's answer allows (``outcomes.goes_on_at_once``); the
        answer is recorded while the next request is on the wire, in the transaction that starts
        the one after. One commit per request, and our database work overlaps the server's.
        Any other answer ends the pipeline: the batch started next goes back to waiting, unsent,
        and ``_step`` decides again. See docs/architecture.md#6-submission."""
        flight = self._post(account, started)
        self._count(report, flight)
        try:
            after = self._write(lambda: self._in_line(account, self._tick()))
        except LeaseLost:
            return self._lost(flight, report)
        while True:
            nxt = None if after is None else self._post(account, after, previous=flight)
            answer = flight.answer.result()
            assert answer is not None  # a flight becomes the current one only once it went
            attempt = Attempt(
                self._conn, self._settings, account, answer, self._tick(), report, flight.items
            )
            sending = nxt if nxt is not None and nxt.went.result() else None
            if sending is not None:
                self._count(report, sending)
            unsent = None if sending is not None else after
            settle = functools.partial(self._settle, attempt, flight.batch, unsent, sending=sending)
            try:
                go_on, after = self._write(settle)
            except LeaseLost:
                return self._lost(sending, report)
            self._emit_all(attempt)
            self._progress(report)
            if sending is None:
                return go_on
            flight = sending

    def _post(
        self, account: Account, started: Started, *, previous: Flight | None = None
    ) -> Flight:
        """Queue a started batch's request on the request thread; with ``previous``, it goes
        only if that request's answer lets the pipeline go on (decided there, as soon as the
        answer is in: no wait for this thread)."""
        batch, items = started
        body = json.dumps([{"url": item.url} for item in items]).encode()
        key = {"Idempotency-Key": batch.idempotency_key}
        went: Future[bool] = Future()

        def fly() -> Answer | None:
            go = False
            try:
                go = previous is None or self._goes_on(account, previous)
            finally:
                went.set_result(go)
            if not go:
                return None
            return self._request("POST", BULK_PATH, account, content=body, headers=key)

        return Flight(batch, items, went, self._wire.submit(fly))

    def _goes_on(self, account: Account, previous: Flight) -> bool:
        answer = previous.answer.result()  # in already: the request thread runs one at a time
        if answer is None:
            return False
        report = SubmitReport()  # nothing is recorded here: the answer is settled by _send
        attempt = Attempt(
            self._conn, self._settings, account, answer, self._tick(), report, previous.items
        )
        return outcomes.goes_on_at_once(attempt)

    @staticmethod
    def _count(report: SubmitReport, flight: Flight) -> None:
        report.requests += 1
        report.sent += len(flight.items)

    def _in_line(self, account: Account, now: float) -> Started | None:
        self._keep_lease(now)
        return self._next_in_line(account, now)

    def _settle(
        self,
        attempt: Attempt,
        batch: flattrs.Batch,
        unsent: Started | None,
        *,
        sending: Flight | None,
    ) -> tuple[bool, Started | None]:
        """Record an answer; the batch started after it goes back to waiting if it was not sent,
        and while the one after is on the wire, the next is started. (go on, next batch)."""
        self._keep_lease(attempt.now)
        go_on = outcomes.settle(attempt, batch)
        if unsent is not None:
            flattrs.stop_sending(self._conn, unsent[0].id, attempt.now)
        if not go_on or sending is None:
            return go_on, None
        return go_on, self._next_in_line(attempt.account, attempt.now)

    def _lost(self, flight: Flight | None, report: SubmitReport) -> bool:
        """Another process took the lease over: what is on the wire and what this one started
        belong to the new holder, which re-sends them with the same keys."""
        if flight is not None:
            flight.answer.result()  # no request outlives the run; its outcome is not ours
        log.warning("lease lost during a request; its outcome is left to the new holder")
        report.waiting = BUSY
        return False

    def _request(
        self,
        method: str,
        path: str,
        account: Account,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        assert account.token is not None
        redact_secret(account.token)  # also in `flattr-host flush`, which has no Service
        if not accounts.is_bearer_token(account.token):
            # Stored before sign-in checked tokens: it can never be sent, so it counts as rejected.
            return Answer(status=401, code="invalid_token", message=accounts.NOT_A_BEARER_TOKEN)
        if self._client is None:
            self._client = FlattrClient.from_settings(
                self._settings, None, transport=self._transport, clock=lambda: self._tick()
            )
        return self._client.send(
            method, path, content=content, headers=headers, token=account.token
        )

    # --- plumbing -------------------------------------------------------------------------

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def _write(self, write: Callable[[], T]) -> T:
        def transaction() -> T:
            with store.transaction(self._conn):
                return write()

        return lease.retry_locked(transaction)

    def _emit_all(self, attempt: Attempt) -> None:
        for name, payload in attempt.events:
            self._emit(name, payload)

    def _emit(self, name: str, payload: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(name, payload)
        except Exception:  # a broken listener must not undo or repeat a recorded outcome
            log.exception("event listener failed for %s", name)

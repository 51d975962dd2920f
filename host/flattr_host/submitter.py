"""Sends queued flattrs to ``POST /rest/v2/flattr/bulk`` and never loses one.

Every decision is stored in SQLite before and after each request (never across one), so a restart or
``kill -9`` continues where it stopped: batches keep their Idempotency-Key across retries, the
back-off and rate-limit holds live in ``kv``, and items a dead process left in flight go back to
pending in their batch. One process at a time submits (``lease``).

Outcomes of a request (``verdict`` decides which): delivered · failed attempt, back-off (network
errors, retry statuses, a 400 naming no URL of the batch, a 2xx with an error body) · 401 token
rejected (sign out, keep items) · 402 subscription inactive (slow schedule) · 429 / 403
rate_limit_exceeded: wait for Retry-After or the exhausted window, no attempt counted · refused
URLs or flattrs ``rejected`` · 413 halve the batch · any other status holds the account's flattrs
until the user asks (flush) or signs in again. See docs/flattr-api.md#bulk-flattr and
docs/architecture.md#6-submission.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import math
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from . import __version__, accounts, backoff, lease, queue, store
from .accounts import Account
from .backoff import RateLimit
from .logs import redact, redact_secret
from .settings import Settings
from .verdict import Verdict, judge, named_urls

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

T = TypeVar("T")

# kv keys (JSON values; shapes in the report of ``status_summary``).
HOLD_KEY = "submit_hold_until"
# A refusal retrying cannot fix ({"account_id", "at"}); apart from HOLD_KEY, so that another
# account's back-off can never overwrite it.
REFUSAL_KEY = "submit_refusal"
RATE_LIMIT_KEY = "rate_limit"
LAST_ERROR_KEY = "last_error"
LAST_DELIVERY_KEY = "last_delivery_at"

LEASE_NAME = "submitter"
# When another process holds the lease, look again after this long (it releases when done).
BUSY_RETRY_SECONDS = 2.0
# Stored error texts are for people; a server's error page is cut to this many characters.
MAX_ERROR_TEXT = 300
# X-RateLimit-Reset is whole seconds (truncated): wait this much past it so the window has ended.
RESET_MARGIN_SECONDS = 1.0
# On these statuses a Retry-After says when to come back (RFC 9110, RFC 6585), back-off or not.
RETRY_AFTER_DECIDES = (429, 503)

BULK_PATH = "/rest/v2/flattr/bulk"
USER_PATH = "/rest/v2/user"

# Hold reasons (also the ``waiting`` values of a report, with ``busy`` and ``submit_delay``).
BACKOFF = "backoff"
RATE_LIMITED = "rate_limited"
SIGNED_OUT = "signed_out"
SUBSCRIPTION_INACTIVE = "subscription_inactive"
REFUSED = "refused"  # an answer retrying cannot fix: held until flush or a new sign-in
WAITING_FOR_ACCOUNT = "waiting_for_account"
BUSY = "busy"
SUBMIT_DELAY = "submit_delay"
# Holds that a flush ("send now") lifts besides a refusal; a rate limit is the server's.
FORCE_LIFTS = (BACKOFF, SUBSCRIPTION_INACTIVE)

EventSink = Callable[[str, dict[str, Any]], None]
Progress = Callable[[int, int], None]


class SubmitterConfigError(ValueError):
    """The settings do not allow submitting (e.g. plain http to a remote ``api_base``)."""


@dataclass
class SubmitReport:
    """What one ``run_due``/``flush`` did. ``waiting`` says why it stopped when work remains."""

    requests: int = 0
    sent: int = 0  # flattrs put on the wire (a retried flattr counts each time)
    delivered: int = 0
    rejected: int = 0
    failed: int = 0  # flattrs that used up their attempts in this run
    retry_at: float | None = None  # when to call run_due again (None: nothing can go)
    waiting: str | None = None
    error: str | None = None  # the last error of this run, in words

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Hold:
    """A stop for all new requests: back-off (with the count of consecutive failures), a rate
    limit, or of one account: an inactive subscription, a refusal (``until`` infinite)."""

    until: float
    reason: str
    failures: int = 0
    account_id: int | None = None

    def applies(self, account: Account, now: float) -> bool:
        if self.until <= now:
            return False
        if self.reason == SUBSCRIPTION_INACTIVE:
            # Active again (by whatever path): the 402 no longer stands (_step lifts it).
            return self.account_id == account.id and account.subscription_active is not True
        return self.reason != REFUSED or self.account_id == account.id


def load_hold(conn: sqlite3.Connection) -> Hold | None:
    raw = store.get(conn, HOLD_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return Hold(
            until=float(raw["until"]),
            reason=str(raw["reason"]),
            failures=int(raw.get("failures", 0)),
            account_id=None if raw.get("account_id") is None else int(raw["account_id"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _save_hold(conn: sqlite3.Connection, hold: Hold | None) -> None:
    store.put(conn, HOLD_KEY, None if hold is None else dataclasses.asdict(hold))


def _load_refusal(conn: sqlite3.Connection) -> Hold | None:
    raw = store.get(conn, REFUSAL_KEY)
    account_id = raw.get("account_id") if isinstance(raw, dict) else None
    if not isinstance(account_id, int):
        return None
    return Hold(until=math.inf, reason=REFUSED, account_id=account_id)


def _rate_limit(conn: sqlite3.Connection) -> RateLimit | None:
    return RateLimit.from_json(store.get(conn, RATE_LIMIT_KEY))


def current_hold(
    conn: sqlite3.Connection, account: Account, now: float, settings: Settings
) -> Hold | None:
    """The hold the submitter obeys for ``account`` now: whichever ends last of a refusal, the
    stored hold and the rate-limit window (None: nothing holds it)."""
    holds = [h for h in (_load_refusal(conn), load_hold(conn)) if h and h.applies(account, now)]
    rate_until = backoff.rate_limit_hold(
        _rate_limit(conn),
        reserve=settings.rate_limit_reserve,
        now=now,
        window=settings.rate_limit_window,
    )
    if rate_until is not None:
        holds.append(Hold(until=rate_until, reason=RATE_LIMITED))
    return max(holds, key=lambda hold: hold.until, default=None)


def check_api_base(api_base: str) -> str:
    """The API base without a trailing slash; https, or http only to this machine."""
    parts = urlsplit(api_base)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return api_base.rstrip("/")
    if parts.scheme == "http" and _loopback(host):
        return api_base.rstrip("/")
    raise SubmitterConfigError(
        f"api_base {api_base!r} is not allowed: the token is sent with every request, so it must "
        "be https:// (plain http:// only for 127.0.0.0/8, ::1 or localhost). Fix the api_base "
        "setting (settings.json) or the FLATTR_API_BASE environment variable."
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def subscription_reactivated(
    conn: sqlite3.Connection, now: float, account_id: int | None = None
) -> int:
    """The subscription is active again (flattr.com said so): lift the 402 hold and make the
    batches that got a 402 due now. Returns how many batches became due."""
    with store.transaction(conn):
        hold = load_hold(conn)
        if (
            hold is not None
            and hold.reason == SUBSCRIPTION_INACTIVE
            and (account_id is None or hold.account_id == account_id)
        ):
            _save_hold(conn, None)
        cursor = conn.execute(
            "UPDATE batches SET next_attempt_at = ? WHERE last_status = 402 "
            "AND next_attempt_at > ? AND (? IS NULL OR account_id = ?)",
            (now, now, account_id, account_id),
        )
        return cursor.rowcount


def lift_on_sign_in(conn: sqlite3.Connection, account: Account, now: float) -> None:
    """A sign-in on flattr.com may lift a hold's cause: a new token may carry the missing scope
    (a refusal goes out again), and an active subscription lifts the 402 hold."""
    store.put(conn, REFUSAL_KEY, None)
    if account.subscription_active:
        subscription_reactivated(conn, now, account.id)


def _paused_by_402(conn: sqlite3.Connection, account_id: int, now: float) -> bool:
    """Whether the account's flattrs wait for a 402 (its hold, or batches on its slow schedule)."""
    hold = load_hold(conn)
    if hold and hold.reason == SUBSCRIPTION_INACTIVE and hold.account_id == account_id:
        return True
    row = conn.execute(
        "SELECT 1 FROM batches WHERE account_id = ? AND last_status = 402 AND next_attempt_at > ?",
        (account_id, now),
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class _Answer:
    """A response reduced to what the submitter needs (or a network error)."""

    status: int | None
    code: str | None = None
    message: str = ""
    body: Any = None
    retry_after: float | None = None
    rate: RateLimit | None = None
    offset: float = 0.0


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
        self._base = check_api_base(settings.api_base)
        self._on_event = on_event
        self._transport = transport
        self._clock = clock
        self._client: httpx.Client | None = None
        self._holder = lease.new_holder()
        # Set per run: the run's clock (fixed when run_due was given ``now``) and whether forced.
        self._tick: Callable[[], float] = clock
        self._force = False

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
        self._tick = self._clock if now is None else (lambda: now)
        self._force = force
        start = self._tick()
        ttl = self._settings.lease_seconds
        if not lease.acquire(self._conn, LEASE_NAME, self._holder, start, ttl):
            report.waiting = BUSY
            report.retry_at = start + BUSY_RETRY_SECONDS
            return report
        before = queue.counts(self._conn)
        try:
            self._write(lambda: queue.recover_in_flight(self._conn, start))
            if force:
                self._write(lambda: self._lift(start))
            self._progress(progress, report)
            while self._step(self._tick(), report):
                self._progress(progress, report)
        finally:
            lease.release(self._conn, LEASE_NAME, self._holder)
        if report.waiting != BUSY:
            report.retry_at = self.next_due(self._tick())
        after = queue.counts(self._conn)
        if after != before:
            self._emit("queue", dataclasses.asdict(after))
        return report

    def _progress(self, progress: Progress | None, report: SubmitReport) -> None:
        """``progress(done, total)``: flattrs settled in this run, of those settled plus those
        of the current account still to go (the total grows if flattrs arrive meanwhile)."""
        if progress is None:
            return
        done = report.delivered + report.rejected
        account = accounts.current(self._conn)
        left = 0 if account is None else queue.sendable(self._conn, account.id)
        progress(done, done + left)

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
            batch_at = queue.next_batch_at(self._conn, account.id)
            if batch_at is not None:
                candidates.append(batch_at)
            newest = queue.newest_unbatched(self._conn, account.id)
            if newest is not None:
                candidates.append(newest + self._settings.submit_delay)
        if not candidates:
            return None
        due = min(candidates)
        hold = current_hold(self._conn, account, now, self._settings)
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
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- the loop -------------------------------------------------------------------------

    def _step(self, now: float, report: SubmitReport) -> bool:
        """One unit of work; False (with ``report.waiting`` when work remains) when done for now."""
        conn = self._conn
        account = accounts.current(conn)
        if account is None or account.token is None:
            if queue.unsent_by_account(conn):
                report.waiting = SIGNED_OUT
            return False
        if account.subscription_active and _paused_by_402(conn, account.id, now):
            # Active again since the 402 (a sign-in, a merged account, flattr.com's event).
            self._write(lambda: subscription_reactivated(conn, now, account.id))
        hold = current_hold(conn, account, now, self._settings)
        if hold is not None:
            report.waiting = hold.reason
            return False
        if account.username is None:
            # Learn whose token this is at once, not at the first flattr: if the token is rejected
            # before that, flattrs bound to a nameless account could never be claimed again.
            return self._verify(account, now, report)
        newest = queue.newest_unbatched(conn, account.id)
        waiting_delay = False
        if newest is not None:
            if self._force or now >= newest + self._settings.submit_delay:
                self._write(lambda: self._form_batches(account.id, now))
            else:
                waiting_delay = True
        batch = queue.due_batch(conn, account.id, now)
        if batch is None:
            if waiting_delay:
                report.waiting = SUBMIT_DELAY
            elif queue.sendable(conn, account.id):
                report.waiting = BACKOFF  # its batches wait for their next attempt
            elif queue.unsent_by_account(conn):
                report.waiting = WAITING_FOR_ACCOUNT
            return False
        return self._send(account, batch, now, report)

    def _lift(self, now: float) -> None:
        """Force: lift back-off, 402 and refusal holds, make the current account's batches due
        now."""
        hold = load_hold(self._conn)
        if hold is not None and hold.reason in FORCE_LIFTS:
            _save_hold(self._conn, dataclasses.replace(hold, until=now))
        store.put(self._conn, REFUSAL_KEY, None)
        account = accounts.current(self._conn)
        if account is not None:
            queue.make_due(self._conn, account.id, now)
            self._form_batches(account.id, now)

    def _form_batches(self, account_id: int, now: float) -> None:
        ids = queue.unbatched(self._conn, account_id)
        size = max(1, self._settings.batch_size)
        for first in range(0, len(ids), size):
            queue.new_batch(self._conn, account_id, ids[first : first + size], now, _new_key())

    # --- requests -------------------------------------------------------------------------

    def _verify(self, account: Account, now: float, report: SubmitReport) -> bool:
        """Learn the token's user (GET /rest/v2/user) and merge with an earlier account of it."""
        answer = self._request("GET", USER_PATH, account, now)
        report.requests += 1
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
        self._outcome_without_batch(account, answer, now, report)
        return False

    def _verified(
        self, account_id: int, username: str, answer: _Answer, now: float
    ) -> Account | None:
        self._note_rate(answer)
        return accounts.verify(self._conn, account_id, username)

    def _send(self, account: Account, batch: queue.Batch, now: float, report: SubmitReport) -> bool:
        conn = self._conn
        if not lease.renew(conn, LEASE_NAME, self._holder, now, self._settings.lease_seconds):
            report.waiting = BUSY
            return False
        items = self._write(lambda: queue.start_sending(conn, batch.id, account.id, now))
        if not items:
            return False
        report.requests += 1
        report.sent += len(items)
        body = json.dumps([{"url": item.url} for item in items]).encode()
        answer = self._request(
            "POST", BULK_PATH, account, now, content=body, key=batch.idempotency_key
        )
        now = self._tick()
        if not lease.renew(conn, LEASE_NAME, self._holder, now, self._settings.lease_seconds):
            # Another process took over and re-sends these with the same key; leave them to it.
            log.warning("lease lost during a request; its outcome is left to the new holder")
            report.waiting = BUSY
            return False
        events: list[tuple[str, dict[str, Any]]] = []
        go_on = self._write(
            lambda: self._settle(account, batch, items, answer, now, report, events)
        )
        for name, payload in events:
            self._emit(name, payload)
        return go_on

    def _settle(
        self,
        account: Account,
        batch: queue.Batch,
        items: list[queue.Item],
        answer: _Answer,
        now: float,
        report: SubmitReport,
        events: list[tuple[str, dict[str, Any]]],
    ) -> bool:
        """Record the outcome of one bulk request (inside one transaction). True: go on sending."""
        conn = self._conn
        status = answer.status
        self._note_rate(answer)
        verdict = self._judge(answer, items)
        if verdict is Verdict.DELIVERED:
            report.delivered += queue.settle(conn, batch.id, "delivered", now)
            queue.reschedule(conn, batch.id, next_attempt_at=batch.next_attempt_at, status=status)
            store.put(conn, LAST_DELIVERY_KEY, now)
            store.put(conn, LAST_ERROR_KEY, None)
            hold = load_hold(conn)
            if hold is not None and hold.reason in (BACKOFF, RATE_LIMITED):
                _save_hold(conn, None)
            self._read_subscription(account, answer.body, now, events)
            return True
        if verdict is Verdict.SIGN_OUT:
            self._token_rejected(account, batch, answer, now, report, events)
            return False
        if verdict is Verdict.SUBSCRIPTION:
            self._subscription_refused(account, batch, answer, now, report, events)
            return False
        if verdict is Verdict.RATE_LIMITED:
            queue.settle(conn, batch.id, "pending", now)
            until = self._rate_hold(answer, now, report)
            queue.reschedule(
                conn, batch.id, next_attempt_at=until, status=status, error=_describe(answer)
            )
            report.waiting = RATE_LIMITED
            return False
        if verdict in (Verdict.REJECT_NAMED, Verdict.REJECT, Verdict.SPLIT):
            self._isolate(account, batch, items, answer, verdict, now, report)
            return True
        if verdict is Verdict.HOLD:
            self._held(account, batch, answer, now, report)
            return False
        self._failed_attempt(batch, answer, now, report)
        return False

    def _judge(self, answer: _Answer, items: list[queue.Item]) -> Verdict:
        named = named_urls(answer.body)
        return judge(
            answer.status,
            answer.code,
            answer.body,
            items=len(items),
            named=sum(1 for item in items if item.url in named),
            retryable=self._settings.is_retryable,
        )

    def _outcome_without_batch(
        self, account: Account, answer: _Answer, now: float, report: SubmitReport
    ) -> None:
        """The verification request failed: sign out, hold or back off as for a batch."""
        events: list[tuple[str, dict[str, Any]]] = []

        def write() -> None:
            self._note_rate(answer)
            self._record_error(answer, now, report)
            verdict = self._judge(answer, [])
            if verdict is Verdict.SIGN_OUT:
                accounts.token_rejected(self._conn, account.id, now)
                events.append((SIGNED_OUT, _signed_out_state(account)))
                report.waiting = SIGNED_OUT
            elif verdict is Verdict.RATE_LIMITED:
                self._rate_hold(answer, now, report)
                report.waiting = RATE_LIMITED
            elif verdict is Verdict.HOLD:
                self._refuse(account, now, report)
            else:
                self._back_off(0, answer, now)
                report.waiting = BACKOFF

        self._write(write)
        for name, payload in events:
            self._emit(name, payload)

    # --- outcomes (inside the outcome transaction) ----------------------------------------

    def _token_rejected(
        self,
        account: Account,
        batch: queue.Batch,
        answer: _Answer,
        now: float,
        report: SubmitReport,
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        queue.settle(self._conn, batch.id, "pending", now)
        queue.reschedule(
            self._conn,
            batch.id,
            next_attempt_at=batch.next_attempt_at,
            status=answer.status,
            error=_describe(answer),
        )
        accounts.token_rejected(self._conn, account.id, now)
        self._record_error(answer, now, report)
        report.waiting = SIGNED_OUT
        events.append((SIGNED_OUT, _signed_out_state(account)))

    def _subscription_refused(
        self,
        account: Account,
        batch: queue.Batch,
        answer: _Answer,
        now: float,
        report: SubmitReport,
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        conn = self._conn
        until = now + self._settings.failed_retry_interval
        queue.settle(conn, batch.id, "pending", now)
        # Stored as 402 also for a 401 no_means, so that subscription_reactivated finds it.
        queue.reschedule(conn, batch.id, next_attempt_at=until, status=402, error=_describe(answer))
        accounts.set_subscription(conn, account.id, False)
        _save_hold(conn, Hold(until=until, reason=SUBSCRIPTION_INACTIVE, account_id=account.id))
        self._record_error(answer, now, report)
        report.waiting = SUBSCRIPTION_INACTIVE
        if account.subscription_active is not False:
            events.append(("subscription", {"active": False}))

    def _isolate(
        self,
        account: Account,
        batch: queue.Batch,
        items: list[queue.Item],
        answer: _Answer,
        verdict: Verdict,
        now: float,
        report: SubmitReport,
    ) -> None:
        """Refuse exactly the flattrs the server refused (the URLs it named, or the lone flattr of
        a per-item refusal), or halve the batch to get there. Whatever is not refused goes on in
        new batches with new keys (the old key's answer was a refusal of the whole request)."""
        conn = self._conn
        if verdict is Verdict.REJECT_NAMED:
            invalid = named_urls(answer.body)
            refused = [item.id for item in items if item.url in invalid]
            rest = [item.id for item in items if item.url not in invalid]
            groups = [rest] if rest else []
        elif verdict is Verdict.REJECT:
            refused, groups = [item.id for item in items], []
        else:
            half = (len(items) + 1) // 2
            refused = []
            groups = [[i.id for i in items[:half]], [i.id for i in items[half:]]]
        report.rejected += queue.reject(conn, refused, _describe(answer), now)
        for group in groups:
            queue.new_batch(conn, account.id, group, now, _new_key())
        queue.drop_if_empty(conn, batch.id)
        log.info(
            "batch %d refused (%s): %d rejected, %d re-batched",
            batch.id,
            answer.status,
            len(refused),
            sum(len(g) for g in groups),
        )

    def _held(
        self,
        account: Account,
        batch: queue.Batch,
        answer: _Answer,
        now: float,
        report: SubmitReport,
    ) -> None:
        """An answer retrying cannot fix: the batch's flattrs become failed with the server's
        reason, and the account's flattrs wait until the user asks (flush) or signs in again.
        The batch stays due, so that it goes as soon as the refusal is lifted."""
        error = _describe(answer)
        report.failed += queue.settle(self._conn, batch.id, "failed", now, error)
        queue.reschedule(
            self._conn,
            batch.id,
            next_attempt_at=now,
            attempts=batch.attempts + 1,
            status=answer.status,
            error=error,
        )
        self._record_error(answer, now, report)
        self._refuse(account, now, report)

    def _refuse(self, account: Account, now: float, report: SubmitReport) -> None:
        store.put(self._conn, REFUSAL_KEY, {"account_id": account.id, "at": now})
        report.waiting = REFUSED

    def _failed_attempt(
        self, batch: queue.Batch, answer: _Answer, now: float, report: SubmitReport
    ) -> None:
        """Network error, retry status, a 400 naming nothing, a 2xx error body: count the attempt
        and back off; after ``max_attempts`` the items become failed and wait on the slow
        schedule."""
        conn = self._conn
        attempts = batch.attempts + 1
        wait = self._back_off(attempts, answer, now)
        error = _describe(answer)
        if attempts >= self._settings.max_attempts:
            report.failed += queue.settle(conn, batch.id, "failed", now, error)
            next_at = now + max(wait, self._settings.failed_retry_interval)
        else:
            queue.settle(conn, batch.id, "pending", now)
            next_at = now + wait
        queue.reschedule(
            conn,
            batch.id,
            next_attempt_at=next_at,
            attempts=attempts,
            status=answer.status,
            error=error,
        )
        self._record_error(answer, now, report)
        report.waiting = BACKOFF

    def _back_off(self, attempts: int, answer: _Answer, now: float) -> float:
        """Store the global back-off hold (it grows with consecutive failures, whichever batch
        failed, so neither new flattrs nor new batches reset it) and return the wait."""
        hold = load_hold(self._conn)
        failures = (hold.failures if hold is not None else 0) + 1
        s = self._settings
        wait = backoff.backoff_delay(
            max(attempts, failures),
            base=s.backoff_base,
            factor=s.backoff_factor,
            cap=s.backoff_max,
            jitter=s.backoff_jitter,
        )
        if answer.retry_after is not None:
            hinted = min(answer.retry_after, s.failed_retry_interval)
            decides = answer.status in RETRY_AFTER_DECIDES and hinted > 0
            wait = hinted if decides else max(wait, hinted)
        _save_hold(self._conn, Hold(until=now + wait, reason=BACKOFF, failures=failures))
        return wait

    def _rate_hold(self, answer: _Answer, now: float, report: SubmitReport) -> float:
        """403 rate_limit_exceeded / 429: wait for Retry-After, else for the window's reset when
        it is used up, else one back-off step; no attempt is counted. (A used-up window also
        holds through the stored rate limit, see ``current_hold``.)"""
        s = self._settings
        if answer.retry_after is not None and answer.retry_after > 0:
            until = now + answer.retry_after
        else:
            reset = backoff.rate_limit_hold(answer.rate, reserve=0, now=now)
            until = now + s.backoff_base if reset is None else reset
        until = min(until, now + s.failed_retry_interval)
        hold = load_hold(self._conn)
        failures = hold.failures if hold is not None else 0
        _save_hold(self._conn, Hold(until=until, reason=RATE_LIMITED, failures=failures))
        self._record_error(answer, now, report)
        return until

    def _read_subscription(
        self, account: Account, body: Any, now: float, events: list[tuple[str, dict[str, Any]]]
    ) -> None:
        subscription = body.get("subscription") if isinstance(body, dict) else None
        active = subscription.get("active") if isinstance(subscription, dict) else None
        if not isinstance(active, bool) or active == account.subscription_active:
            return
        accounts.set_subscription(self._conn, account.id, active)
        if not active:
            events.append(("subscription", {"active": False}))
        elif account.subscription_active is False:
            events.append(("subscription", {"active": True}))
            subscription_reactivated(self._conn, now, account.id)

    def _note_rate(self, answer: _Answer) -> None:
        if answer.rate is not None:
            store.put(self._conn, RATE_LIMIT_KEY, answer.rate.as_json())

    def _record_error(self, answer: _Answer, now: float, report: SubmitReport | None) -> None:
        text = _describe(answer)
        store.put(
            self._conn,
            LAST_ERROR_KEY,
            {
                "status": answer.status,
                "code": None if answer.code is None else redact(answer.code),
                "message": answer.message,
                "at": now,
                # Network errors and retry_statuses are expected to pass; others are suspicious.
                "retryable": answer.status is None or self._settings.is_retryable(answer.status),
            },
        )
        if report is not None:
            report.error = text
        log.warning("submission failed: %s", text)

    # --- HTTP -----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        account: Account,
        now: float,
        *,
        content: bytes | None = None,
        key: str | None = None,
    ) -> _Answer:
        import httpx

        assert account.token is not None
        redact_secret(account.token)  # also in `flattr-host flush`, which has no Service
        if not accounts.is_bearer_token(account.token):
            # Stored before sign-in checked tokens: it can never be sent, so it counts as rejected.
            return _Answer(status=401, code="invalid_token", message=accounts.NOT_A_BEARER_TOKEN)
        headers = {
            "Authorization": f"Bearer {account.token}",
            "User-Agent": f"flattr-companion/{__version__}",
            "Accept": "application/json",
        }
        if content is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            response = self._http().request(
                method, self._base + path, headers=headers, content=content
            )
        except httpx.TransportError as exc:
            message = redact(str(exc) or repr(exc))  # it may quote the header
            return _Answer(status=None, code=type(exc).__name__, message=message)
        return _answer(response, self._tick(), self._settings.rate_limit_window)

    def _http(self) -> httpx.Client:
        if self._client is None:
            import httpx

            self._client = httpx.Client(
                transport=self._transport,
                verify=self._settings.ca_bundle or True,
                timeout=self._settings.request_timeout,
                follow_redirects=False,  # a redirect must not carry the token elsewhere
            )
        return self._client

    # --- plumbing -------------------------------------------------------------------------

    def _now(self, now: float | None) -> float:
        return self._clock() if now is None else now

    def _write(self, write: Callable[[], T]) -> T:
        def transaction() -> T:
            with store.transaction(self._conn):
                return write()

        return lease.retry_locked(transaction)

    def _emit(self, name: str, payload: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(name, payload)
        except Exception:  # a broken listener must not undo or repeat a recorded outcome
            log.exception("event listener failed for %s", name)


def _signed_out_state(account: Account) -> dict[str, Any]:
    """The ``signed_out`` event's data: the account state of PROTOCOL.md."""
    return {
        "signed_in": False,
        "username": account.username,
        "subscription_active": account.subscription_active,
        "signed_out_reason": "token_rejected",
    }


def _new_key() -> str:
    return str(uuid.uuid4())


def _answer(response: httpx.Response, now: float, window: float) -> _Answer:
    offset = backoff.server_offset(response.headers.get("date"), now)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    message = body.get("error_description") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or ""
        if not (200 <= response.status_code < 300) and body is None and response.text:
            message = f"{message}: {response.text.strip()}".strip(": ")
    return _Answer(
        status=response.status_code,
        code=code if isinstance(code, str) else None,
        # Redacted before it is cut, so that no part of an echoed token is kept.
        message=redact(message)[:MAX_ERROR_TEXT],
        body=body,
        retry_after=backoff.parse_retry_after(
            response.headers.get("retry-after"), now=now, offset=offset
        ),
        rate=backoff.clamp_reset(
            backoff.parse_rate_limit(response.headers, offset=offset + RESET_MARGIN_SECONDS),
            latest=now + window,
        ),
        offset=offset,
    )


def _describe(answer: _Answer) -> str:
    if answer.status is None:
        return f"network error ({answer.code}): {answer.message}"[:MAX_ERROR_TEXT]
    code = f" {redact(answer.code)}" if answer.code else ""
    message = f": {answer.message}" if answer.message else ""
    return f"HTTP {answer.status}{code}{message}"[:MAX_ERROR_TEXT]


# --- status for the popup, the CLI and the diagnostics page -----------------------------------


def describe_error(error: object) -> str | None:
    """The stored ``last_error`` in words."""
    if not isinstance(error, dict):
        return None
    status, code, message = error.get("status"), error.get("code"), error.get("message") or ""
    # Also texts stored before they were redacted at the source.
    code, message = (None if code is None else redact(str(code))), redact(str(message))
    if status is None:
        return f"Could not reach the Flattr API ({code}): {message}".rstrip(": ")
    words = {
        401: "The Flattr token was rejected; sign in again on flattr.com",
        402: "The Flattr subscription is not active",
        429: "Too many requests; waiting for the rate limit to reset",
    }.get(int(status))
    if code == "rate_limit_exceeded":
        words = "Too many requests; waiting for the rate limit to reset"
    base = words or f"The Flattr API answered {status}{f' ({code})' if code else ''}"
    return f"{base}: {message}" if message and not words else base


def status_summary(
    conn: sqlite3.Connection, now: float, settings: Settings | None = None
) -> dict[str, Any]:
    """Counts, what the queue waits for and why, the last error and the rate limit."""
    settings = settings or Settings()
    counts = dataclasses.asdict(queue.counts(conn))
    unsent = queue.unsent_by_account(conn)
    account = accounts.current(conn)
    hold_reason: str | None = None
    hold_until: float | None = None
    next_retry: float | None = None
    mine = 0 if account is None else unsent.get(account.id, 0)
    if unsent and (account is None or account.token is None):
        hold_reason = SIGNED_OUT
    elif account is not None:
        # The same hold the submitter obeys (the one that ends last), so the two never disagree.
        hold = current_hold(conn, account, now, settings)
        if mine == 0 and unsent:
            hold_reason = WAITING_FOR_ACCOUNT
        elif hold is not None and (mine or hold.reason != RATE_LIMITED):
            hold_reason = hold.reason
            hold_until = None if math.isinf(hold.until) else hold.until
        batch_at = queue.next_batch_at(conn, account.id)
        newest = queue.newest_unbatched(conn, account.id)
        times = [
            t
            for t in (batch_at, None if newest is None else newest + settings.submit_delay)
            if t is not None
        ]
        if times and hold_reason != REFUSED:  # a refusal waits for the user: no time to say
            next_retry = max(min(times), hold_until or 0.0)
    last_error = store.get(conn, LAST_ERROR_KEY)
    return {
        "counts": counts,
        "waiting_for_other_accounts": sum(
            n for a, n in unsent.items() if account is None or a != account.id
        ),
        "next_retry_at": next_retry,
        "hold": hold_reason,
        "hold_until": hold_until,
        "last_error": last_error,
        "last_error_text": describe_error(last_error),
        "last_delivery_at": store.get(conn, LAST_DELIVERY_KEY),
        "rate_limit": store.get(conn, RATE_LIMIT_KEY),
    }

"""What an answer of the Flattr API does to the flattrs it was about, recorded inside the outcome
transaction: the handlers of ``verdict``'s verdicts (table in docs/architecture.md#6-submission).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from . import accounts, backoff, flattrs, holds, store
from .accounts import Account
from .api import Answer
from .holds import BACKOFF, RATE_LIMITED, REFUSED, SIGNED_OUT, SUBSCRIPTION_INACTIVE, Hold
from .logs import redact
from .settings import Settings
from .verdict import Verdict, judge, named_urls

log = logging.getLogger(__name__)

# On these statuses a Retry-After says when to come back (RFC 9110, RFC 6585), back-off or not.
RETRY_AFTER_DECIDES = (429, 503)

Event = tuple[str, dict[str, Any]]


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


@dataclass
class Attempt:
    """One request of ``account`` about ``items`` (none for the token check) and its answer. The
    handlers add to ``report`` and collect ``events`` to emit once the transaction committed."""

    conn: sqlite3.Connection
    settings: Settings
    account: Account
    answer: Answer
    now: float
    report: SubmitReport
    items: list[flattrs.Item] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    @functools.cached_property
    def verdict(self) -> Verdict:
        named = named_urls(self.answer.body)
        return judge(
            self.answer.status,
            self.answer.code,
            self.answer.body,
            items=len(self.items),
            named=sum(1 for item in self.items if item.url in named),
            retryable=self.settings.is_retryable,
        )


def goes_on_at_once(a: Attempt) -> bool:
    """Whether the next batch may go before this answer is recorded: only after a delivery that
    leaves the rate window open (``reserve`` kept, as ``holds.current_hold`` will see it) and
    says nothing against the subscription. Anything else is recorded first, and decided then."""
    if a.verdict is not Verdict.DELIVERED:
        return False
    s = a.settings
    rate_hold = backoff.rate_limit_hold(
        a.answer.rate, reserve=s.rate_limit_reserve, now=a.now, window=s.rate_limit_window
    )
    return rate_hold is None and _subscription_active(a.answer.body) is not False


def settle(a: Attempt, batch: flattrs.Batch) -> bool:
    """Record the outcome of one bulk request. True: go on sending."""
    conn, answer, now = a.conn, a.answer, a.now
    note_rate(conn, answer)
    verdict = a.verdict
    if verdict is Verdict.DELIVERED:
        assert answer.status is not None  # a delivery is an answer
        a.report.delivered += flattrs.deliver(conn, batch.id, answer.status, now)
        store.put(conn, holds.LAST_DELIVERY_KEY, now)
        store.put(conn, holds.LAST_ERROR_KEY, None)
        hold = holds.load_hold(conn)
        if hold is not None and hold.reason in (BACKOFF, RATE_LIMITED):
            holds.save_hold(conn, None)
        _read_subscription(a)
        return True
    if verdict is Verdict.SIGN_OUT:
        _token_rejected(a, batch)
        return False
    if verdict is Verdict.SUBSCRIPTION:
        _subscription_refused(a, batch)
        return False
    if verdict is Verdict.RATE_LIMITED:
        _put_back(a, batch, _rate_hold(a), answer.status)
        a.report.waiting = RATE_LIMITED
        return False
    if verdict in (Verdict.REJECT_NAMED, Verdict.REJECT, Verdict.SPLIT):
        _isolate(a, batch, verdict)
        return True
    if verdict is Verdict.HOLD:
        _held(a, batch)
        return False
    _failed_attempt(a, batch)
    return False


def settle_token_check(a: Attempt) -> None:
    """The token check (GET /user) failed: sign out, hold or back off as for a batch."""
    note_rate(a.conn, a.answer)
    _record_error(a)
    verdict = a.verdict
    if verdict is Verdict.SIGN_OUT:
        accounts.token_rejected(a.conn, a.account.id, a.now)
        a.events.append((SIGNED_OUT, _signed_out_state(a.account)))
        a.report.waiting = SIGNED_OUT
    elif verdict is Verdict.RATE_LIMITED:
        _rate_hold(a)
        a.report.waiting = RATE_LIMITED
    elif verdict is Verdict.HOLD:
        _refuse(a)
    else:
        _back_off(a, 0)
        a.report.waiting = BACKOFF


def note_rate(conn: sqlite3.Connection, answer: Answer) -> None:
    if answer.rate is not None:
        store.put(conn, holds.RATE_LIMIT_KEY, answer.rate.as_json())


def _put_back(a: Attempt, batch: flattrs.Batch, until: float, status: int | None) -> None:
    """The batch's flattrs wait for ``until`` again, no attempt counted."""
    flattrs.settle(a.conn, batch.id, "pending", a.now)
    error = a.answer.describe()
    flattrs.reschedule(a.conn, batch.id, next_attempt_at=until, status=status, error=error)


def _token_rejected(a: Attempt, batch: flattrs.Batch) -> None:
    _put_back(a, batch, batch.next_attempt_at, a.answer.status)
    accounts.token_rejected(a.conn, a.account.id, a.now)
    _record_error(a)
    a.report.waiting = SIGNED_OUT
    a.events.append((SIGNED_OUT, _signed_out_state(a.account)))


def _subscription_refused(a: Attempt, batch: flattrs.Batch) -> None:
    conn, account = a.conn, a.account
    until = a.now + a.settings.failed_retry_interval
    # Stored as 402 also for a 401 no_means, so that subscription_reactivated finds it.
    _put_back(a, batch, until, 402)
    accounts.set_subscription(conn, account.id, False)
    holds.save_hold(conn, Hold(until=until, reason=SUBSCRIPTION_INACTIVE, account_id=account.id))
    _record_error(a)
    a.report.waiting = SUBSCRIPTION_INACTIVE
    if account.subscription_active is not False:
        a.events.append(("subscription", {"active": False}))


def _isolate(a: Attempt, batch: flattrs.Batch, verdict: Verdict) -> None:
    """Refuse exactly the flattrs the server refused (the URLs it named, or the lone flattr of
    a per-item refusal), or halve the batch to get there. Whatever is not refused goes on in
    new batches with new keys (the old key's answer was a refusal of the whole request)."""
    conn, items = a.conn, a.items
    if verdict is Verdict.REJECT_NAMED:
        invalid = named_urls(a.answer.body)
        refused = [item.id for item in items if item.url in invalid]
        rest = [item.id for item in items if item.url not in invalid]
        groups = [rest] if rest else []
    elif verdict is Verdict.REJECT:
        refused, groups = [item.id for item in items], []
    else:
        half = (len(items) + 1) // 2
        refused = []
        groups = [[i.id for i in items[:half]], [i.id for i in items[half:]]]
    a.report.rejected += flattrs.reject(conn, refused, a.answer.describe(), a.now)
    for group in groups:
        flattrs.new_batch(conn, a.account.id, group, a.now, flattrs.new_key())
    flattrs.close_if_done(conn, batch.id)
    log.info(
        "batch %d refused (%s): %d rejected, %d re-batched",
        batch.id,
        a.answer.status,
        len(refused),
        sum(len(g) for g in groups),
    )


def _held(a: Attempt, batch: flattrs.Batch) -> None:
    """An answer retrying cannot fix: the batch's flattrs become failed with the server's
    reason, and the account's flattrs wait until the user asks (flush) or signs in again.
    The batch stays due, so that it goes as soon as the refusal is lifted."""
    error = a.answer.describe()
    a.report.failed += flattrs.settle(a.conn, batch.id, "failed", a.now, error)
    flattrs.reschedule(
        a.conn,
        batch.id,
        next_attempt_at=a.now,
        attempts=batch.attempts + 1,
        status=a.answer.status,
        error=error,
    )
    _record_error(a)
    _refuse(a)


def _refuse(a: Attempt) -> None:
    holds.refuse(a.conn, a.account.id, a.now)
    a.report.waiting = REFUSED


def _failed_attempt(a: Attempt, batch: flattrs.Batch) -> None:
    """Network error, retry status, a 400 naming nothing, a 2xx error body: count the attempt
    and back off; after ``max_attempts`` the items become failed and wait on the slow
    schedule."""
    conn, now = a.conn, a.now
    attempts = batch.attempts + 1
    wait = _back_off(a, attempts)
    error = a.answer.describe()
    if attempts >= a.settings.max_attempts:
        a.report.failed += flattrs.settle(conn, batch.id, "failed", now, error)
        next_at = now + max(wait, a.settings.failed_retry_interval)
    else:
        flattrs.settle(conn, batch.id, "pending", now)
        next_at = now + wait
    flattrs.reschedule(
        conn,
        batch.id,
        next_attempt_at=next_at,
        attempts=attempts,
        status=a.answer.status,
        error=error,
    )
    _record_error(a)
    a.report.waiting = BACKOFF


def _back_off(a: Attempt, attempts: int) -> float:
    """Store the global back-off hold (it grows with consecutive failures, whichever batch
    failed, so neither new flattrs nor new batches reset it) and return the wait."""
    hold = holds.load_hold(a.conn)
    failures = (hold.failures if hold is not None else 0) + 1
    s, answer = a.settings, a.answer
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
    holds.save_hold(a.conn, Hold(until=a.now + wait, reason=BACKOFF, failures=failures))
    return wait


def _rate_hold(a: Attempt) -> float:
    """403 rate_limit_exceeded / 429: wait for Retry-After, else for the window's reset when
    it is used up, else one back-off step; no attempt is counted. (A used-up window also
    holds through the stored rate limit, see ``holds.current_hold``.)"""
    s, answer, now = a.settings, a.answer, a.now
    if answer.retry_after is not None and answer.retry_after > 0:
        until = now + answer.retry_after
    else:
        reset = backoff.rate_limit_hold(answer.rate, reserve=0, now=now)
        until = now + s.backoff_base if reset is None else reset
    until = min(until, now + s.failed_retry_interval)
    hold = holds.load_hold(a.conn)
    failures = hold.failures if hold is not None else 0
    holds.save_hold(a.conn, Hold(until=until, reason=RATE_LIMITED, failures=failures))
    _record_error(a)
    return until


def _subscription_active(body: Any) -> bool | None:
    """What an answer's body says of the subscription (None: nothing)."""
    subscription = body.get("subscription") if isinstance(body, dict) else None
    active = subscription.get("active") if isinstance(subscription, dict) else None
    return active if isinstance(active, bool) else None


def _read_subscription(a: Attempt) -> None:
    account = a.account
    active = _subscription_active(a.answer.body)
    if active is None or active == account.subscription_active:
        return
    accounts.set_subscription(a.conn, account.id, active)
    if not active:
        a.events.append(("subscription", {"active": False}))
    elif account.subscription_active is False:
        a.events.append(("subscription", {"active": True}))
        holds.subscription_reactivated(a.conn, a.now, account.id)


def _record_error(a: Attempt) -> None:
    answer = a.answer
    text = answer.describe()
    store.put(
        a.conn,
        holds.LAST_ERROR_KEY,
        {
            "status": answer.status,
            "code": None if answer.code is None else redact(answer.code),
            "message": answer.message,
            "at": a.now,
            # Network errors and retry_statuses are expected to pass; others are suspicious.
            "retryable": answer.status is None or a.settings.is_retryable(answer.status),
        },
    )
    a.report.error = text
    log.warning("submission failed: %s", text)


def _signed_out_state(account: Account) -> dict[str, Any]:
    """The ``signed_out`` event's data: the account state of PROTOCOL.md."""
    return {
        "signed_in": False,
        "username": account.username,
        "subscription_active": account.subscription_active,
        "signed_out_reason": "token_rejected",
    }

"""What stops the submitter from sending, kept in ``kv`` so that it outlives the process: the
back-off and rate-limit hold, a refusal of one account, the last rate-limit window, the last error
and the last delivery.

Hold reasons are also the ``waiting`` values of a submission report and the ``hold`` of the
protocol's queue state (with ``signed_out``, ``waiting_for_account``, ``busy``, ``submit_delay``).
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
from dataclasses import dataclass

from . import backoff, flattrs, store
from .accounts import Account
from .backoff import RateLimit
from .settings import Settings

# kv keys (JSON values; shapes in status.status_summary).
HOLD_KEY = "submit_hold_until"
# A refusal retrying cannot fix ({"account_id", "at"}); apart from HOLD_KEY, so that another
# account's back-off can never overwrite it.
REFUSAL_KEY = "submit_refusal"
RATE_LIMIT_KEY = "rate_limit"
LAST_ERROR_KEY = "last_error"
LAST_DELIVERY_KEY = "last_delivery_at"

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
            # Active again (by whatever path): the 402 no longer stands (the submitter lifts it).
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


def save_hold(conn: sqlite3.Connection, hold: Hold | None) -> None:
    store.put(conn, HOLD_KEY, None if hold is None else dataclasses.asdict(hold))


def _load_refusal(conn: sqlite3.Connection) -> Hold | None:
    raw = store.get(conn, REFUSAL_KEY)
    account_id = raw.get("account_id") if isinstance(raw, dict) else None
    if not isinstance(account_id, int):
        return None
    return Hold(until=math.inf, reason=REFUSED, account_id=account_id)


def refuse(conn: sqlite3.Connection, account_id: int, now: float) -> None:
    """Hold the account's flattrs until the user asks (flush) or signs in again."""
    store.put(conn, REFUSAL_KEY, {"account_id": account_id, "at": now})


def lift_refusal(conn: sqlite3.Connection) -> None:
    store.put(conn, REFUSAL_KEY, None)


def current_hold(
    conn: sqlite3.Connection, account: Account, now: float, settings: Settings
) -> Hold | None:
    """The hold the submitter obeys for ``account`` now: whichever ends last of a refusal, the
    stored hold and the rate-limit window (None: nothing holds it)."""
    holds = [h for h in (_load_refusal(conn), load_hold(conn)) if h and h.applies(account, now)]
    rate_until = backoff.rate_limit_hold(
        RateLimit.from_json(store.get(conn, RATE_LIMIT_KEY)),
        reserve=settings.rate_limit_reserve,
        now=now,
        window=settings.rate_limit_window,
    )
    if rate_until is not None:
        holds.append(Hold(until=rate_until, reason=RATE_LIMITED))
    return max(holds, key=lambda hold: hold.until, default=None)


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
            save_hold(conn, None)
        return flattrs.make_402_due(conn, now, account_id)


def lift_on_sign_in(conn: sqlite3.Connection, account: Account, now: float) -> None:
    """A sign-in on flattr.com may lift a hold's cause: a new token may carry the missing scope
    (a refusal goes out again), and an active subscription lifts the 402 hold."""
    lift_refusal(conn)
    if account.subscription_active:
        subscription_reactivated(conn, now, account.id)


def paused_by_402(conn: sqlite3.Connection, account_id: int, now: float) -> bool:
    """Whether the account's flattrs wait for a 402 (its hold, or batches on its slow schedule)."""
    hold = load_hold(conn)
    if hold and hold.reason == SUBSCRIPTION_INACTIVE and hold.account_id == account_id:
        return True
    return flattrs.waiting_after_402(conn, account_id, now)

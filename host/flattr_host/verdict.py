"""What one answer of the Flattr API means for the flattrs it was about: a pure decision.

Only what the API documents (or a server can only mean one way) is acted on; everything else is
held for the user rather than retried for ever or dropped:

- 2xx is a delivery, unless its body is the API's error shape (``{"error": ...}``): that is not a
  success, and is retried like a failure with the batch's same Idempotency-Key.
- Network errors and ``retry_statuses`` are retried with back-off, and so is a 400 that names no
  URL of the batch (the server refused the request as a whole, not a flattr of it).
- 400 naming URLs of the batch (``invalid_urls``): exactly those are refused.
- 401 rejects the token, except ``no_means``/``no_money`` (no money, like 402: subscription).
- 429 and 403 ``rate_limit_exceeded``: wait, without counting an attempt.
- 403 ``flattr_once``/``flattr_owner`` refuse one flattr: split the batch until it is alone.
- 413 for several flattrs: split the batch.
- Anything else (403 ``insufficient_scope``, 404, 3xx, a lone 413, other 5xx, ...) will not pass
  by retrying: hold until the user asks again or signs in again.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from .api.answer import is_error_body

# 401 with these codes means "no money", not "bad token" (docs/flattr-api.md#errors).
NO_MEANS_CODES = ("no_means", "no_money")
# 403 codes that refuse one flattr, not the request (POST /flattr's documented errors).
PER_ITEM_CODES = ("flattr_once", "flattr_owner")


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # count an attempt, back off; after max_attempts the flattrs are failed
    SIGN_OUT = "sign_out"
    SUBSCRIPTION = "subscription"
    RATE_LIMITED = "rate_limited"
    REJECT_NAMED = "reject_named"  # refuse the flattrs whose URLs the server named
    REJECT = "reject"  # refuse the one flattr of the request
    SPLIT = "split"  # halve the batch to find what was refused
    HOLD = "hold"  # hold until the user asks again


def named_urls(body: Any) -> set[str]:
    """The URLs a 400 names as refused (``invalid_urls``)."""
    named = body.get("invalid_urls") if isinstance(body, dict) else None
    return {url for url in named if isinstance(url, str)} if isinstance(named, list) else set()


def judge(
    status: int | None,
    code: str | None,
    body: Any,
    *,
    items: int,
    named: int,
    retryable: Callable[[int], bool],
) -> Verdict:
    """The verdict on an answer about ``items`` flattrs, ``named`` of which the body names as
    invalid (``status`` None: no answer, a network error)."""
    if status is None:
        return Verdict.RETRY
    if 200 <= status < 300:
        return Verdict.RETRY if is_error_body(body) else Verdict.DELIVERED
    if status == 401:
        return Verdict.SUBSCRIPTION if code in NO_MEANS_CODES else Verdict.SIGN_OUT
    if status == 402:
        return Verdict.SUBSCRIPTION
    if status == 429 or (status == 403 and code == "rate_limit_exceeded"):
        return Verdict.RATE_LIMITED
    if status == 400:
        return Verdict.REJECT_NAMED if named else Verdict.RETRY
    if status == 403 and code in PER_ITEM_CODES:
        return Verdict.REJECT if items == 1 else Verdict.SPLIT
    if status == 413 and items > 1:
        return Verdict.SPLIT
    return Verdict.RETRY if retryable(status) else Verdict.HOLD

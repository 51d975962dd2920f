"""What each answer of the API means (the pure decision; the submitter tests cover the effects)."""

from __future__ import annotations

from typing import Any

import pytest

from flattr_host.settings import Settings
from flattr_host.verdict import Verdict, judge, named_urls

RETRYABLE = Settings().is_retryable


def verdict(status: int | None, body: Any = None, *, items: int = 3, named: int = 0) -> Verdict:
    code = body.get("error") if isinstance(body, dict) else None
    return judge(status, code, body, items=items, named=named, retryable=RETRYABLE)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (None, None, Verdict.RETRY),
        (200, {"status": "success"}, Verdict.DELIVERED),
        (200, None, Verdict.DELIVERED),  # an empty or non-JSON body
        (204, None, Verdict.DELIVERED),
        (200, {"error": "invalid_request"}, Verdict.RETRY),
        (201, {"error": "server_error", "error_description": "x"}, Verdict.RETRY),
        (200, {"error": 5}, Verdict.DELIVERED),  # not the error shape
        (401, {"error": "unauthorized"}, Verdict.SIGN_OUT),
        (401, None, Verdict.SIGN_OUT),
        (401, {"error": "no_means"}, Verdict.SUBSCRIPTION),
        (401, {"error": "no_money"}, Verdict.SUBSCRIPTION),
        (402, None, Verdict.SUBSCRIPTION),
        (429, None, Verdict.RATE_LIMITED),
        (403, {"error": "rate_limit_exceeded"}, Verdict.RATE_LIMITED),
        (400, {"error": "invalid_request"}, Verdict.RETRY),
        (400, None, Verdict.RETRY),
        (403, {"error": "flattr_once"}, Verdict.SPLIT),
        (403, {"error": "flattr_owner"}, Verdict.SPLIT),
        (413, None, Verdict.SPLIT),
        (403, {"error": "insufficient_scope"}, Verdict.HOLD),
        (403, {"error": "invalid_scope"}, Verdict.HOLD),
        (403, None, Verdict.HOLD),
        (404, {"error": "not_found"}, Verdict.HOLD),
        (301, None, Verdict.HOLD),
        (302, None, Verdict.HOLD),
        (405, None, Verdict.HOLD),
        (422, None, Verdict.HOLD),
        (501, None, Verdict.HOLD),
        (505, None, Verdict.HOLD),
        *[(status, None, Verdict.RETRY) for status in (408, 409, 500, 502, 503, 504, 525, 599)],
    ],
)
def test_verdicts(status: int | None, body: Any, expected: Verdict) -> None:
    assert verdict(status, body) == expected


def test_a_lone_flattr() -> None:
    assert verdict(403, {"error": "flattr_once"}, items=1) == Verdict.REJECT
    assert verdict(413, None, items=1) == Verdict.HOLD


def test_a_400_rejects_only_what_it_names() -> None:
    body = {"error": "invalid_parameters", "invalid_urls": ["https://a.example/", 5]}
    assert named_urls(body) == {"https://a.example/"}
    assert verdict(400, body, named=1) == Verdict.REJECT_NAMED
    assert verdict(400, body, named=0) == Verdict.RETRY  # it names none of this batch
    assert named_urls({"invalid_urls": "https://a.example/"}) == set()
    assert named_urls([]) == set()


def test_only_the_configured_statuses_are_retried() -> None:
    strict = Settings(retry_statuses=(503,)).is_retryable
    assert judge(503, None, None, items=1, named=0, retryable=strict) == Verdict.RETRY
    assert judge(500, None, None, items=1, named=0, retryable=strict) == Verdict.HOLD

"""Back-off and rate-limit arithmetic (pure functions, no clock, no network)."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable

import pytest

from flattr_host.backoff import (
    RateLimit,
    backoff_delay,
    clamp_reset,
    parse_http_date,
    parse_rate_limit,
    parse_retry_after,
    rate_limit_hold,
    server_offset,
)


def delay(attempts: int, jitter: float, rand: Callable[[], float] = random.random) -> float:
    return backoff_delay(attempts, base=60.0, factor=4.0, cap=3840.0, jitter=jitter, rand=rand)


@pytest.mark.parametrize(
    ("attempts", "expected"), [(1, 60.0), (2, 240.0), (3, 960.0), (4, 3840.0), (5, 3840.0)]
)
def test_exponential_without_jitter(attempts: int, expected: float) -> None:
    assert delay(attempts, 0.0) == expected


def test_cap_holds_for_absurd_attempt_counts() -> None:
    assert delay(100_000, 0.0) == 3840.0


@pytest.mark.parametrize("rand", [0.0, 0.25, 0.5, 0.999999])
def test_jitter_stays_within_its_fraction(rand: float) -> None:
    wait = delay(2, 0.2, rand=lambda: rand)
    assert 240.0 * 0.8 <= wait <= 240.0 * 1.2


def test_jitter_extremes_and_middle() -> None:
    assert delay(2, 0.2, rand=lambda: 0.0) == pytest.approx(192.0)
    assert delay(2, 0.2, rand=lambda: 0.5) == pytest.approx(240.0)
    assert delay(2, 0.2, rand=lambda: 1.0) == pytest.approx(288.0)


def test_jitter_really_spreads() -> None:
    delays = {delay(1, 0.2) for _ in range(50)}
    assert len(delays) > 1
    assert all(48.0 <= d <= 72.0 for d in delays)


def test_retry_after_seconds() -> None:
    assert parse_retry_after("120", now=1000.0) == 120.0
    assert parse_retry_after(" 0 ", now=1000.0) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "nan"])
def test_retry_after_unreadable(value: str | None) -> None:
    assert parse_retry_after(value, now=1000.0) is None


def test_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    value = email.utils.formatdate(now + 90, usegmt=True)
    assert parse_retry_after(value, now=now) == pytest.approx(90.0)
    # A date in the past means "now", never a negative wait.
    past = email.utils.formatdate(now - 90, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


def test_retry_after_date_uses_server_clock() -> None:
    # Local clock 1000 s behind the server: the server's "in 60 s" is still 60 s from now.
    server_now = 1_700_000_000.0
    local_now = server_now - 1000
    offset = server_offset(email.utils.formatdate(server_now, usegmt=True), local_now)
    value = email.utils.formatdate(server_now + 60, usegmt=True)
    assert parse_retry_after(value, now=local_now, offset=offset) == pytest.approx(60.0)


def test_http_date_forms() -> None:
    expected = 784111777.0  # RFC 9110's example instant
    assert parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == expected
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == expected
    assert parse_http_date("Sun Nov  6 08:49:37 1994") == expected
    assert parse_http_date("not a date") is None


def test_rate_limit_headers() -> None:
    headers = {
        "x-ratelimit-limit": "1000",
        "x-ratelimit-remaining": "3",
        "x-ratelimit-current": "997",
        "x-ratelimit-reset": "1700003600",
    }
    rate = parse_rate_limit(headers, offset=-100.0)
    assert rate == RateLimit(limit=1000, remaining=3, reset=1700003500.0, current=997)
    assert RateLimit.from_json(rate.as_json()) == rate
    assert parse_rate_limit({}) is None
    assert parse_rate_limit({"x-ratelimit-remaining": "many"}) is None


def test_rate_limit_hold_keeps_the_reserve() -> None:
    now = 1000.0
    window = RateLimit(limit=1000, remaining=5, reset=now + 300)
    assert rate_limit_hold(window, reserve=5, now=now) == now + 300
    assert rate_limit_hold(window, reserve=4, now=now) is None
    # Once the window has reset, the stale "remaining" no longer holds anything.
    assert rate_limit_hold(window, reserve=5, now=now + 301) is None
    assert rate_limit_hold(None, reserve=5, now=now) is None
    assert rate_limit_hold(RateLimit(None, None, None), reserve=5, now=now) is None


def test_a_far_off_reset_is_clamped_to_the_window() -> None:
    now = 1000.0
    far = RateLimit(limit=1000, remaining=0, reset=now + 1e7)
    assert clamp_reset(far, latest=now + 3600) == RateLimit(1000, 0, now + 3600)
    near = RateLimit(limit=1000, remaining=0, reset=now + 60)
    assert clamp_reset(near, latest=now + 3600) == near
    assert clamp_reset(None, latest=now) is None
    assert clamp_reset(RateLimit(1000, 0, None), latest=now) == RateLimit(1000, 0, None)


def test_a_stored_reset_beyond_the_window_holds_nothing() -> None:
    # Stored before resets were clamped (116 days away): it must not stop sending for months.
    now = 1000.0
    stale = RateLimit(limit=1000, remaining=0, reset=now + 1e7)
    assert rate_limit_hold(stale, reserve=5, now=now, window=3600) is None
    window = RateLimit(limit=1000, remaining=0, reset=now + 3600)
    assert rate_limit_hold(window, reserve=5, now=now, window=3600) == now + 3600

"""Back-off and rate-limit arithmetic: pure functions of their inputs (no I/O, no clock of its own).

Server-given times (``Retry-After`` dates, ``X-RateLimit-Reset``) are in the server's clock. They
are turned into local times through the response's ``Date`` header when there is one, so that a
skewed local clock (or a test's injected clock) neither sends too early nor waits for hours.
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def backoff_delay(
    attempts: int,
    *,
    base: float,
    factor: float,
    cap: float,
    jitter: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 = the first failure):
    ``base * factor**(attempts-1)`` capped at ``cap``, then spread by ±``jitter`` (a fraction) so
    that many clients failing together do not come back together."""
    try:
        delay = min(cap, base * factor ** max(attempts - 1, 0))
    except OverflowError:  # a float power that large only means "the cap"
        delay = cap
    spread = min(max(jitter, 0.0), 1.0)
    return max(0.0, delay * (1.0 + spread * (2.0 * rand() - 1.0)))


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date (RFC 9110 IMF-fixdate, or the obsolete forms) as unix seconds."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:  # HTTP dates are GMT by definition
        return parsed.replace(tzinfo=datetime.UTC).timestamp()
    return parsed.timestamp()


def server_offset(date_header: str | None, now: float) -> float:
    """Add this to a server time to get the local time (0 when the server sent no usable Date).

    Date has a one-second resolution and is truncated, so the result errs towards waiting up to a
    second longer, never shorter."""
    server_now = parse_http_date(date_header)
    return 0.0 if server_now is None else now - server_now


def parse_retry_after(value: str | None, *, now: float, offset: float = 0.0) -> float | None:
    """``Retry-After`` (delay-seconds or an HTTP date) as seconds to wait from ``now``, never
    negative; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        when = parse_http_date(text)
        return None if when is None else max(0.0, when + offset - now)
    if seconds != seconds or seconds < 0:  # NaN or negative: not a delay
        return None
    return seconds


@dataclass(frozen=True)
class RateLimit:
    """The API's rate-limit window as last reported; ``reset`` is a local unix time."""

    limit: int | None
    remaining: int | None
    reset: float | None
    # X-RateLimit-Current: requests made in this window.
    current: int | None = None

    def as_json(self) -> dict[str, float | int | None]:
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "reset": self.reset,
            "current": self.current,
        }

    @classmethod
    def from_json(cls, value: object) -> RateLimit | None:
        if not isinstance(value, dict):
            return None
        return cls(
            limit=_int(value.get("limit")),
            remaining=_int(value.get("remaining")),
            reset=_float(value.get("reset")),
            current=_int(value.get("current")),
        )


def parse_rate_limit(headers: Mapping[str, str], *, offset: float = 0.0) -> RateLimit | None:
    """The ``X-RateLimit-*`` headers (case-insensitive mapping), or None when the response had
    none."""
    limit = _int(headers.get("x-ratelimit-limit"))
    remaining = _int(headers.get("x-ratelimit-remaining"))
    reset = _float(headers.get("x-ratelimit-reset"))
    current = _int(headers.get("x-ratelimit-current"))
    if limit is None and remaining is None and reset is None and current is None:
        return None
    return RateLimit(
        limit=limit,
        remaining=remaining,
        reset=None if reset is None else reset + offset,
        current=current,
    )


def clamp_reset(rate: RateLimit | None, *, latest: float) -> RateLimit | None:
    """The window with its reset no later than ``latest``: the API's window is an hour, so a
    reset further away is a server's mistake and must not stop sending for longer."""
    if rate is None or rate.reset is None or rate.reset <= latest:
        return rate
    return dataclasses.replace(rate, reset=latest)


def rate_limit_hold(
    rate: RateLimit | None, *, reserve: int, now: float, window: float | None = None
) -> float | None:
    """Until when to stay quiet so that ``reserve`` requests of the window stay unused
    (None: go now). A reset more than ``window`` seconds ahead is no window of the API (a value
    stored before resets were clamped, or a clock that jumped) and holds nothing."""
    if rate is None or rate.remaining is None or rate.reset is None:
        return None
    if window is not None and rate.reset > now + window:
        return None
    if rate.remaining <= reserve and rate.reset > now:
        return rate.reset
    return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if number == number and abs(number) != float("inf") else None

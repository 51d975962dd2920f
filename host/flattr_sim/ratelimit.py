"""Fixed hourly windows per key, with the X-RateLimit-* headers (docs/flattr-api.md#rate-limits)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .constants import DEFAULT_RATE_LIMIT, RATE_LIMIT_WINDOW_SECONDS


@dataclass
class Window:
    reset_at: float
    current: int


@dataclass(frozen=True)
class RateStatus:
    allowed: bool
    limit: int
    current: int
    reset_at: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.current)

    def headers(self) -> list[tuple[str, str]]:
        return [
            ("X-RateLimit-Limit", str(self.limit)),
            ("X-RateLimit-Remaining", str(self.remaining)),
            ("X-RateLimit-Current", str(self.current)),
            ("X-RateLimit-Reset", str(int(self.reset_at))),
        ]


class RateLimiter:
    """Not thread-safe on its own; SimState serialises access."""

    def __init__(
        self,
        limit: int = DEFAULT_RATE_LIMIT,
        window_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._default_limit = limit
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._windows: dict[str, Window] = {}
        # Set by configure(): the window every key starts from until it ends.
        self._template: Window | None = None

    def reset(self) -> None:
        self.limit = self._default_limit
        self._windows.clear()
        self._template = None

    def configure(
        self, limit: int | None = None, remaining: int | None = None, reset_in: float | None = None
    ) -> None:
        """Put every key into the same window: `remaining` hits left, ending in `reset_in` s."""
        if limit is not None:
            self.limit = limit
        left = self.limit if remaining is None else min(remaining, self.limit)
        length = self.window_seconds if reset_in is None else reset_in
        self._windows.clear()
        self._template = Window(self._clock() + length, self.limit - left)

    def _window(self, key: str) -> Window:
        now = self._clock()
        window = self._windows.get(key)
        if window is None or window.reset_at <= now:
            template = self._template
            if template is not None and template.reset_at > now:
                window = Window(template.reset_at, template.current)
            else:
                window = Window(now + self.window_seconds, 0)
            self._windows[key] = window
        return window

    def hit(self, key: str) -> RateStatus:
        """Count one request; refused (not counted) once the window is used up."""
        window = self._window(key)
        if window.current >= self.limit:
            return RateStatus(False, self.limit, window.current, window.reset_at)
        window.current += 1
        return RateStatus(True, self.limit, window.current, window.reset_at)

    def peek(self, key: str) -> RateStatus:
        window = self._window(key)
        return RateStatus(window.current < self.limit, self.limit, window.current, window.reset_at)

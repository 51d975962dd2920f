"""One HTTP answer reduced to what callers decide on: status, error code and message, body,
Retry-After, the X-RateLimit-* window and the server's clock offset.

Times are local: ``Retry-After`` dates and ``X-RateLimit-Reset`` are turned from the server's
clock into ours through the ``Date`` header (see backoff.py), so a skewed clock never sends early.
Texts are redacted (logs.redact) before they are cut, so that no part of an echoed token is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from .. import backoff
from ..backoff import RateLimit
from ..logs import redact

# Longest error message kept: answers can be whole HTML pages.
MAX_MESSAGE_CHARS = 300


@dataclass(frozen=True)
class Answer:
    """``status`` None means no HTTP answer at all (then ``code`` names the network error)."""

    status: int | None
    code: str | None = None
    message: str = ""
    body: Any = None
    # Seconds to wait, counted from when the answer arrived.
    retry_after: float | None = None
    rate: RateLimit | None = None
    # Add to a server time to get a local time.
    offset: float = 0.0
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    received_at: float = 0.0

    @property
    def ok(self) -> bool:
        """A 2xx whose body is not the API's error shape (that is no success)."""
        return self.status is not None and 200 <= self.status < 300 and not is_error_body(self.body)

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or (self.status == 403 and self.code == "rate_limit_exceeded")

    def describe(self) -> str:
        """One line for logs and error texts (never the token: no request data is kept)."""
        if self.status is None:
            return f"network error ({self.code}): {self.message}"[:MAX_MESSAGE_CHARS]
        code = f" {redact(self.code)}" if self.code else ""
        message = f": {self.message}" if self.message else ""
        return f"HTTP {self.status}{code}{message}"[:MAX_MESSAGE_CHARS]


def is_error_body(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), str)


def read_answer(
    response: httpx.Response, now: float, *, reset_margin: float = 0.0, window: float | None = None
) -> Answer:
    """The Answer for a response received at local time ``now``. ``reset_margin`` seconds are
    added to the rate-limit reset so that a caller waiting for it does not come back early; a
    reset more than ``window`` seconds away (the API's window) is a server's mistake and is
    brought back to it."""
    offset = backoff.server_offset(response.headers.get("date"), now)
    try:
        body: Any = response.json() if response.content else None
    except ValueError:
        body = None
    code = body.get("error") if isinstance(body, dict) else None
    message = body.get("error_description") if isinstance(body, dict) else None
    if not isinstance(message, str) or not message:
        # The lookup miss uses {"message", "description"} instead of the error shape.
        described = body.get("description") if isinstance(body, dict) else None
        message = (
            described
            if isinstance(described, str) and not (200 <= response.status_code < 300)
            else None
        )
    if not isinstance(message, str) or not message:
        message = response.reason_phrase or ""
        if not (200 <= response.status_code < 300) and body is None and response.text:
            message = f"{message}: {response.text.strip()}".strip(": ")
    rate = backoff.parse_rate_limit(response.headers, offset=offset + reset_margin)
    return Answer(
        status=response.status_code,
        code=code if isinstance(code, str) else None,
        message=redact(message)[:MAX_MESSAGE_CHARS],
        body=body,
        retry_after=backoff.parse_retry_after(
            response.headers.get("retry-after"), now=now, offset=offset
        ),
        rate=rate if window is None else backoff.clamp_reset(rate, latest=now + window),
        offset=offset,
        headers=response.headers,
        received_at=now,
    )


def network_failure(error: Exception, now: float) -> Answer:
    """The Answer for a request that got no HTTP answer."""
    text = redact(str(error) or repr(error))  # it may quote the Authorization header
    return Answer(
        status=None, code=type(error).__name__, message=text[:MAX_MESSAGE_CHARS], received_at=now
    )

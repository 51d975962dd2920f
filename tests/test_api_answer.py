"""flattr_host.api.answer: one HTTP answer reduced to what callers decide on (pure, no I/O)."""

from __future__ import annotations

import email.utils

import httpx

from flattr_host import logs
from flattr_host.api import answer as a
from flattr_host.api.errors import (
    FlattrOnce,
    Forbidden,
    NoMeans,
    RateLimitExceeded,
    ServerError,
    Unauthorized,
    error_for,
)

NOW = 1_700_000_000.0


def response(status: int, body: bytes = b"", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def test_server_times_become_local_times_through_date() -> None:
    server_now = NOW - 100  # the server's clock is 100 s behind ours
    answer = a.read_answer(
        response(
            403,
            b'{"error":"rate_limit_exceeded","error_description":"Too many"}',
            date=email.utils.formatdate(server_now, usegmt=True),
            retry_after=email.utils.formatdate(server_now + 30, usegmt=True),
            x_ratelimit_limit="1000",
            x_ratelimit_remaining="0",
            x_ratelimit_current="1000",
            x_ratelimit_reset=str(int(server_now + 600)),
        ),
        NOW,
        reset_margin=1.0,
    )
    assert answer.offset == 100.0
    assert answer.retry_after == 30.0
    assert answer.rate is not None
    assert (answer.rate.limit, answer.rate.remaining, answer.rate.current) == (1000, 0, 1000)
    assert answer.rate.reset == NOW + 600 + 1.0
    assert answer.rate_limited and not answer.ok
    assert (answer.code, answer.message) == ("rate_limit_exceeded", "Too many")
    assert isinstance(error_for(answer), RateLimitExceeded)
    assert error_for(answer).reset_at == answer.rate.reset  # type: ignore[attr-defined]


def test_messages_from_every_kind_of_body() -> None:
    miss = a.read_answer(response(404, b'{"message":"not_found","description":"No thing"}'), NOW)
    assert miss.code is None and miss.message == "No thing"
    html = a.read_answer(response(502, b"<html>Bad gateway</html>"), NOW)
    assert html.body is None and "Bad gateway" in html.message
    assert isinstance(error_for(html), ServerError)
    empty = a.read_answer(response(404), NOW)
    assert empty.body is None and empty.message == "Not Found"
    long = a.read_answer(response(500, b"x" * 5000), NOW)
    assert len(long.message) <= a.MAX_MESSAGE_CHARS
    assert a.read_answer(response(200, b"[]"), NOW).rate is None  # no X-RateLimit-* at all


def test_the_code_decides_before_the_status() -> None:
    no_means = a.read_answer(response(401, b'{"error":"no_means"}'), NOW)
    assert isinstance(error_for(no_means), NoMeans)
    assert isinstance(error_for(a.read_answer(response(401), NOW)), Unauthorized)
    once = error_for(a.read_answer(response(403, b'{"error":"flattr_once"}'), NOW))
    assert isinstance(once, FlattrOnce) and isinstance(once, Forbidden)
    assert isinstance(error_for(a.read_answer(response(429), NOW)), RateLimitExceeded)


def test_network_failure() -> None:
    failed = a.network_failure(httpx.ConnectError("refused"), NOW)
    assert failed.status is None and failed.code == "ConnectError" and not failed.ok
    assert failed.describe() == "network error (ConnectError): refused"


def test_echoed_tokens_are_redacted_before_the_text_is_cut() -> None:
    token = "echoed-token-" + "z" * 40
    logs.redact_secret(token)
    # The token straddles the cut: no part of it may survive in the message.
    head = "x" * (a.MAX_MESSAGE_CHARS - 10)
    answer = a.read_answer(
        response(400, f'{{"error":"bad","error_description":"{head}{token}"}}'.encode()), NOW
    )
    assert "echoed-tok" not in answer.message and answer.message.endswith("[redacted]")
    html = a.read_answer(response(502, f"<p>Authorization: Bearer {token}</p>".encode()), NOW)
    assert token not in html.message and "[redacted]" in html.message
    failed = a.network_failure(httpx.ConnectError(f"Bearer {token} refused"), NOW)
    assert token not in failed.describe() and "[redacted]" in failed.message


def test_a_reset_beyond_the_window_is_brought_back_to_it() -> None:
    def reset(seconds_away: int, window: float | None) -> float | None:
        headers = {"x_ratelimit_remaining": "0", "x_ratelimit_reset": str(int(NOW + seconds_away))}
        rate = a.read_answer(response(200, b"{}", **headers), NOW, window=window).rate
        return None if rate is None else rate.reset

    assert reset(86_400, None) == NOW + 86_400
    assert reset(86_400, 3600) == NOW + 3600
    assert reset(60, 3600) == NOW + 60


def test_a_2xx_with_the_error_shape_is_no_success() -> None:
    answer = a.read_answer(
        response(200, b'{"error":"invalid_request","error_description":"no"}'), NOW
    )
    assert not answer.ok and (answer.code, answer.message) == ("invalid_request", "no")
    assert a.read_answer(response(200, b'{"status":"success"}'), NOW).ok

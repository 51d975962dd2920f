"""Attention requests read the account, the mode and the site's setting once, not at every request,
and still see every change of them at once: made by another connection (the submitter, another
host, the CLI) or by another request on the same one (see docs/benchmarks.md, durable intake)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flattr_host import accounts, sites, store
from flattr_host.service import Service
from flattr_host.settings import Settings

TOKEN = "token-of-the-reader-1"
FLATTR_PAGE = "https://flattr.com/oauth/ext"
SETTINGS = Settings(api_base="http://127.0.0.1:9", thresholds=(10, 20, 30, 40, 50))


@pytest.fixture()
def service(tmp_path: Path) -> Iterator[Service]:
    service = Service.open(tmp_path, SETTINGS, emit=lambda event: None)
    (reply,) = service.handle_batch([request("token", token=TOKEN, page_url=FLATTR_PAGE)])
    assert reply["ok"], reply
    yield service
    service.close()


def request(kind: str, **fields: Any) -> dict[str, Any]:
    request.count += 1  # type: ignore[attr-defined]
    return {"id": request.count, "type": kind, **fields}  # type: ignore[attr-defined]


request.count = 0  # type: ignore[attr-defined]


def attention(url: str = "https://news.example.com/a", seconds: float = 15) -> dict[str, Any]:
    return request("attention", segments=[{"url": url, "seconds": seconds}])


def result(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"], reply
    segment: dict[str, Any] = reply["result"]["results"][0]
    return segment


def other_connection(tmp_path: Path) -> Any:
    from flattr_host import paths

    return store.connect(paths.database_path(tmp_path), SETTINGS)


def test_a_second_attention_request_reads_no_account_mode_or_site(service: Service) -> None:
    result(service.handle_batch([attention()])[0])
    statements: list[str] = []
    service.conn.set_trace_callback(statements.append)
    result(service.handle_batch([attention()])[0])
    service.conn.set_trace_callback(None)
    reads = [s for s in statements if "FROM kv" in s or "FROM accounts" in s or "FROM sites" in s]
    assert reads == [], statements


def test_changes_by_another_connection_are_seen_at_the_next_request(
    service: Service, tmp_path: Path
) -> None:
    assert result(service.handle_batch([attention()])[0])["counted"]
    other = other_connection(tmp_path)
    with store.transaction(other):
        sites.set_site(other, "news.example.com", sites.DISABLED, time.time())
    assert result(service.handle_batch([attention()])[0])["reason"] == "disabled"
    with store.transaction(other):
        sites.set_site(other, "news.example.com", None, time.time())
        sites.set_mode(other, sites.MODE_ENABLED)
    assert result(service.handle_batch([attention()])[0])["reason"] == "not_enabled"
    with store.transaction(other):
        sites.set_mode(other, sites.MODE_ALL)
        accounts.sign_out(other, time.time())
    # Signed out: attention counts, but the threshold it crosses makes no flattr.
    crossed = result(service.handle_batch([attention(seconds=60)])[0])
    assert crossed["counted"] and crossed["flattrs_queued"] == 0
    other.close()


def test_a_change_by_a_request_is_seen_by_the_next_one_in_the_same_burst(
    service: Service,
) -> None:
    assert result(service.handle_batch([attention()])[0])["counted"]
    replies = service.handle_batch(
        [
            request("set_site", site="news.example.com", setting="disabled"),
            attention(),
            request("set_site", site="news.example.com", setting="default"),
            request("sign_out"),
            attention(seconds=60),
        ]
    )
    assert all(reply["ok"] for reply in replies), replies
    assert result(replies[1])["reason"] == "disabled"
    assert result(replies[4])["counted"] and result(replies[4])["flattrs_queued"] == 0

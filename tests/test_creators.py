"""Creators credited wherever a page says who they are: payment links (http or https),
flattr:id meta tags, Flattr button markup, the order between them, and hostile values."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from flattr_host import creators, service
from flattr_host.creators import names_a_creator
from flattr_host.urls import PageMeta

PAGE = "https://blog.example.com/post/1?utm_source=x"
PAGE_NORMAL = "https://blog.example.com/post/1"
AUTO = "https://flattr.com/submit/auto?url=https%3A%2F%2Fblog.example.com%2Fpost%2F1&user_id=alice"


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_http_payment_link_counts_and_is_sent_over_https() -> None:
    meta = PageMeta(
        payment_url="http://flattr.com/submit/auto?url=http%3A%2F%2Fa.example%2F&user_id=flattr"
    )
    target = creators.resolve_target(PAGE, meta)
    assert target == "https://flattr.com/submit/auto?url=http%3A%2F%2Fa.example%2F&user_id=flattr"
    c = creators.declared(PAGE, meta)
    assert c is not None and (c.name, c.kind, c.source) == ("flattr", "user", "payment_link")


def test_flattr_id_builds_an_auto_submit_url_for_the_page() -> None:
    meta = PageMeta(flattr_id="alice", flattr_params=(("tags", "a,b"), ("title", "Post one")))
    c = creators.declared(PAGE, meta)
    assert c is not None and c.source == "flattr_meta" and (c.name, c.kind) == ("alice", "user")
    assert c.submit_url.startswith("https://flattr.com/submit/auto?")
    q = query(c.submit_url)
    assert q == {"url": [PAGE_NORMAL], "user_id": ["alice"], "title": ["Post one"], "tags": ["a,b"]}
    assert creators.resolve_target(PAGE, meta) == c.submit_url


def test_flattr_id_uses_the_same_site_canonical_url() -> None:
    meta = PageMeta(flattr_id="alice", canonical_url="https://blog.example.com/post/one")
    c = creators.declared(PAGE, meta)
    assert c is not None and query(c.submit_url)["url"] == ["https://blog.example.com/post/one"]


def test_community_identifier_goes_as_owner() -> None:
    c = creators.declared(PAGE, PageMeta(flattr_id="twitter:user:id:123"))
    assert c is not None and (c.name, c.kind) == ("twitter:user:id:123", "owner")
    assert query(c.submit_url)["owner"] == ["twitter:user:id:123"]
    assert "user_id" not in query(c.submit_url)


@pytest.mark.parametrize(
    "bad", ["", "   ", "al ice", "a&user_id=mallory", "x" * 65, "<script>", "Twitter:x y"]
)
def test_a_malformed_flattr_id_is_ignored(bad: str) -> None:
    assert creators.declared(PAGE, PageMeta(flattr_id=bad)) is None
    assert creators.resolve_target(PAGE, PageMeta(flattr_id=bad)) == PAGE_NORMAL


def test_button_markup() -> None:
    owner_button = "http://flattr.com/submit/auto?url=http://example.com/&owner=twitter:user:id:123&title=Example"
    c = creators.declared(PAGE, PageMeta(button_url=owner_button))
    assert c is not None and c.source == "button" and c.kind == "owner"
    assert c.submit_url.startswith("https://flattr.com/submit/auto?")
    thing = creators.declared(
        PAGE, PageMeta(button_url="http://flattr.com/thing/313733/GNU-s-not-Unix")
    )
    assert thing is not None
    assert (thing.submit_url, thing.name, thing.kind) == (
        "https://flattr.com/thing/313733",
        "313733",
        "thing",
    )


@pytest.mark.parametrize(
    "bad",
    [
        "https://evil.example/thing/1",
        "https://flattr.com.evil.example/submit/auto?url=https://a.example/",
        "https://flattr.com:8443/thing/1",
        "https://flattr.com/thing/abc",
        "https://flattr.com/submit/auto?user_id=alice",  # no url
        "javascript:alert(1)",
        "https://user:pw@flattr.com/thing/1",
    ],
)
def test_other_button_links_are_ignored(bad: str) -> None:
    assert creators.declared(PAGE, PageMeta(button_url=bad)) is None


def test_one_order_decides() -> None:
    everything = PageMeta(
        payment_url=AUTO,
        flattr_id="bob",
        button_url="https://flattr.com/thing/1",
    )
    assert creators.declared(PAGE, everything).source == "payment_link"  # type: ignore[union-attr]
    no_link = PageMeta(flattr_id="bob", button_url="https://flattr.com/thing/1")
    assert creators.declared(PAGE, no_link).name == "bob"  # type: ignore[union-attr]
    broken_id = PageMeta(flattr_id="not valid", button_url="https://flattr.com/thing/1")
    assert creators.declared(PAGE, broken_id).kind == "thing"  # type: ignore[union-attr]


def test_page_status_says_who_gets_the_flattr(tmp_path: Path) -> None:
    svc = service.Service.open(tmp_path, service.Settings(), emit=lambda e: None)
    try:
        meta = {"flattr_id": "alice", "flattr_params": {"title": "Post"}}
        [reply] = svc.handle_batch([{"id": 1, "type": "page_status", "url": PAGE, "meta": meta}])
        creator = reply["result"]["creator"]
        assert (creator["name"], creator["kind"], creator["source"]) == (
            "alice",
            "user",
            "flattr_meta",
        )
        assert query(creator["url"])["user_id"] == ["alice"]
        [plain] = svc.handle_batch([{"id": 2, "type": "page_status", "url": PAGE}])
        assert plain["result"]["creator"] is None
        bad = {"flattr_params": {"colour": "red"}}
        [refused] = svc.handle_batch([{"id": 3, "type": "page_status", "url": PAGE, "meta": bad}])
        assert refused["error"]["code"] == "invalid_request"
    finally:
        svc.close()


def test_page_status_lists_the_sites_pages_flattred_today(tmp_path: Path) -> None:
    svc = service.Service.open(tmp_path, service.Settings(), emit=lambda e: None)
    try:
        token = {"type": "token", "token": "tok", "page_url": "https://flattr.com/oauth/ext"}
        first = {"type": "flattr_now", "url": PAGE, "title": "One"}
        other = {"type": "flattr_now", "url": "https://blog.example.com/post/2", "title": "Two"}
        elsewhere = {"type": "flattr_now", "url": "https://other.example.org/"}
        msgs = [token, first, first, other, elsewhere]
        replies = svc.handle_batch([{"id": i, **m} for i, m in enumerate(msgs)])
        assert all(r["ok"] for r in replies), replies
        [status] = svc.handle_batch([{"id": 9, "type": "page_status", "url": PAGE}])
        result = status["result"]
        assert result["flattrs_today_site"] == 3
        assert result["pages_today"] == [
            {"url": PAGE_NORMAL, "title": "One", "flattrs": 2},
            {"url": "https://blog.example.com/post/2", "title": "Two", "flattrs": 1},
        ]
    finally:
        svc.close()


def test_metadata_mode_needs_a_valid_declaration() -> None:
    assert names_a_creator(PageMeta(flattr_id="alice"))
    assert names_a_creator(PageMeta(button_url="https://flattr.com/thing/7"))
    assert names_a_creator(PageMeta(payment_url=AUTO))
    assert not names_a_creator(PageMeta(flattr_id="not a name"))
    assert not names_a_creator(PageMeta(payment_url="https://evil.example/submit/auto?url=x"))
    assert not names_a_creator(PageMeta(button_url="https://flattr.com/about"))

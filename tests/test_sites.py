"""Which sites count: the built-in list, the user's settings, the modes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from flattr_host import accounts, ledger, sites, status, store
from flattr_host.ledger import Segment
from flattr_host.settings import Settings
from flattr_host.urls import PageMeta

TZ = timezone(timedelta(hours=2))
S = Settings()
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=TZ).timestamp()
NO_META = PageMeta()
AUTO = "https://flattr.com/submit/auto?url=https%3A%2F%2Fexample.com%2Fa&user_id=alice"


@pytest.fixture()
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    c = store.connect(tmp_path / "host.db", S)
    yield c
    c.close()


def decide(conn: sqlite3.Connection, url: str, meta: PageMeta = NO_META) -> sites.SiteDecision:
    return sites.decide(conn, url, meta, S)


def set_site(conn: sqlite3.Connection, site: str, setting: str | None) -> str:
    with store.transaction(conn):
        return sites.set_site(conn, site, setting, NOW)


@pytest.mark.parametrize(
    ("url", "category"),
    [
        ("https://www.paypal.com/myaccount/summary", "banking"),
        ("https://online.chase.com/", "banking"),
        ("https://www.google.com/search?q=flattr", "search"),
        ("https://www.google.co.uk/search?q=x", "search"),
        ("https://www.google.de/", "search"),
        ("https://www.bing.com/search?q=x", "search"),
        ("https://duckduckgo.com/?q=x", "search"),
        ("https://mail.google.com/mail/u/0/#inbox", "webmail"),
        ("https://outlook.live.com/mail/0/", "webmail"),
        ("https://mail.proton.me/u/0/inbox", "webmail"),
        ("https://accounts.google.com/v3/signin/identifier", "sign_in"),
        ("https://login.microsoftonline.com/common/oauth2", "sign_in"),
        ("https://news.example.com/login", "sign_in"),
        ("https://news.example.com/account/login?next=/", "sign_in"),
        ("https://blog.example.com/wp-login.php", "sign_in"),
        ("https://www.youtube.com/", "platform"),
        ("https://www.youtube.com/results?search_query=x", "platform"),
        ("https://github.com/", "platform"),
        ("https://github.com/settings/profile", "platform"),
        ("https://x.com/home", "platform"),
        ("https://flattr.com/dashboard", "flattr"),
        ("https://acme.sharepoint.com/sites/hr", "intranet"),
    ],
)
def test_builtin_list_blocks(conn: sqlite3.Connection, url: str, category: str) -> None:
    d = decide(conn, url)
    assert (d.counts, d.reason, d.category) == (False, "blocked", category)
    assert d.site is not None and d.url is not None
    assert "built-in" in d.detail and "enable" in d.detail


@pytest.mark.parametrize(
    "url",
    [
        "https://www.youtube.com/watch?v=abc",
        "https://github.com/flattr/flattr-extension",
        "https://medium.com/@author/a-story-123",
        "https://www.google.com/amp/s/example.com/x",  # the real page counts, not Google
        "https://news.example.com/author/jane",  # /auth is a path segment, not a prefix
        "https://news.example.com/blog/how-to-login",
        "https://google.blogspot.com/search",  # a blog, not Google's search
        "https://en.wikipedia.org/wiki/Flattr",
    ],
)
def test_ordinary_pages_count(conn: sqlite3.Connection, url: str) -> None:
    d = decide(conn, url)
    assert d.counts and d.reason is None, d


def test_not_public_pages_never_count(conn: sqlite3.Connection) -> None:
    assert decide(conn, "http://127.0.0.1:8000/").reason == "ip_address"
    assert decide(conn, "http://nas.local/").reason == "intranet"
    assert decide(conn, "chrome://extensions").reason == "not_http"
    assert decide(conn, "http://localhost/").detail


def test_user_enables_a_blocked_site(conn: sqlite3.Connection) -> None:
    url = "https://www.paypal.com/myaccount/summary"
    assert set_site(conn, "www.PayPal.com", "enabled") == "paypal.com"
    assert decide(conn, url).counts
    set_site(conn, "paypal.com", None)  # back to the default
    assert decide(conn, url).reason == "blocked"
    assert sites.get_setting(conn, "paypal.com") is None


def test_disable_deletes_attention_but_keeps_queued_flattrs(conn: sqlite3.Connection) -> None:
    with store.transaction(conn):
        account = accounts.sign_in(conn, "token", True, NOW).id
        ledger.record(
            conn,
            [
                Segment("https://blog.example.com/a", "A", 120),
                Segment("https://example.com/b", "B", 20),
                Segment("https://other.org/c", "C", 30),
            ],
            account_id=account,
            now=NOW,
            settings=S,
            tz=TZ,
        )
    assert conn.execute("SELECT COUNT(*) FROM flattrs").fetchone()[0] == 2
    set_site(conn, "example.com", "disabled")
    remaining = [r[0] for r in conn.execute("SELECT url FROM attention")]
    assert remaining == ["https://other.org/c"]
    assert conn.execute("SELECT COUNT(*) FROM flattrs").fetchone()[0] == 2
    d = decide(conn, "https://example.com/b")
    assert (d.counts, d.reason) == (False, "disabled")
    # disabled beats the built-in allow of ordinary pages, and nothing more is recorded
    with store.transaction(conn):
        (r,) = ledger.record(
            conn,
            [Segment("https://example.com/b", "B", 60)],
            account_id=account,
            now=NOW,
            settings=S,
        )
    assert (r.counted, r.reason) == (False, "disabled")
    assert (
        conn.execute("SELECT COUNT(*) FROM attention WHERE site = 'example.com'").fetchone()[0] == 0
    )


def test_set_site_validates(conn: sqlite3.Connection) -> None:
    with pytest.raises(ValueError):
        set_site(conn, "co.uk", "disabled")
    with pytest.raises(ValueError):
        set_site(conn, "localhost", "enabled")
    with pytest.raises(ValueError):
        set_site(conn, "example.com", "maybe")


def test_mode_enabled(conn: sqlite3.Connection) -> None:
    assert sites.get_mode(conn, S) == "all"
    assert sites.get_mode(conn, Settings(mode="enabled")) == "enabled"  # the setting is the default
    with store.transaction(conn):
        sites.set_mode(conn, "enabled")
    assert sites.get_mode(conn, S) == "enabled"
    d = decide(conn, "https://example.com/a", PageMeta(payment_url=AUTO))
    assert (d.counts, d.reason) == (False, "not_enabled")
    set_site(conn, "example.com", "enabled")
    assert decide(conn, "https://example.com/a").counts
    assert decide(conn, "https://other.org/").reason == "not_enabled"


def test_mode_metadata(conn: sqlite3.Connection) -> None:
    with store.transaction(conn):
        sites.set_mode(conn, "metadata")
    assert decide(conn, "https://example.com/a").reason == "no_metadata"
    assert decide(conn, "https://example.com/a", PageMeta(payment_url=AUTO)).counts
    assert decide(conn, "https://example.com/a", PageMeta(flattr_id="4j9lxn")).counts
    # the built-in list still applies to pages with metadata
    blocked = decide(conn, "https://www.paypal.com/", PageMeta(flattr_id="x"))
    assert blocked.reason == "blocked"
    with pytest.raises(ValueError):
        sites.set_mode(conn, "everything")


def test_list_sites_and_builtin_blocklist(conn: sqlite3.Connection) -> None:
    with store.transaction(conn):
        account = accounts.sign_in(conn, "token", True, NOW).id
        ledger.record(
            conn,
            [Segment("https://example.com/a", None, 60)],
            account_id=account,
            now=NOW - 86_400,
            settings=S,
            tz=TZ,
        )
        ledger.record(
            conn,
            [Segment("https://example.com/a", None, 60)],
            account_id=account,
            now=NOW,
            settings=S,
            tz=TZ,
        )
    set_site(conn, "example.com", "enabled")
    set_site(conn, "google.com", "enabled")
    entries = {e.site: e for e in status.site_entries(conn, NOW, S, TZ)}
    assert set(entries) == {"example.com", "google.com"}
    ex = entries["example.com"]
    assert (ex.setting, ex.flattrs_today, ex.flattrs_total, ex.builtin) == ("enabled", 1, 2, None)
    assert entries["google.com"].builtin == "search"
    builtin = sites.builtin_blocklist()
    assert {"banking", "search", "webmail", "sign_in", "intranet", "platform"} <= set(builtin)
    assert "paypal.com" in builtin["banking"]

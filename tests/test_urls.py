"""URL identity: normalization, classification, registrable domains, the URL to submit."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flattr_host import urls
from flattr_host.creators import names_a_creator, resolve_target
from flattr_host.urls import PageMeta, classify, normalize, site_of

# What normalize, classify and site_of must refuse: long lists of inputs, kept as data.
REFUSED = tomllib.loads((Path(__file__).parent / "refused_urls.toml").read_text("utf-8"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # credentials, fragment and tracking query dropped
        ("https://user:secret@example.com/a/b#part", "https://example.com/a/b"),
        ("https://example.com/post?utm_source=x&fbclid=y", "https://example.com/post"),
        # host lower-cased, trailing dot and default ports dropped, other ports kept
        ("HTTPS://WWW.Example.COM./Path", "https://www.example.com/Path"),
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://example.com:443/x", "http://example.com:443/x"),
        # empty path becomes "/"
        ("https://example.com", "https://example.com/"),
        # IDNA: Unicode host to punycode; the path is percent-encoded once
        ("https://bücher.de/straße", "https://xn--bcher-kva.de/stra%C3%9Fe"),
        ("https://xn--bcher-kva.de/stra%C3%9Fe", "https://xn--bcher-kva.de/stra%C3%9Fe"),
        # YouTube /watch keeps only v=
        (
            "https://www.youtube.com/watch?t=10&v=abc&list=PL1#x",
            "https://www.youtube.com/watch?v=abc",
        ),
        ("https://m.youtube.com/watch?feature=share", "https://m.youtube.com/watch"),
        ("https://www.youtube.com/channel/UC1?p=2", "https://www.youtube.com/channel/UC1?p=2"),
        # WordPress ?p= / ?page_id= identify a post; MediaWiki index.php?title=
        ("https://blog.example.org/?p=123&utm_medium=rss", "https://blog.example.org/?p=123"),
        ("https://blog.example.org/?page_id=7&p=3", "https://blog.example.org/?p=3&page_id=7"),
        (
            "https://wiki.example.org/w/index.php?action=raw&title=Foo",
            "https://wiki.example.org/w/index.php?title=Foo",
        ),
        ("https://news.ycombinator.com/item?id=42&x=1", "https://news.ycombinator.com/item?id=42"),
        *((raw, None) for raw in REFUSED["normalize"]),
    ],
)
def test_normalize(raw: str, expected: str | None) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (raw, getattr(urls, name.upper()))
        for name, refused in REFUSED["classify"].items()
        for raw in refused
    ],
)
def test_classify_refuses(raw: str, reason: str) -> None:
    result = classify(raw)
    assert (result.url, result.site, result.reason) == (None, None, reason)
    assert not result.public


def test_classify_public() -> None:
    result = classify("https://user:pw@www.bbc.co.uk/news/article?utm=1#top")
    assert result.public
    assert (result.url, result.site) == ("https://www.bbc.co.uk/news/article", "bbc.co.uk")


@pytest.mark.parametrize(
    ("value", "site"),
    [
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("https://a.b.bbc.co.uk/x", "bbc.co.uk"),
        ("alice.github.io", "alice.github.io"),  # a user site is its own entity
        ("https://docs.alice.github.io/", "alice.github.io"),
        ("Example.COM.", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("example.com:8080/some/page", "example.com"),
        *((value, None) for value in REFUSED["site_of"]),
    ],
)
def test_site_of(value: str, site: str | None) -> None:
    assert site_of(value) == site


AUTO = "https://flattr.com/submit/auto?url=https%3A%2F%2Fexample.com%2Fa&user_id=alice"


def test_payment_link_wins() -> None:
    meta = PageMeta(payment_url=AUTO + "#frag", canonical_url="https://example.com/canon")
    assert resolve_target("https://example.com/a?utm=1", meta) == AUTO
    assert names_a_creator(PageMeta(payment_url=AUTO))
    assert names_a_creator(PageMeta(flattr_id="4j9lxn"))
    assert not names_a_creator(PageMeta(canonical_url="https://example.com/"))


@pytest.mark.parametrize(
    "payment",
    [
        "https://flattr.com/submit/auto?user_id=alice",  # no url parameter
        "https://flattr.com/submit/auto?url=&user_id=alice",  # empty url
        "https://flattr.com/submit/auto?url=javascript:alert(1)",  # not http(s)
        "https://evil.example/submit/auto?url=https%3A%2F%2Fexample.com%2F",  # not flattr.com
        "https://flattr.com.evil.example/submit/auto?url=https%3A%2F%2Fexample.com%2F",
        "https://flattr.com/thing/123",  # not an auto-submit URL
        "https://flattr.com:99999/submit/auto?url=x",  # unparsable
        "not a url",
    ],
)
def test_malformed_payment_link_is_ignored(payment: str) -> None:
    meta = PageMeta(payment_url=payment)
    assert resolve_target("https://example.com/a#x", meta) == "https://example.com/a"


def test_canonical_same_site_only() -> None:
    page = "https://example.com/post/1?utm_source=feed"
    same = PageMeta(canonical_url="https://www.example.com/post/1-title")
    assert resolve_target(page, same) == "https://www.example.com/post/1-title"
    other = PageMeta(canonical_url="https://other.example.net/post/1")
    assert resolve_target(page, other) == "https://example.com/post/1"
    # every post declaring the home page as canonical is a misconfiguration, not one page
    home = PageMeta(canonical_url="https://example.com/")
    assert resolve_target(page, home) == "https://example.com/post/1"
    # github.io user sites are different sites
    pages = PageMeta(canonical_url="https://mallory.github.io/x")
    assert resolve_target("https://alice.github.io/x", pages) == "https://alice.github.io/x"


@pytest.mark.parametrize(
    ("viewer", "real"),
    [
        ("https://www.google.com/amp/s/example.com/x", "https://example.com/x"),
        (
            "https://www.google.co.uk/amp/s/www.example.org/a/b.html",
            "https://www.example.org/a/b.html",
        ),
        ("https://www.google.com/amp/example.com/x", "http://example.com/x"),
        (
            "https://example-com.cdn.ampproject.org/c/s/example.com/x?amp_js_v=0.1",
            "https://example.com/x",
        ),
        ("https://cdn.ampproject.org/v/s/example.com/y", "https://example.com/y"),
    ],
)
def test_amp_viewer_maps_to_real_page(viewer: str, real: str) -> None:
    assert resolve_target(viewer, PageMeta()) == real
    assert classify(viewer).site == urlsplit(real).hostname.removeprefix("www.")  # type: ignore[union-attr]


def test_amp_lookalikes_are_not_unwrapped() -> None:
    # someone's blog on a private suffix is not Google, and an AMP path to an intranet host is not
    # a page to flattr
    assert urls.unwrap_amp("https://google.blogspot.com/amp/s/example.com/x") is None
    assert urls.unwrap_amp("https://www.google.com/amp/s/localhost/x") is None
    assert urls.unwrap_amp("https://www.google.com/search?q=amp") is None
    # AMP canonical pointing at the real page (cross-site from google.com) is followed
    meta = PageMeta(canonical_url="https://example.com/x-canonical")
    viewer = "https://www.google.com/amp/s/example.com/x"
    assert resolve_target(viewer, meta) == "https://example.com/x-canonical"


# --- properties ------------------------------------------------------------------------------

_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,8}[a-zA-Z0-9])?", fullmatch=True)
_hosts = st.one_of(
    st.lists(_label, min_size=1, max_size=3).map(lambda ls: ".".join([*ls, "com"])),
    st.sampled_from(["bücher.de", "www.bbc.co.uk", "alice.github.io", "127.0.0.1", "[::1]"]),
)
_text = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)


@st.composite
def _urls(draw: st.DrawFn) -> tuple[str, str, str]:
    scheme = draw(st.sampled_from(["http", "https", "HTTP"]))
    # "_" never occurs in the generated hosts, so finding these in the result means a leak
    user = draw(st.from_regex(r"u_[a-z]{1,8}", fullmatch=True))
    password = draw(st.from_regex(r"p_[A-Za-z0-9]{1,8}", fullmatch=True))
    host = draw(_hosts)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = draw(_text).replace("#", "").replace("?", "")
    query = draw(st.lists(st.tuples(st.sampled_from(["p", "v", "utm", "q"]), _text), max_size=3))
    frag = draw(_text)
    qs = "&".join(f"{k}={v}" for k, v in query).replace("#", "")
    return f"{scheme}://{user}:{password}@{host}{port}/{path}?{qs}#{frag}", user, password


@given(_urls())
def test_normalize_is_idempotent_and_drops_credentials(case: tuple[str, str, str]) -> None:
    raw, user, password = case
    result = normalize(raw)
    assert result is not None
    assert normalize(result) == result
    parts = urlsplit(result)
    assert parts.username is None and parts.password is None
    assert "@" not in parts.netloc
    assert parts.fragment == "" and "#" not in result
    assert user not in parts.netloc and password not in parts.netloc


@given(st.text(max_size=60))
def test_normalize_never_crashes(raw: str) -> None:
    result = normalize(raw)
    if result is not None:
        assert normalize(result) == result
        assert urlsplit(result).scheme in {"http", "https"}

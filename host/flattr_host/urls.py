"""URL identity: which page a URL is, which site it belongs to, and which URL to flattr for it.

The Public Suffix List is loaded on first use, once per process (it costs ~40 ms): importing this
module stays cheap, so the host can answer ``hello`` first.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote, urlencode, urlsplit, urlunsplit

HTTP_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS: Mapping[str, int] = {"http": 80, "https": 443}

# Query keys that name the page itself, per registrable domain and exact path ("*" = any path).
# Every other key is dropped: tracking keys (utm_*, fbclid, …) would otherwise split one page
# into many URLs, and only URLs that crossed a threshold may leave the machine. When a site has a
# rule for the path, only its keys are kept (YouTube /watch keeps only v=, as the original did).
MEANINGFUL_QUERY_KEYS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "youtube.com": {"/watch": ("v",), "/playlist": ("list",)},
    "ycombinator.com": {"/item": ("id",), "/user": ("id",)},
    "facebook.com": {"/permalink.php": ("story_fbid", "id"), "/story.php": ("story_fbid", "id")},
}
# Kept on every site without a rule of its own: WordPress permalinks without pretty URLs
# (?p=123, ?page_id=45). Dropping them merged every post of such a blog into one URL (users
# complained). Neither key is used for tracking, and at worst a listing's ?p=2 is its own page.
GENERIC_QUERY_KEYS: tuple[str, ...] = ("p", "page_id")
# Kept when the last path segment is a well-known script that takes its page from the query:
# MediaWiki (index.php?title=…), phpBB (viewtopic.php?t=…), vBulletin (showthread.php?t=…).
SCRIPT_QUERY_KEYS: Mapping[str, tuple[str, ...]] = {
    "index.php": ("title",),
    "viewtopic.php": ("t",),
    "showthread.php": ("t",),
}

# Names that only mean something on a local network, even when the PSL lists their suffix.
LOCALHOST_NAMES = ("localhost",)
INTRANET_SUFFIXES = ("local", "lan", "internal", "intranet", "home.arpa", "corp", "localdomain")

# Flattr auto-submit URLs (docs/flattr-api.md#auto-submit-urls), from <link rel="payment" href="…">
AUTO_SUBMIT_HOST = "flattr.com"
AUTO_SUBMIT_PATH = "/submit/auto"
# Bounds of what a page may declare (as the protocol's PageMeta).
MAX_SUBMIT_URL_LENGTH = 8192
MAX_FLATTR_ID_LENGTH = 256

# AMP viewers that wrap the real page: https://www.google.<tld>/amp/s/example.com/x and
# https://example-com.cdn.ampproject.org/c/s/example.com/x ("s/" marks https).
AMP_GOOGLE_BRAND = "google"
AMP_GOOGLE_PREFIX = "/amp/"
AMP_CACHE_HOST = "cdn.ampproject.org"
AMP_CACHE_PREFIXES = ("/c/", "/v/")

# Reasons a URL never counts (stable codes, shared with sites.py and the extension).
NOT_HTTP = "not_http"
INVALID = "invalid"
IP_ADDRESS = "ip_address"
LOCALHOST = "localhost"
INTRANET = "intranet"

# Characters left alone when re-quoting a path: RFC 3986 reserved and unreserved ones, and "%" so
# that an already-encoded path is not encoded twice (normalize must be idempotent).
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_HOST_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
_NUMBER_RE = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")

_psl_lock = threading.Lock()
_psl_instance: Any = None


# Pure URL functions are memoised: one segment asks for the same URL's identity several times.
URL_CACHE_SIZE = 4096


def _psl() -> Any:
    """The one PublicSuffixList of this process, loaded on first use."""
    global _psl_instance
    if _psl_instance is None:
        with _psl_lock:
            if _psl_instance is None:
                from publicsuffixlist import PublicSuffixList

                # accept_unknown=False: a name whose TLD is not on the list (foo.corp) has no
                # public suffix, so it is an intranet name, not a site.
                _psl_instance = PublicSuffixList(accept_unknown=False)
    return _psl_instance


@dataclass(frozen=True)
class PageMeta:
    """Creator metadata the content script found on the page."""

    payment_url: str | None = None  # <link rel="payment" href="…">
    flattr_id: str | None = None  # <meta name="flattr:id" content="…">
    canonical_url: str | None = None  # <link rel="canonical" href="…">
    # Flattr button markup: an auto-submit URL or a flattr.com/thing/… link (creators.py).
    button_url: str | None = None
    # The other flattr:* meta tags (title, tags, …) as sorted (name, value) pairs.
    flattr_params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Classified:
    """``url`` and ``site`` are None when the URL never counts; ``reason`` says why."""

    url: str | None
    site: str | None
    reason: str | None

    @property
    def public(self) -> bool:
        return self.reason is None


def _host(raw: str) -> str | None:
    """Lower-case ASCII (punycode) host without trailing dot; IPv6 in brackets. None if invalid."""
    host = raw.strip().lower().rstrip(".")
    if not host:
        return None
    if ":" in host:  # only IPv6 literals contain ":" once urlsplit removed the port
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    return host if _HOST_RE.match(host) else None


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def _split(url: str) -> tuple[SplitResult, str, int | None] | None:
    """urlsplit with the checks normalize needs: http(s), a valid host, a valid port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in HTTP_SCHEMES or parts.hostname is None:
        return None
    host = _host(parts.hostname)
    if host is None:
        return None
    if port == DEFAULT_PORTS[scheme]:
        port = None
    return parts._replace(scheme=scheme), host, port


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") else host


def _is_ip(host: str) -> bool:
    if host.startswith("["):
        return True
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        # Browsers read a host whose last label is a number (2130706433, 0x7f.1) as IPv4.
        return bool(_NUMBER_RE.match(host.rsplit(".", 1)[-1]))
    return True


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def _site_of_host(host: str) -> str | None:
    if _is_ip(host) or _local_reason(host) is not None:
        return None
    site = _psl().privatesuffix(host)
    return None if site is None else str(site)


def _local_reason(host: str) -> str | None:
    """localhost / intranet for names that only mean something on this machine or network."""
    if any(host == n or host.endswith("." + n) for n in LOCALHOST_NAMES):
        return LOCALHOST
    if "." not in host or any(host == s or host.endswith("." + s) for s in INTRANET_SUFFIXES):
        return INTRANET
    return None


def _query_keys(site: str | None, path: str) -> tuple[str, ...]:
    rules = MEANINGFUL_QUERY_KEYS.get(site or "", {})
    if path in rules:
        return rules[path]
    if "*" in rules:
        return rules["*"]
    script = path.rsplit("/", 1)[-1]
    return GENERIC_QUERY_KEYS + SCRIPT_QUERY_KEYS.get(script, ())


def _query(query: str, keys: tuple[str, ...]) -> str:
    if not query or not keys:
        return ""
    first: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in keys and key not in first and value:
            first[key] = value
    # In the order of the rule, so that ?b=1&a=2 and ?a=2&b=1 are one page.
    return urlencode([(k, first[k]) for k in keys if k in first], quote_via=quote)


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def normalize(url: str) -> str | None:
    """The page's identity: scheme, host, port unless default, path and meaningful query keys.
    None for anything that is not a valid http(s) URL."""
    split = _split(url)
    if split is None:
        return None
    parts, host, port = split
    try:
        path = quote(parts.path, safe=_PATH_SAFE) or "/"
    except UnicodeError:  # lone surrogates
        return None
    site = None if _is_ip(host) else _site_of_host(host)
    query = _query(parts.query, _query_keys(site, path))
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def site_of(url_or_host: str) -> str | None:
    """Registrable domain (eTLD+1, ASCII) of a URL or host name; None without a public suffix
    (IP addresses, localhost, intranet names, bare suffixes such as co.uk)."""
    text = url_or_host.strip()
    # A bare name may come with a port or a path ("example.com:8080/x" typed in the options).
    split = _split(text if "://" in text else "http://" + text)
    return None if split is None else _site_of_host(split[1])


def unwrap_amp(url: str) -> str | None:
    """The real page behind an AMP viewer URL, or None when ``url`` is not one."""
    split = _split(url)
    if split is None:
        return None
    parts, host, _ = split
    path = parts.path
    rest: str | None = None
    if host == AMP_CACHE_HOST or host.endswith("." + AMP_CACHE_HOST):
        rest = next((path[len(p) :] for p in AMP_CACHE_PREFIXES if path.startswith(p)), None)
    elif path.startswith(AMP_GOOGLE_PREFIX) and is_brand_site(host, AMP_GOOGLE_BRAND):
        rest = path[len(AMP_GOOGLE_PREFIX) :]
    if not rest:
        return None
    scheme = "http"
    if rest.startswith("s/"):
        scheme, rest = "https", rest[2:]
    inner = f"{scheme}://{rest}" + (f"?{parts.query}" if parts.query else "")
    target = _split(inner)
    if target is None or classify_host(target[1]) is not None:
        return None
    return inner


def is_brand_site(host: str, brand: str) -> bool:
    """Whether host belongs to brand.<country-style suffix>: google.com, google.co.uk, google.de;
    not google.blogspot.com (someone's blog on a private suffix)."""
    site = _site_of_host(host)
    if site is None or not site.startswith(brand + "."):
        return False
    suffix = site[len(brand) + 1 :].split(".")
    if suffix == ["com"]:
        return True
    return len(suffix[-1]) == 2 and (len(suffix) == 1 or suffix[0] in {"co", "com"})


def classify_host(host: str) -> str | None:
    """Reason a (normalized) host never counts, or None for a public host."""
    if _is_ip(host):
        return IP_ADDRESS
    local = _local_reason(host)
    if local is not None:
        return local
    return INTRANET if _site_of_host(host) is None else None


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def classify(url: str) -> Classified:
    """Normalize ``url`` and say whether it is a public web page. An AMP viewer URL is classified
    (and identified) as the real page it shows."""
    if _split(url) is None:
        scheme = url.strip().split(":", 1)[0].lower() if ":" in url else ""
        return Classified(None, None, INVALID if scheme in HTTP_SCHEMES else NOT_HTTP)
    url = unwrap_amp(url) or url
    split = _split(url)
    normalized = normalize(url)
    if split is None or normalized is None:
        return Classified(None, None, INVALID)
    reason = classify_host(split[1])
    if reason is not None:
        return Classified(None, None, reason)
    return Classified(normalized, _site_of_host(split[1]), None)


def valid_auto_submit(href: str | None) -> str | None:
    """``href`` as https when it is a usable Flattr auto-submit URL (http(s)://flattr.com/submit/auto
    with an http(s) ``url`` parameter), else None."""
    if not href or len(href) > MAX_SUBMIT_URL_LENGTH:
        return None
    href = href.strip()
    split = _split(href)
    if split is None:
        return None
    parts, host, port = split
    if host != AUTO_SUBMIT_HOST or port is not None or parts.path != AUTO_SUBMIT_PATH:
        return None
    inner = [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "url"]
    if len(inner) != 1 or _split(inner[0]) is None:
        return None
    # Flattr's own examples use http://; the flattr goes over https all the same.
    return urlunsplit(parts._replace(scheme="https", netloc=host, fragment=""))


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def page_target(page_url: str, meta: PageMeta) -> str:
    """The page a flattr is for: its canonical URL when on the same site, else the real page
    behind an AMP viewer, else the normalized page URL (``page_url`` itself when it cannot be
    normalized)."""
    page = classify(page_url)  # unwraps AMP
    if meta.canonical_url and page.site is not None:
        canonical = classify(meta.canonical_url)
        # A page may not send its flattrs to another site, and a deeper page whose canonical is
        # the home page is a common misconfiguration (every post would merge into one).
        deeper_to_root = urlsplit(canonical.url or "").path == "/" != urlsplit(page.url or "").path
        if canonical.url is not None and canonical.site == page.site and not deeper_to_root:
            return canonical.url
    if page.url is not None:
        return page.url
    return normalize(page_url) or page_url

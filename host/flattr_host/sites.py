"""Which sites count: the built-in never-count list, the user's per-site settings and the mode.

A user's setting on a site beats the built-in list (enabling a blocked site makes it count;
disabling any site stops it). Disabling a site deletes what was recorded about it.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import creators, store, urls
from .settings import Settings

if TYPE_CHECKING:
    from .unchanged import Unchanged

ENABLED = "enabled"
DISABLED = "disabled"
SETTINGS = (ENABLED, DISABLED)

MODE_KEY = "mode"
MODE_ALL = "all"  # every public site that is not blocked
MODE_ENABLED = "enabled"  # only sites the user enabled
MODE_METADATA = "metadata"  # only pages that declare Flattr metadata
MODES = (MODE_ALL, MODE_ENABLED, MODE_METADATA)

# Reasons added to the urls.py ones (stable codes).
BLOCKED = "blocked"
DISABLED_REASON = "disabled"
NOT_ENABLED = "not_enabled"
NO_METADATA = "no_metadata"


@dataclass(frozen=True)
class BlockRule:
    """``host``: a domain matching itself and its subdomains, ``brand.*`` for a brand's country
    domains (google.com, google.co.uk, …) or ``*`` for every site. ``paths``: empty for every page,
    else "/" for the home page only and "/x" for /x and everything below it."""

    category: str
    host: str
    paths: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.host if not self.paths else f"{self.host} {' '.join(self.paths)}"


def _rules(category: str, *hosts: str, paths: tuple[str, ...] = ()) -> tuple[BlockRule, ...]:
    return tuple(BlockRule(category, h, paths) for h in hosts)


# Pages that never count unless the user enables the site. A few dozen well-known entries: the
# point is that money must not go to a bank or a search engine, not completeness.
BUILTIN_RULES: tuple[BlockRule, ...] = (
    *_rules(
        "banking",
        "paypal.com",
        "paypal.me",
        "dashboard.stripe.com",
        "checkout.stripe.com",
        "wise.com",
        "revolut.com",
        "n26.com",
        "chase.com",
        "bankofamerica.com",
        "wellsfargo.com",
        "citi.com",
        "capitalone.com",
        "americanexpress.com",
        "hsbc.com",
        "hsbc.co.uk",
        "barclays.co.uk",
        "lloydsbank.com",
        "natwest.com",
        "santander.com",
        "ing.com",
        "deutsche-bank.de",
        "commerzbank.de",
        "sparkasse.de",
        "bnpparibas",
        "credit-agricole.fr",
        "nordea.com",
        "swedbank.se",
        "seb.se",
        "handelsbanken.se",
        "danskebank.com",
        "klarna.com",
    ),
    *_rules("search", "google.*", paths=("/", "/search", "/webhp", "/imghp")),
    *_rules(
        "search",
        "bing.com",
        "duckduckgo.com",
        "search.yahoo.com",
        "yandex.com",
        "yandex.ru",
        "baidu.com",
        "ecosia.org",
        "startpage.com",
        "search.brave.com",
        "qwant.com",
        "kagi.com",
    ),
    *_rules(
        "webmail",
        "mail.google.com",
        "inbox.google.com",
        "outlook.live.com",
        "outlook.office.com",
        "outlook.office365.com",
        "mail.yahoo.com",
        "mail.proton.me",
        "mail.protonmail.com",
        "account.proton.me",
        "mail.aol.com",
        "icloud.com",
        "mail.zoho.com",
        "fastmail.com",
        "tutanota.com",
        "app.tuta.com",
    ),
    *_rules(
        "sign_in",
        "accounts.google.com",
        "myaccount.google.com",
        "login.microsoftonline.com",
        "login.live.com",
        "login.yahoo.com",
        "appleid.apple.com",
        "id.atlassian.com",
        "okta.com",
        "auth0.com",
    ),
    *_rules(
        "sign_in",
        "*",
        paths=(
            "/login",
            "/log-in",
            "/signin",
            "/sign-in",
            "/logout",
            "/oauth",
            "/oauth2",
            "/auth",
            "/sso",
            "/account/login",
            "/accounts/login",
            "/user/login",
            "/users/sign_in",
            "/wp-login.php",
            "/wp-admin",
        ),
    ),
    # Workplace tools: the pages are someone's intranet even on a public domain.
    *_rules(
        "intranet",
        "sharepoint.com",
        "atlassian.net",
        "slack.com",
        "teams.microsoft.com",
        "service-now.com",
        "myworkday.com",
    ),
    # Home, search and settings pages of big multi-author platforms: no creator to pay there.
    *_rules("platform", "youtube.com", paths=("/", "/results", "/feed", "/account")),
    *_rules("platform", "github.com", paths=("/", "/settings", "/search", "/notifications")),
    *_rules(
        "platform",
        "twitter.com",
        "x.com",
        paths=("/", "/home", "/search", "/explore", "/settings", "/notifications", "/messages"),
    ),
    *_rules("platform", "medium.com", paths=("/", "/search", "/me")),
    *_rules(
        "platform", "soundcloud.com", paths=("/", "/discover", "/search", "/settings", "/stream")
    ),
    *_rules("platform", "wordpress.com", paths=("/", "/read", "/me", "/home", "/sites")),
    *_rules("platform", "vimeo.com", paths=("/", "/search", "/settings")),
    *_rules("platform", "twitch.tv", paths=("/", "/search", "/settings", "/directory")),
    *_rules("platform", "tumblr.com", paths=("/", "/dashboard", "/search", "/settings")),
    # flattr.com itself: flattring the flattr pages would only pay Flattr.
    *_rules("flattr", "flattr.com"),
)

CATEGORY_DETAIL = {
    "banking": "banking and payment sites",
    "search": "search pages",
    "webmail": "webmail",
    "sign_in": "sign-in pages",
    "intranet": "workplace intranet tools",
    "platform": "home, search and settings pages of big platforms",
    "flattr": "flattr.com itself",
}
REASON_DETAIL = {
    urls.NOT_HTTP: "only web pages (http and https) count",
    urls.INVALID: "this address could not be read",
    urls.IP_ADDRESS: "pages addressed by an IP number never count",
    urls.LOCALHOST: "pages served by this computer never count",
    urls.INTRANET: "intranet and local-network names never count",
}


@dataclass(frozen=True)
class SiteDecision:
    counts: bool
    site: str | None
    url: str | None  # normalized
    reason: str | None
    detail: str
    category: str | None = None  # built-in category when reason is "blocked"


def _host_matches(rule_host: str, host: str) -> bool:
    if rule_host == "*":
        return True
    if rule_host.endswith(".*"):
        return urls.is_brand_site(host, rule_host[:-2])
    return host == rule_host or host.endswith("." + rule_host)


def _path_matches(patterns: tuple[str, ...], path: str) -> bool:
    if not patterns:
        return True
    path = path.lower()
    for pattern in patterns:
        if pattern == "/":
            if path == "/":
                return True
        elif path == pattern or path.startswith(pattern + "/"):
            return True
    return False


@functools.lru_cache(maxsize=4096)  # pure and asked for every segment
def builtin_category(url: str) -> str | None:
    """Category of the first built-in rule that blocks this (normalized) URL, or None."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    for rule in BUILTIN_RULES:
        if _host_matches(rule.host, host) and _path_matches(rule.paths, parts.path or "/"):
            return rule.category
    return None


def builtin_site_category(site: str) -> str | None:
    """Category of the first built-in rule for ``site`` or a host below it, whole site or some
    pages (the options page says that enabling the site overrides it)."""
    for rule in BUILTIN_RULES:
        if rule.host == "*":
            continue
        if _host_matches(rule.host, site) or rule.host.endswith("." + site):
            return rule.category
    return None


def builtin_blocklist() -> dict[str, list[str]]:
    """The built-in list by category, readable: "paypal.com", "google.* / /search", "* /login"."""
    out: dict[str, list[str]] = {}
    for rule in BUILTIN_RULES:
        out.setdefault(rule.category, []).append(str(rule))
    return out


def get_setting(conn: sqlite3.Connection, site: str) -> str | None:
    row = conn.execute("SELECT setting FROM sites WHERE site = ?", (site,)).fetchone()
    return None if row is None else str(row[0])


def user_settings(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(site, setting) of every site the user set, by name."""
    rows = conn.execute("SELECT site, setting FROM sites ORDER BY site").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def set_site(conn: sqlite3.Connection, site: str, setting: str | None, now: float) -> str:
    """Enable, disable or (None) reset a site; returns its registrable domain. Disabling deletes
    its recorded attention and visits; flattrs already queued stay. Call inside a transaction."""
    canonical = urls.site_of(site)
    if canonical is None:
        raise ValueError(f"{site!r} is not a public site name")
    if setting is None:
        conn.execute("DELETE FROM sites WHERE site = ?", (canonical,))
        return canonical
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {SETTINGS} or None, not {setting!r}")
    conn.execute(
        "INSERT INTO sites (site, setting, updated_at) VALUES (?, ?, ?) ON CONFLICT (site) "
        "DO UPDATE SET setting = excluded.setting, updated_at = excluded.updated_at",
        (canonical, setting, now),
    )
    if setting == DISABLED:
        conn.execute("DELETE FROM attention WHERE site = ?", (canonical,))
        conn.execute("DELETE FROM visits WHERE site = ?", (canonical,))
    return canonical


def get_mode(conn: sqlite3.Connection, settings: Settings) -> str:
    mode = store.get(conn, MODE_KEY)
    if mode in MODES:
        return str(mode)
    return settings.mode if settings.mode in MODES else MODE_ALL


def set_mode(conn: sqlite3.Connection, mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    store.put(conn, MODE_KEY, mode)


def decide(
    conn: sqlite3.Connection,
    url: str,
    meta: urls.PageMeta,
    settings: Settings,
    *,
    explicit: bool = False,
    known: Unchanged | None = None,
) -> SiteDecision:
    """Whether attention on ``url`` counts. ``explicit``: the user asked (the Flattr button), so
    the mode does not matter; the built-in list and the user's settings still do. ``known``: the
    mode and settings already read, when the database has not changed since."""
    page = urls.classify(url)
    if page.url is None or page.site is None:
        reason = page.reason or urls.INVALID
        return SiteDecision(False, None, None, reason, REASON_DETAIL.get(reason, reason))
    site, normalized = page.site, page.url
    setting = get_setting(conn, site) if known is None else known.setting(site)
    if setting == DISABLED:
        detail = f"you disabled {site}: nothing is recorded there (change it in the options)"
        return SiteDecision(False, site, normalized, DISABLED_REASON, detail)
    if setting != ENABLED:
        category = builtin_category(normalized)
        if category is not None:
            what = CATEGORY_DETAIL.get(category, category)
            detail = f"{what} never count (built-in list; you can enable {site} in the options)"
            return SiteDecision(False, site, normalized, BLOCKED, detail, category)
    if not explicit:
        mode = get_mode(conn, settings) if known is None else known.mode()
        if mode == MODE_ENABLED and setting != ENABLED:
            detail = f"only sites you enabled count, and {site} is not one of them"
            return SiteDecision(False, site, normalized, NOT_ENABLED, detail)
        if mode == MODE_METADATA and not creators.names_a_creator(meta):
            detail = "only pages that declare Flattr metadata count, and this one does not"
            return SiteDecision(False, site, normalized, NO_METADATA, detail)
    return SiteDecision(True, site, normalized, None, f"attention here counts for {site}")

"""Daily visit flattrs: sites the user returns to often but reads briefly earn one flattr a day.

The extension reports each top-level navigation in a normal window (``visits`` request). Only the
time of a visit and its site are kept, and only for sites that count. Once per attention day (at
the first request after it began) every site is checked against two rules; a site that meets
either earns one flattr of ``https://<site>/`` and its visits are deleted. Rules and figures:
docs/attention.md#daily-visit-flattrs.

"Preceding visit" means the preceding visit to any site, so each visit stores the gap before it
when it is recorded (``gap_before``), and is marked ``followed`` when another visit comes within
``visit_quiet_after`` seconds (a redirect hop or a click straight through).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from . import flattrs, sites, store, urls
from .days import attention_day, day_start, reported_time
from .settings import Settings

ENABLED_KEY = "visit_flattrs"
LAST_VISIT_KEY = "visits.last_at"
PROCESSED_DAY_KEY = "visits.processed_day"
REASON_VISITS = "visits"
OFF = "visits_off"
PRIVATE = "private"
DUPLICATE = "duplicate"
RULE_DAILY = "daily"
RULE_BURST = "burst"


@dataclass(frozen=True)
class Visit:
    at: float
    gap_before: float | None  # None: no earlier visit known
    followed: bool = False


@dataclass(frozen=True)
class VisitResult:
    site: str | None
    recorded: bool
    reason: str | None


# --- the setting -----------------------------------------------------------------------------


def enabled(conn: sqlite3.Connection, settings: Settings) -> bool:
    value = store.get(conn, ENABLED_KEY)
    return settings.visit_flattrs if value is None else bool(value)


def set_enabled(conn: sqlite3.Connection, on: bool) -> None:
    """Turn daily visit flattrs on or off; off also deletes every visit kept."""
    store.put(conn, ENABLED_KEY, on)
    if not on:
        conn.execute("DELETE FROM visits")
        store.put(conn, LAST_VISIT_KEY, None)


# --- the rules (pure) ------------------------------------------------------------------------


def _clustered(times: Sequence[float], count: int, window: float) -> bool:
    """Whether ``count`` of the sorted ``times`` lie within ``window`` seconds of each other."""
    if count <= 0:
        return True
    return any(times[i + count - 1] - times[i] <= window for i in range(len(times) - count + 1))


def rule_met(history: Sequence[Visit], settings: Settings) -> str | None:
    """Which rule a site's visits meet (``RULE_DAILY`` first), or None."""
    ordered = sorted(history, key=lambda v: v.at)
    daily = [
        v.at for v in ordered if v.gap_before is None or v.gap_before >= settings.visit_daily_gap
    ]
    if _clustered(daily, settings.visit_daily_count, settings.visit_daily_window):
        return RULE_DAILY
    burst = [
        v.at
        for v in ordered
        if (v.gap_before is None or v.gap_before >= settings.visit_burst_gap) and not v.followed
    ]
    if _clustered(burst, settings.visit_burst_count, settings.visit_burst_window):
        return RULE_BURST
    return None


# --- time --------------------------------------------------------------------------------------


# --- recording -------------------------------------------------------------------------------


def record(
    conn: sqlite3.Connection,
    url: str,
    *,
    at: float | None,
    now: float,
    settings: Settings,
    private: bool = False,
) -> VisitResult:
    """Note one top-level navigation. Every visit moves the "preceding visit" clock; only visits
    to a site whose pages and home page count are kept. Call inside a transaction."""
    if private:
        return VisitResult(None, False, PRIVATE)
    if not enabled(conn, settings):
        return VisitResult(None, False, OFF)
    when = reported_time(at, now)
    if conn.execute("SELECT 1 FROM visits WHERE at = ?", (when,)).fetchone() is not None:
        # A resend of a batch whose reply was lost: that very visit is kept already.
        return VisitResult(None, False, DUPLICATE)
    last = store.get(conn, LAST_VISIT_KEY)
    gap = None if last is None else max(0.0, when - float(last))
    store.put(conn, LAST_VISIT_KEY, when if last is None else max(when, float(last)))
    # The visits just before this one were followed by it.
    conn.execute(
        "UPDATE visits SET followed = 1 WHERE at >= ? AND at <= ?",
        (when - settings.visit_quiet_after, when),
    )
    no_meta = urls.PageMeta()
    decision = sites.decide(conn, url, no_meta, settings)
    if not decision.counts or decision.site is None:
        return VisitResult(decision.site, False, decision.reason)
    # The flattr goes to the site's home page: a site whose home page never counts (a platform's
    # front page, with no creator to pay) earns no visit flattr.
    home = sites.decide(conn, home_url(decision.site), no_meta, settings)
    if not home.counts:
        return VisitResult(decision.site, False, home.reason)
    conn.execute(
        "INSERT INTO visits (site, at, gap_before) VALUES (?, ?, ?)", (decision.site, when, gap)
    )
    return VisitResult(decision.site, True, None)


def home_url(site: str) -> str:
    return f"https://{site}/"


# --- once a day --------------------------------------------------------------------------------


def process_due(
    conn: sqlite3.Connection,
    *,
    account_id: int | None,
    now: float,
    settings: Settings,
    tz: tzinfo | None = None,
) -> list[str]:
    """Once per attention day: flattr every site whose visits before the day began meet a rule,
    delete those visits and those too old to matter. ``account_id`` None (signed out on purpose):
    visits are processed, no flattr is made. Returns the sites that qualified. Call inside a
    transaction."""
    today = attention_day(now, settings, tz)
    if store.get(conn, PROCESSED_DAY_KEY) == today:
        return []
    store.put(conn, PROCESSED_DAY_KEY, today)
    if not enabled(conn, settings):
        return []
    cutoff = day_start(now, settings, tz)
    conn.execute("DELETE FROM visits WHERE at < ?", (cutoff - settings.visit_daily_window,))
    rows = conn.execute(
        "SELECT site, at, gap_before, followed FROM visits WHERE at < ? ORDER BY site, at",
        (cutoff,),
    ).fetchall()
    by_site: dict[str, list[Visit]] = {}
    for r in rows:
        gap = None if r[2] is None else float(r[2])
        by_site.setdefault(r[0], []).append(Visit(float(r[1]), gap, bool(r[3])))
    qualified: list[str] = []
    for site, history in by_site.items():
        if rule_met(history, settings) is None:
            continue
        qualified.append(site)
        conn.execute("DELETE FROM visits WHERE site = ? AND at < ?", (site, cutoff))
        if account_id is None or not _counts(conn, site, settings):
            continue
        flattrs.enqueue(
            conn,
            url=home_url(site),
            page_url=home_url(site),
            site=site,
            title=None,
            day=today,
            reason=REASON_VISITS,
            account_id=account_id,
            now=now,
        )
    return qualified


def _counts(conn: sqlite3.Connection, site: str, settings: Settings) -> bool:
    """The site may have been blocked or left out by the mode since its visits were kept."""
    return sites.decide(conn, home_url(site), urls.PageMeta(), settings).counts


def pending_sites(conn: sqlite3.Connection) -> list[tuple[str, int]]:
    """Sites with visits kept, and how many (for ``flattr-host visits``)."""
    rows = conn.execute("SELECT site, COUNT(*) FROM visits GROUP BY site ORDER BY site").fetchall()
    return [(str(r[0]), int(r[1])) for r in rows]

"""Builds the status, sites and history answers shared by the protocol and the CLI."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from . import accounts, ledger, sites, visits
from . import protocol as p
from .settings import Settings

# Leave room for the reply envelope when filling a page up to the frame limit.
PAGE_RESERVE = 4096


def queue_state(conn: sqlite3.Connection, now: float, settings: Settings) -> p.QueueState:
    from .submitter import status_summary

    s = status_summary(conn, now, settings)
    counts, rate = s["counts"], s["rate_limit"] or {}
    error = s["last_error"] or {}
    return p.QueueState(
        **counts,
        waiting_other_account=s["waiting_for_other_accounts"],
        next_retry_at=s["next_retry_at"],
        hold=s["hold"],
        last_error=s["last_error_text"],
        last_error_at=error.get("at"),
        last_delivery_at=s["last_delivery_at"],
        rate_limit_remaining=rate.get("remaining"),
        rate_limit_reset=rate.get("reset"),
    )


def account_state(account: accounts.Account | None, reason: str | None = None) -> p.AccountState:
    if account is None:
        return p.AccountState(signed_in=False, signed_out_reason=reason)
    return p.AccountState(
        signed_in=account.signed_in,
        username=account.username,
        subscription_active=account.subscription_active,
        signed_out_reason=account.signed_out_reason,
    )


def flattrs_today(conn: sqlite3.Connection, now: float, settings: Settings) -> int:
    day = ledger.attention_day(now, settings)
    row = conn.execute(
        "SELECT COUNT(*) FROM flattrs WHERE day = ? AND state != 'rejected'", (day,)
    ).fetchone()
    return int(row[0])


# "N flattrs today on this site" lists at most this many pages.
MAX_PAGES_TODAY = 50


def pages_today(
    conn: sqlite3.Connection, site: str, now: float, settings: Settings
) -> list[p.PageCount]:
    """The site's pages flattred today (rejected ones not counted), most flattred first."""
    rows = conn.execute(
        "SELECT page_url, MAX(title), COUNT(*) AS n FROM flattrs "
        "WHERE site = ? AND day = ? AND state != 'rejected' "
        "GROUP BY page_url ORDER BY n DESC, page_url LIMIT ?",
        (site, ledger.attention_day(now, settings), MAX_PAGES_TODAY),
    ).fetchall()
    return [p.PageCount(url=r[0], title=r[1], flattrs=int(r[2])) for r in rows]


def status_result(conn: sqlite3.Connection, now: float, settings: Settings) -> p.StatusResult:
    account = accounts.current(conn)
    reason = None if account is not None else _last_sign_out_reason(conn)
    return p.StatusResult(
        account=account_state(account, reason),
        queue=queue_state(conn, now, settings),
        mode=sites.get_mode(conn, settings),
        flattrs_today=flattrs_today(conn, now, settings),
        visit_flattrs=visits.enabled(conn, settings),
    )


def _last_sign_out_reason(conn: sqlite3.Connection) -> str | None:
    row = conn.execute(
        "SELECT signed_out_reason FROM accounts ORDER BY signed_out_at DESC LIMIT 1"
    ).fetchone()
    return None if row is None else row[0]


def site_entries(conn: sqlite3.Connection, now: float, settings: Settings) -> list[p.SiteEntry]:
    return [
        p.SiteEntry(
            site=e.site,
            setting=e.setting,
            builtin=e.builtin,
            flattrs_today=e.flattrs_today,
            flattrs_total=e.flattrs_total,
        )
        for e in sites.list_sites(conn, now=now, settings=settings)
    ]


def site_entry(conn: sqlite3.Connection, site: str, now: float, settings: Settings) -> p.SiteEntry:
    for entry in site_entries(conn, now, settings):
        if entry.site == site:
            return entry
    return p.SiteEntry(site=site, setting="default", builtin=sites.builtin_site_category(site))


def sites_result(conn: sqlite3.Connection, now: float, settings: Settings) -> p.SitesResult:
    return p.SitesResult(
        mode=sites.get_mode(conn, settings),
        sites=site_entries(conn, now, settings),
        builtin=sites.builtin_blocklist(),
    )


def history_result(
    conn: sqlite3.Connection, before: int | None, limit: int, max_bytes: int = 1 << 20
) -> p.HistoryResult:
    """A page of history, newest first, cut short so that it always fits one frame."""
    entries = ledger.history(conn, before_id=before, limit=limit + 1)
    budget = max_bytes - PAGE_RESERVE
    items: list[p.HistoryItem] = []
    for entry in entries[:limit]:
        item = p.HistoryItem(**_fields(entry))
        budget -= len(json.dumps(item.model_dump(mode="json"), ensure_ascii=False).encode()) + 1
        if budget < 0 and items:
            break
        items.append(item)
    more = len(items) < len(entries)
    return p.HistoryResult(items=items, next_before=items[-1].id if more and items else None)


def _fields(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in p.HistoryItem.model_fields}


def describe_report(report: Any) -> str:
    """One line for people about a submission run."""
    parts = [f"{report.delivered} delivered"]
    if report.rejected:
        parts.append(f"{report.rejected} rejected by Flattr")
    if report.failed:
        parts.append(f"{report.failed} failed")
    line = ", ".join(parts)
    if report.waiting:
        line += f"; waiting: {report.waiting}"
    if report.error:
        line += f"; last error: {report.error}"
    return line

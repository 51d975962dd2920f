"""Builds the status, sites and history answers shared by the protocol and the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
from datetime import tzinfo
from typing import Any

from . import accounts, flattrs, holds, sites, store, visits
from .days import attention_day
from .flattrs import made
from .holds import RATE_LIMITED, REFUSED, SIGNED_OUT, WAITING_FOR_ACCOUNT
from .logs import redact
from .protocol.results import (
    AccountState,
    HistoryItem,
    HistoryResult,
    PageCount,
    QueueState,
    SiteEntry,
    SitesResult,
    StatusResult,
)
from .settings import Settings

# Leave room for the reply envelope when filling a page up to the frame limit.
PAGE_RESERVE = 4096


def queue_state(conn: sqlite3.Connection, now: float, settings: Settings) -> QueueState:
    s = status_summary(conn, now, settings)
    counts, rate = s["counts"], s["rate_limit"] or {}
    error = s["last_error"] or {}
    return QueueState(
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


def account_state(account: accounts.Account | None, reason: str | None = None) -> AccountState:
    if account is None:
        return AccountState(signed_in=False, signed_out_reason=reason)
    return AccountState(
        signed_in=account.signed_in,
        username=account.username,
        subscription_active=account.subscription_active,
        signed_out_reason=account.signed_out_reason,
    )


def flattrs_today(conn: sqlite3.Connection, now: float, settings: Settings) -> int:
    return made.made_on(conn, attention_day(now, settings))


# "N flattrs today on this site" lists at most this many pages.
MAX_PAGES_TODAY = 50


def pages_today(
    conn: sqlite3.Connection, site: str, now: float, settings: Settings
) -> list[PageCount]:
    """The site's pages flattred today (rejected ones not counted), most flattred first."""
    day = attention_day(now, settings)
    return [
        PageCount(url=url, title=title, flattrs=n)
        for url, title, n in made.pages_on(conn, site, day, MAX_PAGES_TODAY)
    ]


def status_result(conn: sqlite3.Connection, now: float, settings: Settings) -> StatusResult:
    account = accounts.current(conn)
    reason = None if account is not None else _last_sign_out_reason(conn)
    return StatusResult(
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


def site_entries(
    conn: sqlite3.Connection, now: float, settings: Settings, tz: tzinfo | None = None
) -> list[SiteEntry]:
    """The user's site settings, with flattrs today and all time (rejected ones not counted)."""
    day = attention_day(now, settings, tz)
    entries = []
    for site, setting in sites.user_settings(conn):
        today, total = made.made_on_site(conn, site, day)
        builtin = sites.builtin_site_category(site)
        entries.append(
            SiteEntry(
                site=site,
                setting=setting,
                builtin=builtin,
                flattrs_today=today,
                flattrs_total=total,
            )
        )
    return entries


def site_entry(conn: sqlite3.Connection, site: str, now: float, settings: Settings) -> SiteEntry:
    for entry in site_entries(conn, now, settings):
        if entry.site == site:
            return entry
    return SiteEntry(site=site, setting="default", builtin=sites.builtin_site_category(site))


def sites_result(conn: sqlite3.Connection, now: float, settings: Settings) -> SitesResult:
    return SitesResult(
        mode=sites.get_mode(conn, settings),
        sites=site_entries(conn, now, settings),
        builtin=sites.builtin_blocklist(),
    )


def history_result(
    conn: sqlite3.Connection, before: int | None, limit: int, max_bytes: int = 1 << 20
) -> HistoryResult:
    """A page of history, newest first, cut short so that it always fits one frame."""
    entries = made.history(conn, before_id=before, limit=limit + 1)
    budget = max_bytes - PAGE_RESERVE
    items: list[HistoryItem] = []
    for entry in entries[:limit]:
        item = HistoryItem(**_fields(entry))
        budget -= len(json.dumps(item.model_dump(mode="json"), ensure_ascii=False).encode()) + 1
        if budget < 0 and items:
            break
        items.append(item)
    more = len(items) < len(entries)
    return HistoryResult(items=items, next_before=items[-1].id if more and items else None)


def _fields(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HistoryItem.model_fields}


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


def describe_error(error: object) -> str | None:
    """The stored ``last_error`` in words."""
    if not isinstance(error, dict):
        return None
    status, code, message = error.get("status"), error.get("code"), error.get("message") or ""
    # Also texts stored before they were redacted at the source.
    code, message = (None if code is None else redact(str(code))), redact(str(message))
    if status is None:
        return f"Could not reach the Flattr API ({code}): {message}".rstrip(": ")
    words = {
        401: "The Flattr token was rejected; sign in again on flattr.com",
        402: "The Flattr subscription is not active",
        429: "Too many requests; waiting for the rate limit to reset",
    }.get(int(status))
    if code == "rate_limit_exceeded":
        words = "Too many requests; waiting for the rate limit to reset"
    base = words or f"The Flattr API answered {status}{f' ({code})' if code else ''}"
    return f"{base}: {message}" if message and not words else base


def status_summary(
    conn: sqlite3.Connection, now: float, settings: Settings | None = None
) -> dict[str, Any]:
    """Counts, what the queue waits for and why, the last error and the rate limit."""
    settings = settings or Settings()
    counts = dataclasses.asdict(flattrs.counts(conn))
    unsent = flattrs.unsent_by_account(conn)
    account = accounts.current(conn)
    hold_reason: str | None = None
    hold_until: float | None = None
    next_retry: float | None = None
    mine = 0 if account is None else unsent.get(account.id, 0)
    if unsent and (account is None or account.token is None):
        hold_reason = SIGNED_OUT
    elif account is not None:
        # The same hold the submitter obeys (the one that ends last), so the two never disagree.
        hold = holds.current_hold(conn, account, now, settings)
        if mine == 0 and unsent:
            hold_reason = WAITING_FOR_ACCOUNT
        elif hold is not None and (mine or hold.reason != RATE_LIMITED):
            hold_reason = hold.reason
            hold_until = None if math.isinf(hold.until) else hold.until
        batch_at = flattrs.next_batch_at(conn, account.id)
        newest = flattrs.newest_unbatched(conn, account.id)
        times = [
            t
            for t in (batch_at, None if newest is None else newest + settings.submit_delay)
            if t is not None
        ]
        if times and hold_reason != REFUSED:  # a refusal waits for the user: no time to say
            next_retry = max(min(times), hold_until or 0.0)
    last_error = store.get(conn, holds.LAST_ERROR_KEY)
    return {
        "counts": counts,
        "waiting_for_other_accounts": sum(
            n for a, n in unsent.items() if account is None or a != account.id
        ),
        "next_retry_at": next_retry,
        "hold": hold_reason,
        "hold_until": hold_until,
        "last_error": last_error,
        "last_error_text": describe_error(last_error),
        "last_delivery_at": store.get(conn, holds.LAST_DELIVERY_KEY),
        "rate_limit": store.get(conn, holds.RATE_LIMIT_KEY),
    }

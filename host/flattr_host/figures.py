"""Every figure the dashboard shows, read from the database: one implementation, used by the
window's ``js_api``, the CLI (``flattr-host stats``) and the tests that compare them with the
database. Nothing here touches the network (see ``dashboard/remote.py`` for what does)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from . import accounts, holds, ledger, paths, status, store
from .days import attention_day
from .logs import redact
from .settings import Settings

# How many days the "flattrs per day" chart covers, and how many entries a top list holds.
CHART_DAYS = 30
TOP_LIMIT = 10
# The queue page lists at most this many flattrs per group (the counts are always complete).
QUEUE_LIST_LIMIT = 500
# Where a user fixes an inactive subscription.
SUBSCRIPTION_URL = "https://flattr.com/"
# Cached things/lookup answers (dashboard/remote.py writes them): {url: {...}}.
LOOKUPS_KEY = "creator_lookups"
UNSENT = ("pending", "failed", "in_flight")

# Why nothing is being sent, in words (status.queue_state's ``hold``).
HOLD_WORDS = {
    holds.BACKOFF: "Flattr could not be reached or answered with an error; retrying later",
    holds.RATE_LIMITED: "Waiting for Flattr's hourly request limit to reset",
    holds.SIGNED_OUT: "Signed out: sign in and they are sent",
    holds.SUBSCRIPTION_INACTIVE: "Your Flattr subscription is not active",
    holds.REFUSED: "Flattr refused the last request; fix the cause, then Retry now",
    holds.WAITING_FOR_ACCOUNT: "They belong to another account: sign in as it, or move them",
}


def hold_words(hold: str | None) -> str | None:
    if hold is None:
        return None
    return HOLD_WORDS.get(hold, f"Held: {hold}")


def today(now: float, settings: Settings) -> str:
    return attention_day(now, settings)


def last_days(now: float, settings: Settings, days: int = CHART_DAYS) -> list[str]:
    """The attention days of the chart, oldest first, ending today."""
    end = date.fromisoformat(today(now, settings))
    return [(end - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


# --- account and overview ----------------------------------------------------------------------


def overview(conn: sqlite3.Connection, now: float, settings: Settings) -> dict[str, Any]:
    s = status.status_result(conn, now, settings)
    home = paths.data_home()
    return {
        "account": s.account.model_dump(mode="json"),
        "subscription_url": SUBSCRIPTION_URL,
        "queue": s.queue.model_dump(mode="json"),
        "hold_words": hold_words(s.queue.hold),
        "mode": s.mode,
        "flattrs_today": s.flattrs_today,
        "database": str(paths.database_path(home)),
        "settings_file": str(home / "settings.json"),
        "logs": str(paths.log_dir()),
    }


# --- queue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueItem:
    id: int
    url: str
    site: str
    title: str | None
    state: str
    group: str  # pending, in_flight, held, failed or rejected
    reason: str
    created_at: float
    error: str | None
    held: str | None  # why it waits, in words
    owner: str | None  # the account it is bound to, when not the signed-in one


def queue_items(conn: sqlite3.Connection, now: float, settings: Settings) -> dict[str, Any]:
    """Every flattr not delivered, by group, with why a held one waits."""
    account = accounts.current(conn)
    mine = None if account is None else account.id
    hold = status.queue_state(conn, now, settings).hold
    own_hold = hold if hold != holds.WAITING_FOR_ACCOUNT else None
    owners: dict[int | None, str] = {}
    groups: dict[str, list[dict[str, Any]]] = {
        g: [] for g in ("pending", "in_flight", "held", "failed", "rejected")
    }
    counts: Counter[str] = Counter()
    rows = conn.execute(
        "SELECT id, url, site, title, state, reason, created_at, error, account_id FROM flattrs "
        "WHERE state != 'delivered' ORDER BY id"
    ).fetchall()
    for r in rows:
        held: str | None = None
        owner: str | None = None
        if r["state"] in ("pending", "failed") and r["account_id"] != mine:
            if r["account_id"] not in owners:
                owners[r["account_id"]] = _owner(conn, r["account_id"])
            owner = owners[r["account_id"]]
            held = f"Waits for {owner} to sign in (or move it to the signed-in account)"
        elif r["state"] == "pending" and own_hold is not None:
            held = hold_words(own_hold)
        group = "held" if held is not None and r["state"] == "pending" else r["state"]
        counts[group] += 1
        if len(groups[group]) < QUEUE_LIST_LIMIT:
            item = QueueItem(
                id=int(r["id"]),
                url=r["url"],
                site=r["site"],
                title=r["title"],
                state=r["state"],
                group=group,
                reason=r["reason"],
                created_at=float(r["created_at"]),
                error=None if r["error"] is None else redact(r["error"]),
                held=held,
                owner=owner,
            )
            groups[group].append(asdict(item))
    return {"groups": groups, "counts": {g: counts[g] for g in groups}}


def _owner(conn: sqlite3.Connection, account_id: int | None) -> str:
    account = None if account_id is None else accounts.get(conn, account_id)
    if account is None:
        return "no account"
    return account.username or f"an unverified account (#{account.id})"


# --- history -------------------------------------------------------------------------------------


def flattrs_per_day(
    conn: sqlite3.Connection, now: float, settings: Settings, days: int = CHART_DAYS
) -> list[dict[str, Any]]:
    """Flattrs made (not rejected) on each of the last ``days`` attention days, oldest first."""
    span = last_days(now, settings, days)
    rows = conn.execute(
        "SELECT day, COUNT(*) FROM flattrs WHERE day >= ? AND day <= ? AND state != 'rejected' "
        "GROUP BY day",
        (span[0], span[-1]),
    ).fetchall()
    made = {r[0]: int(r[1]) for r in rows}
    return [{"day": d, "count": made.get(d, 0)} for d in span]


def _month_start(now: float, settings: Settings) -> str:
    return today(now, settings)[:8] + "01"


def top_sites(
    conn: sqlite3.Connection, now: float, settings: Settings, limit: int = TOP_LIMIT
) -> list[dict[str, Any]]:
    """This month's sites by flattrs (not rejected)."""
    rows = conn.execute(
        "SELECT site, COUNT(*) AS n FROM flattrs WHERE day >= ? AND day <= ? "
        "AND state != 'rejected' GROUP BY site ORDER BY n DESC, site LIMIT ?",
        (_month_start(now, settings), today(now, settings), limit),
    ).fetchall()
    return [{"site": r[0], "count": int(r[1])} for r in rows]


def lookups(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    cached = store.get(conn, LOOKUPS_KEY, {})
    return cached if isinstance(cached, dict) else {}


def top_creators(
    conn: sqlite3.Connection, now: float, settings: Settings, limit: int = TOP_LIMIT
) -> dict[str, Any]:
    """This month's creators on Flattr by flattrs, as far as things/lookup has told us; the
    flattrs whose creator is not (yet) known are counted apart."""
    rows = conn.execute(
        "SELECT url FROM flattrs WHERE day >= ? AND day <= ? AND state != 'rejected'",
        (_month_start(now, settings), today(now, settings)),
    ).fetchall()
    known = lookups(conn)
    by_owner: Counter[str] = Counter()
    unknown = 0
    for (url,) in rows:
        owner = (known.get(url) or {}).get("owner")
        if owner:
            by_owner[owner] += 1
        else:
            unknown += 1
    ranked = sorted(by_owner.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {"creators": [{"creator": c, "count": n} for c, n in ranked], "unknown": unknown}


def attention_today(
    conn: sqlite3.Connection, now: float, settings: Settings
) -> list[dict[str, Any]]:
    """Today's pages by attention, with the progress to each page's next flattr."""
    rows = conn.execute(
        "SELECT url, site, title, seconds, audio_page, crossings FROM attention WHERE day = ? "
        "ORDER BY seconds DESC, url",
        (today(now, settings),),
    ).fetchall()
    pages = []
    for r in rows:
        step = ledger.step_progress(
            float(r["seconds"]), bool(r["audio_page"]), int(r["crossings"]), settings
        )
        pages.append(
            {
                "url": r["url"],
                "site": r["site"],
                "title": r["title"],
                "seconds": float(r["seconds"]),
                "flattrs": step.done,
                "next_threshold": step.upcoming,
                "progress": step.progress,
            }
        )
    return pages


def sent_per_day(
    conn: sqlite3.Connection, now: float, settings: Settings, days: int = CHART_DAYS
) -> dict[str, int]:
    """Flattrs the host delivered on each of the last ``days`` days (by delivery time)."""
    span = set(last_days(now, settings, days))
    counts: Counter[str] = Counter()
    for (at,) in conn.execute(
        "SELECT delivered_at FROM flattrs WHERE state = 'delivered' AND delivered_at >= ?",
        (now - (days + 1) * 86_400,),
    ):
        day = attention_day(float(at), settings)
        if day in span:
            counts[day] += 1
    return dict(counts)


def compare(
    sent: dict[str, int], recorded: dict[str, int], days: list[str]
) -> list[dict[str, Any]]:
    """What the host sent next to what Flattr recorded, per day; ``gap`` > 0: missing at Flattr."""
    return [
        {
            "day": d,
            "sent": sent.get(d, 0),
            "recorded": recorded.get(d, 0),
            "gap": sent.get(d, 0) - recorded.get(d, 0),
        }
        for d in days
    ]


def history(conn: sqlite3.Connection, now: float, settings: Settings) -> dict[str, Any]:
    return {
        "today": today(now, settings),
        "per_day": flattrs_per_day(conn, now, settings),
        "top_sites": top_sites(conn, now, settings),
        "top_creators": top_creators(conn, now, settings),
        "attention_today": attention_today(conn, now, settings),
    }


# --- creators ------------------------------------------------------------------------------------


def flattred_urls(conn: sqlite3.Connection, limit: int = QUEUE_LIST_LIMIT) -> list[dict[str, Any]]:
    """The URLs that earned a flattr (the only ones the dashboard ever looks up), newest first."""
    rows = conn.execute(
        "SELECT url, site, MAX(title) AS title, COUNT(*) AS n, MAX(created_at) AS last "
        "FROM flattrs GROUP BY url ORDER BY last DESC LIMIT ?",
        (limit,),
    ).fetchall()
    return [
        {"url": r["url"], "site": r["site"], "title": r["title"], "flattrs": int(r["n"])}
        for r in rows
    ]


def creators(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    known = lookups(conn)
    return [{**u, "lookup": known.get(u["url"])} for u in flattred_urls(conn)]


# --- settings ------------------------------------------------------------------------------------


def settings_view(conn: sqlite3.Connection, now: float, settings: Settings) -> dict[str, Any]:
    home = paths.data_home()
    result = status.sites_result(conn, now, settings)
    return {
        "mode": result.mode,
        "sites": [s.model_dump(mode="json") for s in result.sites],
        "thresholds": list(settings.thresholds),
        "audio_thresholds": list(settings.audio_thresholds),
        "repeat_after": settings.repeat_after,
        "batch_size": settings.batch_size,
        "data_home": str(home),
        "database": str(paths.database_path(home)),
        "settings_file": str(home / "settings.json"),
        "logs": str(paths.log_dir()),
    }

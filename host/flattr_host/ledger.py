"""The attention ledger: seconds per URL per attention day, threshold crossings, and the flattrs
they earn.

Invariant of an ``attention`` row: ``crossings`` is the number of thresholds already turned into
flattrs (or recorded while signed out) and never decreases, so the next flattr of that URL that day
happens when its seconds reach ``nth_threshold(crossings + 1)``.
"""

from __future__ import annotations

import bisect
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import TYPE_CHECKING

from . import creators, flattrs, sites
from .days import attention_day, reported_time
from .flattrs import made
from .settings import Settings
from .urls import PageMeta

if TYPE_CHECKING:
    from .unchanged import Unchanged

PRIVATE = "private"
SIGNED_OUT = "signed_out"
REASON_ATTENTION = "attention"
REASON_AUDIO = "audio"
REASON_MANUAL = "manual"


# --- thresholds (pure) -------------------------------------------------------------------------


def crossings(seconds: float, thresholds: Sequence[float], repeat_after: float) -> int:
    """How many thresholds ``seconds`` has reached: each listed one, then one more per
    ``repeat_after`` seconds after the last."""
    ordered = sorted(thresholds)
    count = bisect.bisect_right(ordered, seconds)
    last = ordered[-1] if ordered else 0.0
    if repeat_after > 0 and seconds >= last:
        count += math.floor((seconds - last) / repeat_after)
    return count


def nth_threshold(n: int, thresholds: Sequence[float], repeat_after: float) -> float:
    """Seconds at which the n-th crossing (1-based) happens; 0 for n = 0, inf when none."""
    if n <= 0:
        return 0.0
    ordered = sorted(thresholds)
    if n <= len(ordered):
        return float(ordered[n - 1])
    if repeat_after <= 0:
        return math.inf
    last = ordered[-1] if ordered else 0.0
    return float(last + (n - len(ordered)) * repeat_after)


def next_threshold(seconds: float, thresholds: Sequence[float], repeat_after: float) -> float:
    """The smallest threshold above ``seconds`` (its next crossing)."""
    return nth_threshold(crossings(seconds, thresholds, repeat_after) + 1, thresholds, repeat_after)


def _thresholds(settings: Settings, audio_page: bool) -> tuple[int, ...]:
    return settings.audio_thresholds if audio_page else settings.thresholds


# --- records -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A stretch of attention on one page, as the extension reports it."""

    url: str
    title: str | None
    seconds: float
    audio: bool = False  # an audible tab earning in the background
    private: bool = False  # from a private/incognito window: never stored
    meta: PageMeta = field(default_factory=PageMeta)
    started_at: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise ValueError(f"segment seconds must be finite and >= 0, not {self.seconds!r}")


@dataclass(frozen=True)
class SegmentResult:
    url: str | None  # normalized; None for private segments and non-web URLs
    site: str | None
    counted: bool
    reason: str | None
    seconds_today: float = 0.0
    flattrs_queued: int = 0
    signed_out: bool = False  # crossings were recorded but no flattr made (signed out on purpose)


@dataclass(frozen=True)
class ManualResult:
    url: str | None  # normalized page URL
    site: str | None
    flattr_id: int | None  # None when refused
    reason: str | None
    detail: str
    submit_url: str | None = None
    seconds_today: float = 0.0


@dataclass(frozen=True)
class PageStatus:
    url: str | None
    site: str | None
    decision: sites.SiteDecision
    seconds_today: float = 0.0
    audio_page: bool = False
    next_threshold: float | None = None
    progress: float = 0.0  # 0..1 from the previous threshold to the next
    flattrs_today_url: int = 0
    flattrs_today_site: int = 0
    flattrs_left_today: int = 0  # automatic ones before the repeat phase


@dataclass(frozen=True)
class _Row:
    seconds: float = 0.0
    audio_seconds: float = 0.0
    audio_page: bool = False
    crossings: int = 0
    exists: bool = False


def _load(conn: sqlite3.Connection, day: str, url: str) -> _Row:
    row = conn.execute(
        "SELECT seconds, audio_seconds, audio_page, crossings FROM attention "
        "WHERE day = ? AND url = ?",
        (day, url),
    ).fetchone()
    if row is None:
        return _Row()
    return _Row(float(row[0]), float(row[1]), bool(row[2]), int(row[3]), True)


def _save(
    conn: sqlite3.Connection,
    *,
    day: str,
    url: str,
    site: str,
    title: str | None,
    row: _Row,
    submit_url: str,
    now: float,
) -> None:
    conn.execute(
        "INSERT INTO attention (day, url, site, title, seconds, audio_seconds, audio_page, "
        "crossings, submit_url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (day, url) DO UPDATE SET title = COALESCE(excluded.title, title), "
        "seconds = excluded.seconds, audio_seconds = excluded.audio_seconds, "
        "audio_page = excluded.audio_page, crossings = excluded.crossings, "
        "submit_url = excluded.submit_url, updated_at = excluded.updated_at",
        (
            day,
            url,
            site,
            title or None,
            row.seconds,
            row.audio_seconds,
            int(row.audio_page),
            row.crossings,
            submit_url,
            now,
        ),
    )


def _record_one(
    conn: sqlite3.Connection,
    segment: Segment,
    account_id: int | None,
    now: float,
    settings: Settings,
    tz: tzinfo | None,
    known: Unchanged | None,
) -> SegmentResult:
    signed_out = account_id is None
    if segment.private:
        # Not even the URL is kept, nor echoed back.
        return SegmentResult(None, None, False, PRIVATE, signed_out=signed_out)
    decision = sites.decide(conn, segment.url, segment.meta, settings, known=known)
    if not decision.counts or decision.url is None or decision.site is None:
        return SegmentResult(decision.url, decision.site, False, decision.reason)
    url, site = decision.url, decision.site
    day = attention_day(reported_time(segment.started_at, now), settings, tz)
    old = _load(conn, day, url)
    # Counted in full: the protocol's MAX_SEGMENT_SECONDS bounds a segment, and the extension
    # splits longer stretches, so clipping here would only lose what the user gave.
    seconds = segment.seconds
    if seconds <= 0 and not old.exists:  # nothing to remember
        return SegmentResult(url, site, True, None, signed_out=signed_out)
    total = old.seconds + seconds
    audio_seconds = old.audio_seconds + (seconds if segment.audio else 0.0)
    # Once an audio page, always an audio page that day: the audio thresholds apply from then on.
    audio_page = old.audio_page or audio_seconds >= settings.audio_page_after
    reached = crossings(total, _thresholds(settings, audio_page), settings.repeat_after)
    new = max(0, reached - old.crossings)
    target = creators.resolve_target(segment.url, segment.meta)
    row = _Row(total, audio_seconds, audio_page, old.crossings + new, True)
    _save(
        conn, day=day, url=url, site=site, title=segment.title, row=row, submit_url=target, now=now
    )
    queued = 0
    if account_id is not None:
        reason = REASON_AUDIO if audio_page else REASON_ATTENTION
        for _ in range(new):
            flattrs.enqueue(
                conn,
                url=target,
                page_url=url,
                site=site,
                title=segment.title or None,
                day=day,
                reason=reason,
                account_id=account_id,
                now=now,
            )
            queued += 1
    return SegmentResult(url, site, True, None, total, queued, signed_out=signed_out)


def record(
    conn: sqlite3.Connection,
    segments: Sequence[Segment],
    *,
    account_id: int | None,
    now: float,
    settings: Settings,
    tz: tzinfo | None = None,
    known: Unchanged | None = None,
) -> list[SegmentResult]:
    """Add attention segments and queue the flattrs they earn. ``account_id`` None (signed out on
    purpose): attention and crossings are recorded, no flattr is made. Call inside the caller's
    transaction."""
    return [_record_one(conn, s, account_id, now, settings, tz, known) for s in segments]


def manual_flattr(
    conn: sqlite3.Connection,
    url: str,
    meta: PageMeta,
    *,
    title: str | None,
    account_id: int | None,
    now: float,
    settings: Settings,
    tz: tzinfo | None = None,
    private: bool = False,
) -> ManualResult:
    """The Flattr button: make the next crossing happen now (add the missing seconds) and queue
    one flattr. Any public page whose site is not disabled or blocked; the mode does not matter.
    Call inside a transaction."""
    if private:
        return ManualResult(None, None, None, PRIVATE, "private windows never count")
    decision = sites.decide(conn, url, meta, settings, explicit=True)
    if not decision.counts or decision.url is None or decision.site is None:
        return ManualResult(decision.url, decision.site, None, decision.reason, decision.detail)
    page, site = decision.url, decision.site
    if account_id is None:
        detail = "sign in to Flattr to flattr this page"
        return ManualResult(page, site, None, SIGNED_OUT, detail)
    day = attention_day(now, settings, tz)
    old = _load(conn, day, page)
    thresholds = _thresholds(settings, old.audio_page)
    done = max(old.crossings, crossings(old.seconds, thresholds, settings.repeat_after))
    due = nth_threshold(done + 1, thresholds, settings.repeat_after)
    seconds = max(old.seconds, due) if math.isfinite(due) else old.seconds
    target = creators.resolve_target(url, meta)
    row = _Row(seconds, old.audio_seconds, old.audio_page, done + 1, True)
    _save(conn, day=day, url=page, site=site, title=title, row=row, submit_url=target, now=now)
    flattr_id = flattrs.enqueue(
        conn,
        url=target,
        page_url=page,
        site=site,
        title=title or None,
        day=day,
        reason=REASON_MANUAL,
        account_id=account_id,
        now=now,
    )
    return ManualResult(page, site, flattr_id, None, f"flattred {page}", target, seconds)


def page_status(
    conn: sqlite3.Connection,
    url: str,
    meta: PageMeta,
    *,
    now: float,
    settings: Settings,
    tz: tzinfo | None = None,
) -> PageStatus:
    """What the popup shows for a page: whether it counts, seconds today, progress."""
    decision = sites.decide(conn, url, meta, settings)
    page, site = decision.url, decision.site
    if page is None or site is None:
        return PageStatus(page, site, decision)
    day = attention_day(now, settings, tz)
    row = _load(conn, day, page)
    step = step_progress(row.seconds, row.audio_page, row.crossings, settings)
    return PageStatus(
        url=page,
        site=site,
        decision=decision,
        seconds_today=row.seconds,
        audio_page=row.audio_page,
        next_threshold=step.upcoming,
        progress=step.progress,
        flattrs_today_url=made.made_on(conn, day, site, page),
        flattrs_today_site=made.made_on(conn, day, site),
        flattrs_left_today=max(0, len(_thresholds(settings, row.audio_page)) - step.done),
    )


@dataclass(frozen=True)
class Step:
    done: int  # thresholds reached today
    upcoming: float | None  # seconds of the next one (None: no more today)
    progress: float  # 0..1 from the previous threshold to the next


def step_progress(seconds: float, audio_page: bool, recorded: int, settings: Settings) -> Step:
    """Where a page stands on its way to its next flattr (the popup and the dashboard)."""
    thresholds = _thresholds(settings, audio_page)
    done = max(recorded, crossings(seconds, thresholds, settings.repeat_after))
    previous = nth_threshold(done, thresholds, settings.repeat_after)
    upcoming = nth_threshold(done + 1, thresholds, settings.repeat_after)
    span = upcoming - previous
    progress = 0.0 if not math.isfinite(span) or span <= 0 else (seconds - previous) / span
    return Step(
        done=done,
        upcoming=upcoming if math.isfinite(upcoming) else None,
        progress=min(1.0, max(0.0, progress)),
    )

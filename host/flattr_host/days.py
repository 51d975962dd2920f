"""The attention day: what "today" means for attention, visits and flattrs."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta, tzinfo

from .settings import Settings

# A time the extension reports (a segment's start, a visit) in the future or older than this (a
# clock jump, or something held back far too long) is taken as "now".
MAX_BACKDATE_SECONDS = 86_400.0


def attention_day(ts: float, settings: Settings, tz: tzinfo | None = None) -> str:
    """'YYYY-MM-DD' of the attention day holding ``ts``; the day starts at
    ``settings.day_start_hour`` local time (``tz`` None: this machine's zone), so 03:59 belongs
    to the day before."""
    local = datetime.fromtimestamp(ts, tz)
    return (local - timedelta(hours=settings.day_start_hour)).date().isoformat()


def day_start(ts: float, settings: Settings, tz: tzinfo | None = None) -> float:
    """Unix time at which the attention day holding ``ts`` began (``day_start_hour`` local)."""
    day = datetime.fromisoformat(attention_day(ts, settings, tz)).date()
    return datetime.combine(day, time(settings.day_start_hour), tz).timestamp()


def reported_time(at: float | None, now: float) -> float:
    """``at`` when it is a plausible time the extension reported, else ``now``."""
    if at is None or not math.isfinite(at):
        return now
    return at if now - MAX_BACKDATE_SECONDS <= at <= now else now

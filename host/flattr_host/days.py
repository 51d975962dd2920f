"""The attention day: what "today" means for attention, visits and flattrs."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from .settings import Settings


def attention_day(ts: float, settings: Settings, tz: tzinfo | None = None) -> str:
    """'YYYY-MM-DD' of the attention day holding ``ts``; the day starts at
    ``settings.day_start_hour`` local time (``tz`` None: this machine's zone), so 03:59 belongs
    to the day before."""
    local = datetime.fromtimestamp(ts, tz)
    return (local - timedelta(hours=settings.day_start_hour)).date().isoformat()

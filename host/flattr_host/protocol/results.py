"""What the host answers: the result of each request type, and what they are made of."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .. import hello
from .vocabulary import HoldReason, Message


class HelloResult(Message):
    protocol: int
    host_version: str
    capabilities: list[str] = Field(
        json_schema_extra={"items": {"enum": list(hello.CAPABILITIES), "type": "string"}}
    )
    repairs: list[str] = Field(description="host manifests re-pointed at this host at start")


class AccountState(Message):
    signed_in: bool
    username: str | None = None
    subscription_active: bool | None = None
    signed_out_reason: Literal["user", "token_rejected"] | None = None


class Decision(Message):
    counts: bool
    site: str | None = None
    url: str | None = None
    reason: str | None = None
    detail: str = ""


class SegmentResult(Message):
    url: str | None
    site: str | None
    counted: bool
    reason: str | None = None
    error: str | None = Field(
        None, description="why the segment was refused (reason `invalid`): its field and fault"
    )
    seconds_today: float = 0
    flattrs_queued: int = 0


class AttentionResult(Message):
    results: list[SegmentResult]


class VisitsResult(Message):
    recorded: int = Field(description="how many visits were kept (the rest do not count)")


class VisitFlattrsState(Message):
    enabled: bool


class FlattrNowResult(Message):
    url: str
    flattr_id: int


class Creator(Message):
    """Who the page's flattrs go to, when the page says."""

    url: str = Field(description="what is submitted: an auto-submit URL or a Flattr thing")
    name: str | None = Field(None, description="Flattr username, community identifier or thing id")
    kind: Literal["user", "owner", "thing"] | None = None
    source: Literal["payment_link", "flattr_meta", "button"]


class PageCount(Message):
    url: str = Field(description="the page (normalised URL) the flattrs were for")
    title: str | None = None
    flattrs: int


class PageStatus(Message):
    decision: Decision
    seconds_today: float = 0
    audio_page: bool = False
    next_threshold: float | None = None
    progress: float = Field(0, ge=0, le=1)
    flattrs_today_url: int = 0
    flattrs_today_site: int = 0
    creator: Creator | None = None
    pages_today: list[PageCount] = Field(
        [], description="the site's pages flattred today and how often, most first (capped)"
    )


class SiteEntry(Message):
    site: str
    setting: Literal["enabled", "disabled", "default"]
    builtin: str | None = Field(None, description="built-in category when on the never-count list")
    flattrs_today: int = 0
    flattrs_total: int = 0


class SitesResult(Message):
    mode: Literal["all", "enabled", "metadata"]
    sites: list[SiteEntry]
    builtin: dict[str, list[str]]


class QueueState(Message):
    pending: int = 0
    in_flight: int = 0
    failed: int = 0
    rejected: int = 0
    delivered: int = 0
    waiting_other_account: int = 0
    next_retry_at: float | None = None
    hold: HoldReason | None = Field(None, description="why nothing is being sent right now")
    last_error: str | None = None
    last_error_at: float | None = None
    last_delivery_at: float | None = None
    rate_limit_remaining: int | None = None
    rate_limit_reset: float | None = None


class StatusResult(Message):
    account: AccountState
    queue: QueueState
    mode: Literal["all", "enabled", "metadata"]
    flattrs_today: int
    visit_flattrs: bool = Field(True, description="daily visit flattrs are on")


class HistoryItem(Message):
    id: int
    url: str
    page_url: str
    site: str
    title: str | None = None
    reason: str
    state: str
    created_at: float
    delivered_at: float | None = None
    error: str | None = None


class HistoryResult(Message):
    items: list[HistoryItem]
    next_before: int | None


class ExportResult(Message):
    part: str = Field(description="which table this page holds")
    rows: list[dict[str, Any]]
    cursor: str | None = Field(description="pass back for the next page; null when done")


class TickResult(Message):
    """Due work was started; its outcome arrives as ``queue`` events."""

    scheduled: bool
    queue: QueueState


class DashboardOpened(Message):
    started: bool = Field(description="a new dashboard window process was started")
    focused: bool = Field(description="the open dashboard window was brought to the front")


class Empty(Message):
    pass

"""What the extension sends: one model per request type, and what they are made of."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PlainValidator, ValidationError

from .. import PROTOCOL_VERSION
from ..accounts import BEARER_TOKEN_CHARS
from .vocabulary import (
    DEFAULT_HISTORY_PAGE,
    MAX_HISTORY_PAGE,
    MAX_SEGMENT_SECONDS,
    MAX_SEGMENTS_PER_MESSAGE,
    MAX_TOKEN_LENGTH,
    MAX_VISITS_PER_MESSAGE,
    Message,
    RequestId,
    Text,
    Title,
    Url,
    describe_errors,
)


class ExtensionInfo(Message):
    model_config = ConfigDict(extra="allow", frozen=True)
    id: Text | None = None
    version: Text | None = None
    browser: Text | None = None


class HelloRequest(Message):
    """First message on every connection."""

    id: RequestId
    type: Literal["hello"]
    protocol: int = PROTOCOL_VERSION
    extension: ExtensionInfo | None = None


class Subscription(Message):
    model_config = ConfigDict(extra="ignore", frozen=True)
    active: bool


class TokenRequest(Message):
    """The token from the flattr.com handshake (``flattr-token``)."""

    id: RequestId
    type: Literal["token"]
    # The host checks the character set itself, to answer with words rather than a regex.
    token: Annotated[
        Text,
        Field(
            min_length=1,
            max_length=MAX_TOKEN_LENGTH,
            json_schema_extra={"pattern": f"^{BEARER_TOKEN_CHARS}$"},
        ),
    ]
    subscription: Subscription | None = None
    page_url: Url


class SubscriptionRequest(Message):
    """``flattr-subscription`` from flattr.com."""

    id: RequestId
    type: Literal["subscription"]
    active: bool
    page_url: Url


class SignOutRequest(Message):
    id: RequestId
    type: Literal["sign_out"]


FlattrParam = Literal["title", "description", "language", "tags", "category", "hidden"]


class PageMeta(Message):
    """Creator metadata found on the page (docs/attention.md#creator-metadata)."""

    payment_url: Url | None = None
    flattr_id: Annotated[Text, Field(max_length=256)] | None = None
    canonical_url: Url | None = None
    button_url: Url | None = Field(
        None, description="Flattr button markup: an auto-submit URL or a flattr.com/thing link"
    )
    flattr_params: dict[FlattrParam, Annotated[str, Field(max_length=1024)]] | None = Field(
        None, description="the other flattr:* meta tags, for the auto-submit URL of flattr_id"
    )


class Segment(Message):
    """A stretch of attention on one page."""

    url: Url
    title: Title | None = None
    seconds: Annotated[float, Field(ge=0, le=MAX_SEGMENT_SECONDS)]
    kind: Literal["foreground", "audio"] = "foreground"
    private: bool = False
    meta: PageMeta = PageMeta()
    started_at: float | None = None


class InvalidSegment(Message):
    """A segment that does not match the schema, in place of the segment (never sent)."""

    error: str


def _segment_or_invalid(value: Any) -> Segment | InvalidSegment:
    try:
        return Segment.model_validate(value)
    except ValidationError as exc:
        return InvalidSegment(error=describe_errors(exc, whole="segment"))


# Each segment is validated on its own: a bad one is answered as refused and the others still count.
SegmentItem = Annotated[
    Segment | InvalidSegment, PlainValidator(_segment_or_invalid, json_schema_input_type=Segment)
]


class AttentionRequest(Message):
    id: RequestId
    type: Literal["attention"]
    segments: Annotated[list[SegmentItem], Field(min_length=1, max_length=MAX_SEGMENTS_PER_MESSAGE)]
    batch: Annotated[Text, Field(min_length=1, max_length=64)] | None = Field(
        None,
        description="an id for this batch: a resend with the same id within a day is answered "
        "with the first answer and recorded only once",
    )


class Visit(Message):
    """One top-level navigation in a normal window (for daily visit flattrs)."""

    url: Url
    visited_at: float | None = Field(None, description="unix time of the navigation")
    private: bool = False


class VisitsRequest(Message):
    id: RequestId
    type: Literal["visits"]
    visits: Annotated[list[Visit], Field(min_length=1, max_length=MAX_VISITS_PER_MESSAGE)]


class SetVisitFlattrsRequest(Message):
    """Turn daily visit flattrs on or off; off deletes the visits kept."""

    id: RequestId
    type: Literal["set_visit_flattrs"]
    enabled: bool


class FlattrNowRequest(Message):
    """The popup's "Flattr now" button."""

    id: RequestId
    type: Literal["flattr_now"]
    url: Url
    title: Title | None = None
    meta: PageMeta = PageMeta()
    private: bool = False


class PageStatusRequest(Message):
    id: RequestId
    type: Literal["page_status"]
    url: Url
    meta: PageMeta = PageMeta()
    private: bool = False


class SetSiteRequest(Message):
    id: RequestId
    type: Literal["set_site"]
    site: Annotated[Text, Field(min_length=1, max_length=253)]
    setting: Literal["enabled", "disabled", "default"]


class SitesRequest(Message):
    id: RequestId
    type: Literal["sites"]


class SetModeRequest(Message):
    id: RequestId
    type: Literal["set_mode"]
    mode: Literal["all", "enabled", "metadata"]


class StatusRequest(Message):
    id: RequestId
    type: Literal["status"]


class HistoryRequest(Message):
    id: RequestId
    type: Literal["history"]
    before: int | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_HISTORY_PAGE)] = DEFAULT_HISTORY_PAGE


class ExportRequest(Message):
    """The user's data, in pages (``cursor`` from the previous page); never the token."""

    id: RequestId
    type: Literal["export"]
    cursor: Annotated[Text, Field(max_length=256)] | None = None


class TickRequest(Message):
    """Run due work now (the extension's alarm); ``force`` also retries failed flattrs."""

    id: RequestId
    type: Literal["tick"]
    force: bool = False


class OpenDashboardRequest(Message):
    """Open the desktop dashboard (a separate process; the reply does not wait for it), or bring
    the open one to the front."""

    id: RequestId
    type: Literal["open_dashboard"]
    page: Literal["account", "queue", "history", "creators", "settings"] | None = None

"""Every message between the extension and the host, as pydantic models.

This module is the single source of the protocol: ``PROTOCOL.md`` documents it and
``protocol.schema.json`` (``flattr-host schema``) is generated from it for the extension's tests.

Requests carry ``id`` and a ``type`` (the discriminator). Replies are ``{id, ok: true, result}`` or
``{id, ok: false, error: {code, message}}``. The host pushes events ``{type: "event", event, data}``
that carry no ``id``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from . import PROTOCOL_VERSION, hello
from .accounts import BEARER_TOKEN_CHARS

# Figures of the protocol itself.
MAX_URL_LENGTH = 8192
MAX_TITLE_LENGTH = 1024
MAX_TOKEN_LENGTH = 4096
MAX_SEGMENTS_PER_MESSAGE = 200
# The most seconds one segment may carry, and exactly what the host counts of it (the extension
# splits longer stretches; tests on both sides read it from protocol.schema.json).
MAX_SEGMENT_SECONDS = 3600.0
MAX_VISITS_PER_MESSAGE = 100
MAX_HISTORY_PAGE = 200
DEFAULT_HISTORY_PAGE = 50


LONE_SURROGATE = "not well-formed Unicode (a lone surrogate)"


def _well_formed(value: Any) -> Any:
    """Refuse a lone surrogate (JSON allows ``\\ud800``): it cannot be stored, logged or echoed as
    UTF-8, and pydantic's own check only runs on constrained strings."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise PydanticCustomError(
                "lone_surrogate",
                LONE_SURROGATE + " at character {at}",
                {"at": exc.start},
            ) from None
    return value


# Every string the extension sends is one of these: well-formed Unicode.
Text = Annotated[str, BeforeValidator(_well_formed)]
Url = Annotated[Text, Field(min_length=1, max_length=MAX_URL_LENGTH)]
Title = Annotated[Text, Field(max_length=MAX_TITLE_LENGTH)]
RequestId = int | Annotated[Text, Field(max_length=64)]

# Stable error codes: the extension maps them to words; never rename one.
ErrorCode = Literal[
    "frame_too_large",
    "invalid_utf8",
    "invalid_json",
    "invalid_request",
    "unknown_type",
    "upgrade_required",
    "forbidden_caller",
    "untrusted_origin",
    "signed_out",
    "not_counted",
    "reply_too_large",
    "storage_error",
    "settings_invalid",
    "gui_unavailable",
    "internal_error",
]
ERROR_CODES: dict[ErrorCode, str] = {
    "frame_too_large": "the frame's announced length is over the host's cap; the host exits",
    "invalid_utf8": "the frame is not UTF-8",
    "invalid_json": "the frame is not JSON",
    "invalid_request": "the message does not match the schema (details in message)",
    "unknown_type": "no such request type",
    "upgrade_required": "extension and host speak different protocol versions (see command)",
    "forbidden_caller": "the calling extension is not allowed to use this host; the host exits",
    "untrusted_origin": "a token that did not come from a top-level https://flattr.com page",
    "signed_out": "the request needs a signed-in account",
    "not_counted": "the page or site does not count (see reason)",
    "reply_too_large": "the reply would exceed 1 MiB; ask for a smaller page",
    "storage_error": "the database could not be written; nothing was acknowledged",
    "settings_invalid": (
        "the host's settings.json is unusable (message: file, line, column, what is wrong); "
        "every request gets this until it is fixed, or moved aside with command"
    ),
    "gui_unavailable": "the dashboard's optional gui extra is not installed (see command)",
    "internal_error": "a bug in the host; the message is in the host's log",
}
assert set(ERROR_CODES) == set(get_args(ErrorCode)), "every error code has its description"

# Why nothing is being sent (QueueState.hold).
HoldReason = Literal[
    "backoff",
    "rate_limited",
    "refused",
    "signed_out",
    "subscription_inactive",
    "waiting_for_account",
]
# The holds a flush (`tick` with force: "Retry now") lifts; a rate limit is the server's to lift.
FLUSH_LIFTS: tuple[HoldReason, ...] = ("backoff", "subscription_inactive", "refused")


class Message(BaseModel):
    # defer_build: each model pays for its validator on first use, not at import (idle memory).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


# --- requests -------------------------------------------------------------------------------


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


def parse_request(message: dict[str, Any]) -> Message:
    """Validate one request. Dispatching on ``type`` ourselves (rather than through a TypeAdapter
    of the union) builds only the validators of the requests actually used: idle memory matters."""
    tag = message.get("type")
    model = REQUEST_MODELS.get(tag) if isinstance(tag, str) else None
    if model is None:
        raise _bad_tag(message)
    return model.model_validate(message)


def _bad_tag(message: dict[str, Any]) -> ValidationError:
    """The error the discriminated union itself gives for a missing or unknown ``type``."""
    if "type" not in message:
        line: Any = {"type": "union_tag_not_found", "loc": (), "input": message}
        line["ctx"] = {"discriminator": "'type'"}
    else:
        expected = ", ".join(f"'{name}'" for name in REQUEST_MODELS)
        line = {"type": "union_tag_invalid", "loc": (), "input": message}
        line["ctx"] = {
            "discriminator": "'type'",
            "tag": str(message["type"]),
            "expected_tags": expected,
        }
    return ValidationError.from_exception_data("Request", [line])


def describe_errors(exc: ValidationError, whole: str = "message") -> str:
    """Where and why, for people: ``segments.0.seconds: Input should be ...``. Never the input
    itself; a field name with a lone surrogate is escaped, so the reply can be sent as UTF-8."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err["loc"]) or whole
        # pydantic's words for a lone surrogate in a key or a constrained string
        why = LONE_SURROGATE if err["type"] == "string_unicode" else err["msg"]
        parts.append(f"{where}: {why}")
    return "; ".join(parts).encode("utf-8", "backslashreplace").decode("utf-8")


# --- results --------------------------------------------------------------------------------


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


# --- replies and events ---------------------------------------------------------------------


class ErrorBody(Message):
    code: ErrorCode
    message: str
    command: str | None = Field(None, description="the exact command that fixes it, if any")


class OkReply(Message):
    id: RequestId | None
    ok: Literal[True]
    result: dict[str, Any]


class ErrorReply(Message):
    id: RequestId | None
    ok: Literal[False]
    error: ErrorBody


class Event(Message):
    type: Literal["event"]
    event: Literal["signed_in", "signed_out", "subscription", "queue"]
    data: dict[str, Any]


# Every request type, once: its request model and its result model. The parser, the schema and
# the names below derive from it; tests check that the Service has an ``_on_<type>`` handler for
# each, that protocol.js builds each and that PROTOCOL.md documents each.
_REQUESTS: tuple[tuple[type[Message], type[Message]], ...] = (
    (HelloRequest, HelloResult),
    (TokenRequest, AccountState),
    (SubscriptionRequest, AccountState),
    (SignOutRequest, AccountState),
    (AttentionRequest, AttentionResult),
    (VisitsRequest, VisitsResult),
    (SetVisitFlattrsRequest, VisitFlattrsState),
    (FlattrNowRequest, FlattrNowResult),
    (PageStatusRequest, PageStatus),
    (SetSiteRequest, SiteEntry),
    (SitesRequest, SitesResult),
    (SetModeRequest, SitesResult),
    (StatusRequest, StatusResult),
    (HistoryRequest, HistoryResult),
    (ExportRequest, ExportResult),
    (TickRequest, TickResult),
    (OpenDashboardRequest, DashboardOpened),
)
REQUEST_MODELS: dict[str, type[Message]] = {
    get_args(model.model_fields["type"].annotation)[0]: model for model, _ in _REQUESTS
}
RESULTS: dict[str, type[Message]] = {
    type_: result for type_, (_, result) in zip(REQUEST_MODELS, _REQUESTS, strict=True)
}
REQUEST_TYPES = frozenset(REQUEST_MODELS)
# The discriminated union of every request, for the schema (parse_request dispatches itself).
Request: Any = Annotated[Union[tuple(REQUEST_MODELS.values())], Field(discriminator="type")]  # noqa: UP007


def json_schema() -> dict[str, Any]:
    """The whole protocol as one JSON Schema document (draft 2020-12)."""
    defs: dict[str, Any] = {}

    def add(name: str, schema_of: Any) -> dict[str, str]:
        schema = TypeAdapter(schema_of).json_schema(ref_template="#/$defs/{model}")
        defs.update(schema.pop("$defs", {}))
        defs[name] = schema
        return {"$ref": f"#/$defs/{name}"}

    request = add("Request", Request)
    results = {kind: add(model.__name__, model) for kind, model in RESULTS.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://flattr-companion.org/protocol.schema.json",
        "title": "Flattr Companion native-messaging protocol",
        "description": __doc__,
        "protocol_version": PROTOCOL_VERSION,
        "error_codes": ERROR_CODES,
        "flush_lifts": list(FLUSH_LIFTS),
        "oneOf": [
            {"title": "request (extension → host)", **request},
            {"title": "ok reply (host → extension)", **add("OkReply", OkReply)},
            {"title": "error reply (host → extension)", **add("ErrorReply", ErrorReply)},
            {"title": "event (host → extension)", **add("Event", Event)},
        ],
        "results": results,
        "$defs": dict(sorted(defs.items())),
    }


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"

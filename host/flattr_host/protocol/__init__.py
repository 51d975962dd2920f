"""Every message between the extension and the host, as pydantic models.

This module is the single source of the protocol: ``PROTOCOL.md`` documents it and
``protocol.schema.json`` (``flattr-host schema``) is generated from it for the extension's tests.

Requests carry ``id`` and a ``type`` (the discriminator). Replies are ``{id, ok: true, result}`` or
``{id, ok: false, error: {code, message}}``. The host pushes events ``{type: "event", event, data}``
that carry no ``id``.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError

from .requests import (
    AttentionRequest,
    ExportRequest,
    FlattrNowRequest,
    HelloRequest,
    HistoryRequest,
    OpenDashboardRequest,
    PageStatusRequest,
    SetModeRequest,
    SetSiteRequest,
    SetVisitFlattrsRequest,
    SignOutRequest,
    SitesRequest,
    StatusRequest,
    SubscriptionRequest,
    TickRequest,
    TokenRequest,
    VisitsRequest,
)
from .results import (
    AccountState,
    AttentionResult,
    DashboardOpened,
    ExportResult,
    FlattrNowResult,
    HelloResult,
    HistoryResult,
    PageStatus,
    SiteEntry,
    SitesResult,
    StatusResult,
    TickResult,
    VisitFlattrsState,
    VisitsResult,
)
from .vocabulary import Message

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

"""The words every message is built from: the protocol's bounds, well-formed strings, the error
codes, the reasons nothing is sent, the base model, and how a validation error is worded."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

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
    "gui_unavailable": (
        "the dashboard cannot run: the gui extra is missing or its window could not start "
        "(see message and command)"
    ),
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

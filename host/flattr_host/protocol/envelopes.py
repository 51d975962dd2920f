"""What carries a result, an error or news on the wire: the two replies and the pushed event."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .vocabulary import ErrorCode, Message, RequestId


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

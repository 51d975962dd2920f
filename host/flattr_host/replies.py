"""The three shapes the host sends (see ``protocol``), built without importing pydantic."""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing before hello
if TYPE_CHECKING:
    from typing import Any

# The longest string id a request may carry (``protocol.vocabulary.RequestId``); a longer one is
# not echoed.
MAX_ID_LENGTH = 64


def ok(request_id: Any, result: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def error(request_id: Any, code: str, message: str, command: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if command:
        body["command"] = command
    return {"id": request_id, "ok": False, "error": body}


def event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": "event", "event": name, "data": data}


def request_id(message: Any) -> Any:
    """The request's id when it has a usable one, else None (still answered, with id null): not
    a string over the schema's length, nor one with a lone surrogate (the reply could not be
    encoded as UTF-8)."""
    if isinstance(message, dict):
        rid = message.get("id")
        if isinstance(rid, int) and not isinstance(rid, bool):
            return rid
        if isinstance(rid, str) and len(rid) <= MAX_ID_LENGTH and _well_formed(rid):
            return rid
    return None


def _well_formed(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
